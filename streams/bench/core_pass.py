"""The worker's per-event call into the pure core, without Faust.

``IngestStage._handle_one`` decodes each message with ``schemas.intake.decode_event``,
calls ``streams.core.decisions.process.process`` with the definitions in force for the
event's type, the message catalogue, the send policy and the risk policy, and serialises
the result's decisions, commands and interventions as their JSON models. ``CorePass``
does the same calls, built from the same settings, for what runs the core outside the
worker: the Quix Streams peer (``streams.bench.quix_core``) and the sequential reference
fold the final-state check compares the worker's table with (``reference_fold``).

It imports no framework, so the Quix peer's interpreter (its own virtualenv) loads no
Faust; its policies are the worker's (``streams.runtime.policies``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from schemas.events import Event
from schemas.intake import Rejection, decode_event
from schemas.settings import Settings
from schemas.triggers import TriggerDefinition
from streams.core.decisions.process import process
from streams.core.decisions.result import Result
from streams.core.decisions.send_policy import SendPolicy
from streams.core.rendering import Catalogue, default_catalogue
from streams.core.risk.policy import InterventionPolicy
from streams.core.state.analytics import Analytics
from streams.core.state.record import UserState
from streams.core.triggers.overlay import DefinitionOverlay
from streams.runtime.policies import intervention_policy, send_policy, visit_policy

#: Output kinds, in the order the worker sends a result's messages.
DECISIONS, COMMANDS, INTERVENTIONS = "decisions", "commands", "interventions"


@dataclass(frozen=True, slots=True)
class CorePass:
    """What the worker passes to ``process`` besides the state and the event.

    Attributes:
        definitions: Definitions in force by event type (the shipped catalogue; the
            bench publishes nothing to ``triggers.definitions``).
        catalogue: Message templates.
        policy: Frequency caps and quiet hours.
        risk_policy: Risk tiers, trend and cool-offs.
        max_event_age_seconds: Older events build state only.
        analytics: How visits are cut, scores weighed and users labelled.
    """

    definitions: Mapping[str, list[TriggerDefinition]]
    catalogue: Catalogue
    policy: SendPolicy
    risk_policy: InterventionPolicy
    max_event_age_seconds: float
    analytics: Analytics = field(default_factory=Analytics)

    @classmethod
    def from_settings(cls, settings: Settings) -> CorePass:
        """Build the pass the worker would run with ``settings``."""
        catalogue = default_catalogue()
        return cls(
            definitions=DefinitionOverlay.shipped_with(catalogue).by_event_type([]),
            catalogue=catalogue,
            policy=send_policy(settings),
            risk_policy=intervention_policy(settings),
            max_event_age_seconds=settings.max_event_age_seconds,
            analytics=Analytics(visits=visit_policy(settings)),
        )

    def step(self, state: UserState, event: Event, now: datetime) -> Result:
        """Fold ``event`` into ``state`` (in place) and decide, as the worker does."""
        return process(
            state,
            event,
            self.definitions.get(event.type, ()),
            self.catalogue,
            now=now,
            max_event_age_seconds=self.max_event_age_seconds,
            policy=self.policy,
            interventions=self.risk_policy,
            analytics=self.analytics,
        )


def serialised_outputs(result: Result) -> list[tuple[str, bytes]]:
    """Return a result's messages as ``(kind, JSON bytes)``, serialised as the worker does."""
    outputs = [(DECISIONS, d.model_dump_json().encode()) for d in result.decisions]
    outputs += [(COMMANDS, c.model_dump_json().encode()) for c in result.commands]
    outputs += [(INTERVENTIONS, i.model_dump_json().encode()) for i in result.interventions]
    return outputs


def reference_fold(
    messages: Iterable[tuple[bytes, bytes]], core: CorePass, now: datetime
) -> dict[bytes, UserState]:
    """Fold messages one by one through the pure core; return every user's final record.

    The sequential reference a worker's table must equal: no batching, no Kafka.
    Rejected messages change no record, as in the worker.

    Args:
        messages: ``(key, value)`` in the order one partition (or the producer) had them.
        core: What to pass to ``process``.
        now: Processing time for every event (only the stale-event horizon uses it).
    """
    states: dict[bytes, UserState] = {}
    for key, value in messages:
        event, _ = decode_event(key, value, now=now)
        if isinstance(event, Rejection):
            continue
        user = event.user_id.encode()
        state = states.get(user) or UserState()
        if core.step(state, event, now).applied:
            states[user] = state
    return states
