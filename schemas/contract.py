"""What travels on every topic: its messages, what keys them, who writes and who reads them.

``schemas.topics`` says how each topic is laid out; this says what is on it. The AsyncAPI
document (``schemas.asyncapi``), the JSON Schema files (``schemas.export``) and the
producer helper (``schemas.client``) are all built from the two, so they cannot disagree.
A topic added to ``schemas.topics.ALL_TOPICS`` needs its entry here (the generator refuses
to run without one, naming the topic); a new dead-letter topic gets its entry by itself.
Then ``make schemas`` regenerates the published files.

The keys are read off the code that produces each topic (``streams/runtime``,
``streams/cli``), and a unit test holds them to it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel

from schemas import examples
from schemas.alerts import AlertProfile, AlertRecommendation, ModelPromotion
from schemas.commands import SendCommunication, StartIntervention
from schemas.events import Event
from schemas.experiments import ExperimentAssignment, ExperimentConversion, ExperimentDefinition
from schemas.funnels import FunnelDefinition, FunnelStep
from schemas.learning import ModelCheckpoint, checkpoint_key
from schemas.patterns import PatternRules
from schemas.peers import PeerDistributions
from schemas.personalization import PersonalizationRules
from schemas.privacy import ErasureRequest
from schemas.records import DeadLetter, TriggerDecision
from schemas.scores import ScoreModel
from schemas.segments import SegmentChange, SegmentDefinition
from schemas.templates import MessageTemplate
from schemas.topics import (
    ALERTS_PROFILES,
    ALERTS_RECOMMENDATIONS,
    ALL_TOPICS,
    BEHAVIOR_EVENTS,
    COMMS_COMMANDS,
    COMMS_OUTCOMES,
    DEAD_LETTER_TOPIC,
    EXPERIMENTS_ASSIGNMENTS,
    EXPERIMENTS_CONVERSIONS,
    FUNNELS_STEPS,
    INTERVENTIONS_COMMANDS,
    MODELS_ACTIVE,
    MODELS_CHECKPOINTS,
    RISK_SCORES,
    SEGMENTS_CHANGES,
    TEMPLATES_DEFINITIONS,
    TRIGGER_DECISIONS,
    TRIGGERS_DEFINITIONS,
    USERS_ANALYTICS,
    USERS_PROFILES,
    TopicSpec,
)
from schemas.triggers import TriggerDefinition
from schemas.user_analytics import UserAnalytics

#: Nudge's own processes, as the operations of the AsyncAPI document name them.
Component = Literal["worker", "sink", "cli"]
COMPONENTS: Mapping[str, str] = MappingProxyType(
    {
        "worker": "the stream worker (`nudge worker`): ingest, timer, model feeds",
        "sink": "the sink workers (`nudge sink`): Kafka to PostgreSQL",
        "cli": "the `nudge` command (`triggers|segments|experiments|funnels|scores|patterns|"
        "personalization apply`, `peers refresh`, `models promote`, `... list|show`)",
    }
)
#: Who else writes or reads Nudge's topics.
OUTSIDE: Mapping[str, str] = MappingProxyType(
    {
        "producers": "the services that report what users do",
        "risk_model": "a risk model scoring users' risk of missing payments",
        "notification_services": "the services that send messages and report what happened",
        "apps": "the product's apps, showing recommendations",
    }
)
#: Keys of ``triggers.definitions`` entries other than trigger definitions (trigger ids
#: are bare). ``streams.core.state.analytics`` reads them; a test holds the two equal.
SEGMENT_PREFIX = "segment:"
EXPERIMENT_PREFIX = "experiment:"
FUNNEL_PREFIX = "funnel:"
SCORES_KEY = "analytics:scores"
PATTERNS_KEY = "analytics:patterns"
PERSONALIZATION_KEY = "analytics:personalization"
PEERS_KEY = "analytics:peers"


@dataclass(frozen=True, slots=True)
class Message:
    """One kind of message on a topic.

    Attributes:
        model: The pydantic model every message of this kind validates against.
        schema_file: The JSON Schema file written for ``model`` (``schemas.export``).
        key: What the Kafka key holds, in words (UTF-8 text unless said otherwise).
        key_of: The key of a message, as text (for the examples and the producer helper).
        examples: Build the examples shown with it (``schemas.examples``); each one's
            name and docstring name and describe its example.
        summary: One line on what one message says.
    """

    model: type[BaseModel]
    schema_file: str
    key: str
    key_of: Callable[[Any], str]
    examples: tuple[Callable[[], BaseModel], ...]
    summary: str

    @property
    def name(self) -> str:
        """The message's name in the document: its model's class name."""
        return self.model.__name__


@dataclass(frozen=True, slots=True)
class TopicContract:
    """What one topic carries and who uses it.

    Attributes:
        spec: The topic's layout (``schemas.topics``).
        summary: One line on what the topic is for.
        messages: Every kind of message on it; empty only for a topic kept ``reserved``.
        senders: Nudge's processes that write it.
        receivers: Nudge's processes that read it.
        outside_senders: Who else writes it (keys of ``OUTSIDE``).
        outside_receivers: Who else reads it (keys of ``OUTSIDE``).
        reserved: Why a topic is created but carries nothing yet ("" when it carries).
    """

    spec: TopicSpec
    summary: str
    messages: tuple[Message, ...]
    senders: tuple[Component, ...] = ()
    receivers: tuple[Component, ...] = ()
    outside_senders: tuple[str, ...] = ()
    outside_receivers: tuple[str, ...] = ()
    reserved: str = ""


def _user_id(message: Any) -> str:
    user_id: str = message.user_id
    return user_id


def _original_key(letter: DeadLetter) -> str:
    return "" if letter.key is None else base64.b64decode(letter.key).decode(errors="replace")


USER_KEY = "the message's `user_id` (UTF-8): one user's messages share a partition, in order"


def _event(summary: str, *built: Callable[[], BaseModel]) -> Message:
    return Message(Event, "event.schema.json", USER_KEY, _user_id, built, summary)


def _erasure() -> Message:
    return Message(
        ErasureRequest, "erasure_request.schema.json", USER_KEY, _user_id,
        (examples.erasure_request,),
        "a control message of `nudge users forget`: the worker deletes the user's record "
        "(docs/privacy.md); it is not an event, and nothing counts it as one",
    )  # fmt: skip


def _keyed_by_user(
    model: type[BaseModel], schema_file: str, summary: str, *built: Callable[[], BaseModel]
) -> Message:
    return Message(model, schema_file, USER_KEY, _user_id, built, summary)


def _definition(
    model: type[BaseModel],
    key: str,
    key_of: Callable[[Any], str],
    built: Callable[[], BaseModel],
    summary: str,
) -> Message:
    return Message(model, schema_file_of(model), key, key_of, (built,), summary)


def schema_file_of(model: type[BaseModel]) -> str:
    """Return a model's JSON Schema file name (``ModelCheckpoint``: ``model_checkpoint...``)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", model.__name__).lower() + ".schema.json"


DEAD_LETTER = Message(
    DeadLetter,
    "dead_letter.schema.json",
    "the refused message's own key, cut to 1 KiB (none if it had none)",
    _original_key,
    (examples.dead_letter_example,),
    "an input message that could not be used: its bytes (base64), where it was read, why",
)

DEFINITIONS = (
    _definition(
        TriggerDefinition, "the trigger's `id`",
        lambda d: d.id, examples.trigger_definition, "a trigger definition",
    ),
    _definition(
        SegmentDefinition, f"`{SEGMENT_PREFIX}` + the id",
        lambda d: SEGMENT_PREFIX + d.id, examples.segment_definition, "a live segment",
    ),
    _definition(
        ExperimentDefinition,
        f"`{EXPERIMENT_PREFIX}` + the id", lambda d: EXPERIMENT_PREFIX + d.id,
        examples.experiment_definition, "an experiment",
    ),
    _definition(
        FunnelDefinition, f"`{FUNNEL_PREFIX}` + the id",
        lambda d: FUNNEL_PREFIX + d.id, examples.funnel_definition, "a funnel",
    ),
    _definition(
        ScoreModel, f"`{SCORES_KEY}`", lambda _: SCORES_KEY,
        examples.score_model, "the behaviour scores' weights",
    ),
    _definition(
        PatternRules, f"`{PATTERNS_KEY}`", lambda _: PATTERNS_KEY,
        examples.pattern_rules, "the pattern rules",
    ),
    _definition(
        PersonalizationRules, f"`{PERSONALIZATION_KEY}`",
        lambda _: PERSONALIZATION_KEY, examples.personalization_rules,
        "the personalization rules",
    ),
    _definition(
        PeerDistributions, f"`{PEERS_KEY}`",
        lambda _: PEERS_KEY, examples.peer_distributions, "the peer distributions",
    ),
)  # fmt: skip

_CONTRACTS = (
    TopicContract(
        BEHAVIOR_EVENTS,
        "What users do: every input event but risk scores and outcomes.",
        (
            _event(
                "an input event (transaction, page view, profile update...)",
                examples.transaction,
                examples.page_view,
                examples.profile_update,
            ),
            _erasure(),
        ),
        senders=("cli",),
        receivers=("worker", "sink"),
        outside_senders=("producers",),
    ),  # fmt: skip
    TopicContract(
        RISK_SCORES,
        "Risk scores from a risk model: events whose payload is a `risk_score`.",
        (_event("a `risk_score` event", examples.risk_score), _erasure()),
        senders=("cli",),
        receivers=("worker",),
        outside_senders=("risk_model",),
    ),
    TopicContract(
        COMMS_OUTCOMES,
        "What happened to the commands: events whose payload is a `comms_outcome`.",
        (_event("a `comms_outcome` event", examples.comms_outcome), _erasure()),
        senders=("cli",),
        receivers=("worker", "sink"),
        outside_senders=("notification_services",),
    ),
    TopicContract(
        USERS_PROFILES,
        "Users' profiles (compacted).",
        (),
        reserved="created, but nothing writes or reads it yet: profiles arrive as "
        "`profile_update` events on `behavior.events`",
    ),
    TopicContract(
        TRIGGERS_DEFINITIONS,
        "The definitions every worker applies without a redeploy; a null value (tombstone) "
        "removes an entry and brings back the shipped one.",
        DEFINITIONS,
        senders=("cli",),
        receivers=("worker", "cli"),
    ),
    TopicContract(
        TEMPLATES_DEFINITIONS,
        "The message templates every worker renders with, newest version in force, without "
        "a redeploy (`nudge templates apply`); an older version than the shipped one is ignored.",
        (
            _definition(
                MessageTemplate,
                "the template's `id`",
                lambda t: t.id,
                examples.message_template,
                "a message template version",
            ),
        ),
        senders=("cli",),
        receivers=("worker", "cli"),
    ),  # fmt: skip
    TopicContract(
        COMMS_COMMANDS,
        "Send one rendered message to one user on one channel; deduplicate on `command_id`.",
        (
            _keyed_by_user(
                SendCommunication,
                "communication_command.schema.json",
                "a communication command",
                examples.communication,
            ),
        ),
        senders=("worker",),
        receivers=("sink",),
        outside_receivers=("notification_services",),
    ),  # fmt: skip
    TopicContract(
        INTERVENTIONS_COMMANDS,
        "Start one risk intervention; deduplicate on `command_id`.",
        (
            _keyed_by_user(
                StartIntervention,
                "intervention_command.schema.json",
                "an intervention command",
                examples.intervention,
            ),
        ),
        senders=("worker",),
        receivers=("sink",),
        outside_receivers=("notification_services",),
    ),  # fmt: skip
    TopicContract(
        ALERTS_RECOMMENDATIONS,
        "Alerts recommended to users by the alert recommender.",
        (
            _keyed_by_user(
                AlertRecommendation,
                "alert_recommendation.schema.json",
                "an alert recommended to a user",
                examples.alert_recommendation,
            ),
        ),
        senders=("worker",),
        receivers=("sink",),
        outside_receivers=("apps",),
    ),  # fmt: skip
    TopicContract(
        ALERTS_PROFILES,
        "Each user's recommender features and enabled alerts, the latest (compacted).",
        (
            _keyed_by_user(
                AlertProfile,
                "alert_profile.schema.json",
                "a user's alert profile",
                examples.alert_profile,
            ),
        ),
        senders=("worker",),
        receivers=("sink",),
    ),  # fmt: skip
    TopicContract(
        MODELS_ACTIVE,
        "The version of each model in force (compacted); every worker follows it.",
        (
            _definition(
                ModelPromotion,
                "the model's `name`",
                lambda m: m.name,
                examples.model_promotion,
                "a model version put in force",
            ),
        ),
        senders=("cli",),
        receivers=("worker",),
    ),  # fmt: skip
    TopicContract(
        MODELS_CHECKPOINTS,
        "Global online models' state per input partition (compacted), restored at start.",
        (
            _definition(
                ModelCheckpoint,
                "`model/partition` (the model's name, `/`, the input partition)",
                lambda c: checkpoint_key(c.model, c.partition),
                examples.model_checkpoint,
                "a global model's state for one input partition",
            ),
        ),
        senders=("worker",),
        receivers=("worker", "sink"),
    ),  # fmt: skip
    TopicContract(
        SEGMENTS_CHANGES,
        "Users joining and leaving live segments, with why.",
        (
            _keyed_by_user(
                SegmentChange,
                "segment_change.schema.json",
                "a user joined or left a segment",
                examples.segment_change,
            ),
        ),
        senders=("worker",),
        receivers=("sink",),
    ),  # fmt: skip
    TopicContract(
        USERS_ANALYTICS,
        "Each user's scores, pattern and segments: the latest, and the history.",
        (
            _keyed_by_user(
                UserAnalytics,
                "user_analytics.schema.json",
                "a user's analytics at one time",
                examples.user_analytics,
            ),
        ),
        senders=("worker",),
        receivers=("sink",),
    ),  # fmt: skip
    TopicContract(
        TRIGGER_DECISIONS,
        "Every evaluation that fired or was suppressed, with the reason and the numbers.",
        (
            _keyed_by_user(
                TriggerDecision,
                "trigger_decision.schema.json",
                "a trigger decision",
                examples.trigger_decision,
                examples.suppressed_decision,
            ),
        ),
        senders=("worker",),
        receivers=("sink",),
    ),  # fmt: skip
    TopicContract(
        EXPERIMENTS_ASSIGNMENTS,
        "Each user's arm in an experiment, once.",
        (
            _keyed_by_user(
                ExperimentAssignment,
                "experiment_assignment.schema.json",
                "a user's arm in an experiment",
                examples.experiment_assignment,
            ),
        ),
        senders=("worker",),
        receivers=("sink",),
    ),  # fmt: skip
    TopicContract(
        EXPERIMENTS_CONVERSIONS,
        "Conversions credited to an arm, once per user, experiment and metric.",
        (
            _keyed_by_user(
                ExperimentConversion,
                "experiment_conversion.schema.json",
                "a conversion credited to an arm",
                examples.experiment_conversion,
            ),
        ),
        senders=("worker",),
        receivers=("sink",),
    ),  # fmt: skip
    TopicContract(
        FUNNELS_STEPS,
        "Funnel steps reached, completions and drops.",
        (
            _keyed_by_user(
                FunnelStep, "funnel_step.schema.json", "a funnel step", examples.funnel_step
            ),
        ),
        senders=("worker",),
        receivers=("sink",),
    ),
)


def _dead_letters(contracts: tuple[TopicContract, ...]) -> tuple[TopicContract, ...]:
    """Return the contract of every dead-letter topic not described in ``contracts``."""
    described = {contract.spec for contract in contracts}
    return tuple(
        TopicContract(
            letters,
            f"Messages of `{source.name}` the worker could not use, with the reason.",
            (DEAD_LETTER,),
            senders=("worker",),
            receivers=("sink",),
        )
        for source, letters in DEAD_LETTER_TOPIC.items()
        if letters not in described
    )


#: Topic name -> what it carries: every topic of ``_CONTRACTS`` and every dead-letter topic.
CONTRACTS: Mapping[str, TopicContract] = MappingProxyType(
    {c.spec.name: c for c in (*_CONTRACTS, *_dead_letters(_CONTRACTS))}
)

#: Event type -> the topic a producer sends it to; every other type goes to
#: ``behavior.events``. (The worker reads the three alike; the split lets a risk model and
#: notification services each write their own topic.)
EVENT_TOPICS: Mapping[str, TopicSpec] = MappingProxyType(
    {"risk_score": RISK_SCORES, "comms_outcome": COMMS_OUTCOMES}
)


def event_topic(event_type: str) -> TopicSpec:
    """Return the topic an event of ``event_type`` is published to."""
    return EVENT_TOPICS.get(event_type, BEHAVIOR_EVENTS)


class MissingContract(LookupError):
    """A topic of ``schemas.topics.ALL_TOPICS`` has no entry in ``CONTRACTS``."""


def topic_contracts() -> tuple[TopicContract, ...]:
    """Return the contract of every topic, in the order of ``ALL_TOPICS``.

    Raises:
        MissingContract: A topic has no entry; the message names it and where to add it.
    """
    missing = [spec.name for spec in ALL_TOPICS if spec.name not in CONTRACTS]
    if missing:
        msg = (
            f"no contract for topic(s) {', '.join(missing)}: describe what they carry in "
            "schemas/contract.py (_CONTRACTS), then run `make schemas`"
        )
        raise MissingContract(msg)
    return tuple(CONTRACTS[spec.name] for spec in ALL_TOPICS)


SchemaMode = Literal["validation", "serialization"]


def schema_models() -> dict[str, tuple[type[BaseModel], SchemaMode]]:
    """Return JSON Schema file name -> model and the mode its schema is written in.

    A message written outside the worker (by producers, a risk model, the ``nudge``
    command) is described as Nudge *accepts* it (``validation``: an amount may be a JSON
    number or a string); one the worker writes, as it is *sent* (``serialization``).
    """
    found: dict[str, tuple[type[BaseModel], SchemaMode]] = {}
    for contract in CONTRACTS.values():
        accepted = bool(contract.outside_senders) or "cli" in contract.senders
        for message in contract.messages:
            model, mode = found.get(message.schema_file, (message.model, "serialization"))
            found[message.schema_file] = (model, "validation" if accepted else mode)
    return dict(sorted(found.items()))
