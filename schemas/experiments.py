"""Experiments on triggered flows, as data: what varies, the arms, who is in, what counts.

An experiment names one trigger (or ``*``: every trigger's messages, as the global control
group does) and what its arms change about the trigger's messages:

- ``template``: each arm words the message with its own templates (per channel);
- ``channel``: each arm sends on a subset of the trigger's channels;
- ``delay``: each arm waits its own delay before sending;
- ``send_time``: each arm sends at its own local hour (the next one after the firing);
- ``message``: one arm gets no message at all (the control), the others the trigger's.

Every user the trigger would send to is **exposed**: the decision on ``trigger.decisions``
names the experiment and the arm, for the control arm too (recorded as suppressed with the
reason ``holdout``: no message leaves). A user's arm is chosen once, at their first
exposure (``allocation``), kept in their record, and published once as an
``ExperimentAssignment`` on ``experiments.assignments``. The first event of a success metric's
types within the metric's ``window`` after that exposure is credited to the arm, once per
user, experiment and metric (``ExperimentConversion`` on ``experiments.conversions``).
The sink keeps both; ``nudge report experiments`` computes the statistics.

Definitions travel on the definitions topic under the key ``experiment:<id>`` (``nudge
experiments apply``), like segments; ``streams/catalogue/experiments.yaml`` ships none
running by default.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from schemas.events import EVENT_TYPES, Channel, SegmentId
from schemas.triggers import Duration
from schemas.validation import validate_listed, validate_model

#: Most experiments in force (running or stopped but still attributing) at once.
MAX_EXPERIMENTS_IN_FORCE = 32
#: Most arms in one experiment.
MAX_VARIANTS = 8
#: Longest attribution window.
MAX_WINDOW_SECONDS = 90 * 86_400.0
#: ``trigger: "*"``: every trigger's messages (a global control group).
EVERY_TRIGGER = "*"
#: The experiment the global control group is recorded under (``NUDGE_GLOBAL_CONTROL_PERCENT``).
GLOBAL_CONTROL_ID = "global_control"

ExperimentId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{2,63}$")]
VariantId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
TemplateId = Annotated[str, Field(pattern=r"^[a-z0-9_]+\.[a-z_]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Varies(StrEnum):
    """What an experiment's arms change about the trigger's messages."""

    TEMPLATE = "template"
    CHANNEL = "channel"
    DELAY = "delay"
    SEND_TIME = "send_time"
    MESSAGE = "message"


class Allocation(StrEnum):
    """How a user's arm is chosen, at their first exposure (then kept).

    ``hash`` (default): by a hash of experiment and user, so the same user always gets the
    same arm, on every worker, without any state. ``random``: by a hash of the exposure's
    cause (the event id), so it is random across users yet the same on a replay.
    ``segment``: an arm that names ``segments`` takes the users in them (the first such
    arm in order); the others are hashed among the arms that name none. ``behavior``: the
    same with ``patterns`` (the user's pattern label). The last two are not randomised:
    their lifts are associations, and the report says so.
    """

    HASH = "hash"
    RANDOM = "random"
    SEGMENT = "segment"
    BEHAVIOR = "behavior"


class Variant(_Strict):
    """One arm: its share of users and what it changes (only the field ``varies`` names)."""

    id: VariantId
    weight: Annotated[float, Field(gt=0, le=1_000_000)] = 1.0
    """Relative share of the users allocated by hash or at random."""
    control: bool = False
    """The arm the others are compared with: exactly one per experiment."""
    message: bool = True
    """``varies: message``: False for the arm that gets no message."""
    templates: dict[Channel, TemplateId] = {}
    """``varies: template``: the template per channel (others keep the trigger's)."""
    channels: list[Channel] = []
    """``varies: channel``: the trigger's channels this arm sends on."""
    delay: Duration | None = None
    """``varies: delay``: the arm's delay, instead of the trigger's."""
    send_hour: Annotated[int, Field(ge=0, le=23)] | None = None
    """``varies: send_time``: the local hour (user's time zone) the arm sends at."""
    segments: list[SegmentId] = []
    """``allocation: segment``: users in these segments get this arm."""
    patterns: list[str] = []
    """``allocation: behavior``: users with these pattern labels get this arm."""


#: Comms outcomes a metric may count (``comms_outcome`` events' ``outcome``).
OutcomeName = Literal["opened", "clicked", "replied", "converted", "accepted_offer", "engaged"]


class Metric(_Strict):
    """A success metric: the first qualifying event within ``window`` after exposure."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    events: list[str] = []
    """Conversion event types (``purchase``, ``application_complete``...)."""
    outcomes: list[OutcomeName] = []
    """Comms outcomes of the experiment's own messages (``converted``, ``clicked``...)."""
    window: Duration = 7 * 86_400.0
    value: bool = False
    """Credit the converting event's amount (``amount`` or ``value``) as the value."""

    @model_validator(mode="after")
    def _valid(self) -> Metric:
        unknown = sorted(set(self.events) - set(EVENT_TYPES))
        if unknown:
            msg = f"events: unknown event type(s): {', '.join(unknown)}"
            raise ValueError(msg)
        if not self.events and not self.outcomes:
            msg = "a metric counts conversion events, comms outcomes, or both"
            raise ValueError(msg)
        if not 0 < self.window <= MAX_WINDOW_SECONDS:
            msg = f"window: between 1s and {MAX_WINDOW_SECONDS / 86_400:.0f} days"
            raise ValueError(msg)
        return self


class ExperimentDefinition(_Strict):
    """One experiment on a triggered flow."""

    id: ExperimentId
    name: Annotated[str, Field(min_length=1, max_length=120)]
    hypothesis: Annotated[str, Field(max_length=1000)] = ""
    status: Literal["running", "stopped"] = "running"
    """``stopped``: nobody else is exposed or assigned (they get the trigger's messages);
    conversions of users exposed before are still attributed until their windows close."""
    trigger: Annotated[str, Field(pattern=r"^([a-z][a-z0-9_]{2,63}|\*)$")]
    """The trigger whose messages it changes, or ``*`` for every trigger's."""
    varies: Varies
    allocation: Allocation = Allocation.HASH
    variants: Annotated[list[Variant], Field(min_length=2, max_length=MAX_VARIANTS)]
    target: list[SegmentId] = []
    """Only users in one of these segments take part; empty: everyone."""
    starts: AwareDatetime | None = None
    ends: AwareDatetime | None = None
    """Exposures count between these times (event time); open when not given."""
    metrics: Annotated[list[Metric], Field(min_length=1, max_length=4)]
    """The first is the primary metric: the sample size and the verdict are about it."""
    baseline_rate: Annotated[float, Field(gt=0, lt=1)] = 0.10
    """Expected conversion rate of the control arm, for the sample size."""
    minimum_detectable_effect: Annotated[float, Field(gt=0, lt=1)] = 0.05
    """Smallest absolute difference in conversion rate worth detecting (0.05 = 5 points)."""
    power: Annotated[float, Field(gt=0, lt=1)] = 0.80
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05

    @model_validator(mode="after")
    def _coherent(self) -> ExperimentDefinition:  # noqa: C901 - one rule a branch
        ids = [v.id for v in self.variants]
        if len(set(ids)) != len(ids):
            msg = "variants: two arms share an id"
            raise ValueError(msg)
        if sum(v.control for v in self.variants) != 1:
            msg = "variants: mark exactly one arm control: true"
            raise ValueError(msg)
        for index, variant in enumerate(self.variants):
            problem = _variant_problem(self.varies, variant)
            if problem:
                msg = f"variants.{index}: {problem}"
                raise ValueError(msg)
        if self.varies is Varies.MESSAGE:
            silent = [v for v in self.variants if not v.message]
            if len(silent) != 1 or not silent[0].control:
                msg = "variants: a message experiment has one arm without message, the control"
                raise ValueError(msg)
            if any(m.outcomes for m in self.metrics):
                msg = "metrics: the control arm gets no message, so it has no outcomes to count"
                raise ValueError(msg)
        if self.trigger == EVERY_TRIGGER and self.varies is not Varies.MESSAGE:
            msg = "trigger: '*' (every trigger) only varies message"
            raise ValueError(msg)
        if self.allocation in (Allocation.SEGMENT, Allocation.BEHAVIOR):
            by = "segments" if self.allocation is Allocation.SEGMENT else "patterns"
            if all(getattr(v, by) for v in self.variants):
                msg = f"variants: at least one arm names no {by}, for everyone else"
                raise ValueError(msg)
        if self.starts and self.ends and self.ends <= self.starts:
            msg = "ends: not after starts"
            raise ValueError(msg)
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            msg = "metrics: two metrics share a name"
            raise ValueError(msg)
        return self

    @property
    def control(self) -> Variant:
        """The control arm."""
        return next(v for v in self.variants if v.control)


def _variant_problem(varies: Varies, variant: Variant) -> str | None:  # noqa: PLR0911
    """Return why an arm does not fit what the experiment varies, or ``None``."""
    changed = {
        Varies.TEMPLATE: bool(variant.templates),
        Varies.CHANNEL: bool(variant.channels),
        Varies.DELAY: variant.delay is not None,
        Varies.SEND_TIME: variant.send_hour is not None,
        Varies.MESSAGE: not variant.message,
    }
    others = [kind.value for kind, on in changed.items() if on and kind is not varies]
    if others:
        return f"the experiment varies {varies.value}; this arm also changes {', '.join(others)}"
    if varies is Varies.CHANNEL and not variant.channels:
        return "a channel experiment's arm names its channels"
    if varies is Varies.DELAY and variant.delay is None and not variant.control:
        return "a delay experiment's arm gives its delay"
    if varies is Varies.SEND_TIME and variant.send_hour is None and not variant.control:
        return "a send_time experiment's arm gives its send_hour"
    if varies is Varies.TEMPLATE and not variant.templates and not variant.control:
        return "a template experiment's arm names its templates"
    if len(set(variant.channels)) != len(variant.channels):
        return "channels: named twice"
    for channel, template in variant.templates.items():
        if template.rpartition(".")[2] != channel.value:
            return f"templates: {template!r} is not a template for {channel.value}"
    return None


class _ArmMessage(BaseModel):
    """What both messages of an experiment say: whose arm, in which experiment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    message_id: str
    experiment_id: str
    variant: str
    user_id: str


class ExperimentAssignment(_ArmMessage):
    """A user's arm, recorded once: at their first exposure (``experiments.assignments``).

    ``message_id`` derives from experiment and user: one per user and experiment, ever.
    """

    trigger_id: str
    decision_id: str
    """The decision that exposed the user first."""
    exposed_at: AwareDatetime
    """Event time of that decision."""


class ExperimentConversion(_ArmMessage):
    """The first qualifying event of a metric after exposure (``experiments.conversions``).

    ``message_id`` derives from experiment, user and metric: one per user, experiment and
    metric.
    """

    metric: str
    converted_at: AwareDatetime
    exposed_at: AwareDatetime
    source_event_id: str
    event_type: str
    value: float | None = None
    """The converting event's amount, when the metric counts value."""


def validate_experiment(document: Any) -> ExperimentDefinition | list[str]:
    """Validate one experiment definition; return it, or its problems as ``path: reason``."""
    found = validate_model(ExperimentDefinition, document)
    if not isinstance(found, list) and found.id == GLOBAL_CONTROL_ID:
        return [f"id: {GLOBAL_CONTROL_ID!r} is the global control group's (a setting)"]
    return found


def validate_experiments(document: Any) -> tuple[ExperimentDefinition, ...] | list[str]:
    """Validate a file's ``experiments:`` list; return the definitions, or every problem."""
    found = validate_listed(document, "experiments", validate_experiment, MAX_EXPERIMENTS_IN_FORCE)
    if isinstance(found, list):
        return found
    return overlap_problems(list(found)) or found


def overlap_problems(definitions: list[ExperimentDefinition]) -> list[str]:
    """Return a problem for each trigger two running experiments both change."""
    owner: dict[str, str] = {}
    problems = []
    for each in sorted(definitions, key=lambda d: d.id):
        if each.status != "running" or each.trigger == EVERY_TRIGGER:
            continue
        if each.trigger in owner:
            problems.append(
                f"experiments: {owner[each.trigger]!r} and {each.id!r} both run on "
                f"trigger {each.trigger!r}; stop one"
            )
        owner.setdefault(each.trigger, each.id)
    return problems
