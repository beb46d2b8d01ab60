"""Records Nudge keeps about itself: every trigger decision and every dead letter."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict


class Outcome(StrEnum):
    """What an evaluation that matched its condition came to."""

    FIRED = "fired"
    SUPPRESSED = "suppressed"


class SuppressionReason(StrEnum):
    """Why a trigger whose condition held did not send, or, for ``escalated``, did."""

    COOLDOWN = "cooldown"
    FREQUENCY_CAP = "frequency_cap"
    QUIET_HOURS = "quiet_hours"
    NO_CONSENT = "no_consent"
    HOLDOUT = "holdout"
    LOWER_PRIORITY = "lower_priority"
    EXCLUDED = "excluded"
    SHADOW = "shadow"
    """The trigger is in ``shadow``: evaluated and recorded, never sent. The decision's
    ``would_have`` says what it would have been had the trigger been active."""
    TESTING = "testing"
    """No longer given (``testing`` is now an alias of ``shadow``); kept so decisions
    recorded before still validate."""
    RECENT_MISSED_PAYMENT = "recent_missed_payment"
    """A risk intervention held back: the user missed a payment and collections has them."""
    GLOBAL_CONTROL = "global_control"
    """The user is in the global control group: no marketing message, ever (they still
    count as exposed, in experiment ``global_control``)."""
    ESCALATED = "escalated"
    """Not a suppression: a risk intervention that *fired* inside the cool-off, because its
    tier is higher than the last intervention's (``NUDGE_RISK_ESCALATION``)."""


#: The ``trigger_id`` risk decisions are recorded under, on ``trigger.decisions`` and in
#: the ids derived from it: risk interventions are decided by thresholds, not by a trigger
#: definition. The reports keep them apart from the triggers' messages.
RISK_INTERVENTION_TRIGGER_ID = "risk_intervention"

#: The ``trigger_id`` of a behaviour change (``streams.core.behavior``): an insight the
#: worker's timer records when a user's weekly activity rises or falls against their own
#: baseline. It sends nothing; triggers may act on the ``*_week_change_pct`` features.
BEHAVIOR_CHANGE_TRIGGER_ID = "behavior_change"


#: The ``trigger_id`` of a pattern change (``streams.core.patterns``): an insight recorded
#: when a user's pattern label changes ("form abandonment detected"). It sends nothing;
#: triggers may use ``pattern changed_to <label>``.
PATTERN_CHANGE_TRIGGER_ID = "pattern_change"


#: Decisions that are insights about a user, not messages: the reports and the demo
#: count them apart from the triggers'.
INSIGHT_TRIGGER_IDS = frozenset({BEHAVIOR_CHANGE_TRIGGER_ID, PATTERN_CHANGE_TRIGGER_ID})


class PatternChange(BaseModel):
    """What changed, on a ``pattern_change`` decision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    from_label: str
    to_label: str
    insight: str
    """The rule's sentence: "form abandonment detected", "high conversion probability"."""


class Activity(StrEnum):
    """The activities whose weekly counts are tracked, and the events that count."""

    TRANSACTIONS = "transactions"
    """``transaction`` events, debits and credits."""
    SESSIONS = "sessions"
    """``app_session`` events (a session ended)."""
    PAGE_VIEWS = "page_views"
    """``page_view`` events."""
    FEATURE_USE = "feature_use"
    """``feature_used`` events."""
    LOGINS = "logins"
    """``login`` events."""


class BehaviorChange(BaseModel):
    """What changed, on a ``behavior_change`` decision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    activity: Activity
    direction: Literal["rise", "fall"]
    change_pct: float
    """The judged week against the baseline: +100 is twice as many, -50 half as many."""
    week_start: date
    """Monday (UTC) of the week judged: the last complete one."""
    week_count: int
    """Events of the activity in that week."""
    baseline_per_week: float
    """Mean events a week over the four weeks before it."""


class WouldHave(BaseModel):
    """What a ``shadow`` trigger's decision would have been, had the trigger been active."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: Outcome
    reason: SuppressionReason | None = None
    """Why it would have been suppressed (cooldown, caps...), when it would have been."""
    channels: list[str] = []
    """The channels it would have sent on, when it would have fired."""


class TriggerDecision(BaseModel):
    """One evaluation that fired or was suppressed (published on ``trigger.decisions``).

    It answers "why did, or didn't, this user get a message?".
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    decision_id: str
    user_id: str
    trigger_id: str
    """The trigger definition's id; ``RISK_INTERVENTION_TRIGGER_ID`` for a risk decision."""
    outcome: Outcome
    reason: SuppressionReason | None = None
    """Set when suppressed; ``escalated`` on a risk intervention fired inside its cool-off."""
    detail: str
    """A sentence that explains the decision with the numbers behind it."""
    source_event_id: str | None
    event_type: str | None
    occurred_at: AwareDatetime
    """Event time of the cause."""
    features: dict[str, float]
    """The feature values the condition was evaluated on."""
    command_ids: list[str]
    behavior_change: BehaviorChange | None = None
    """Set on a ``BEHAVIOR_CHANGE_TRIGGER_ID`` decision only: the activity, direction, size."""
    pattern_change: PatternChange | None = None
    """Set on a ``PATTERN_CHANGE_TRIGGER_ID`` decision only: the labels and the insight."""
    experiment: str | None = None
    """The experiment this decision exposed the user to (``schemas.experiments``)."""
    variant: str | None = None
    """The user's arm in it; the control arm's decision is suppressed (``holdout``)."""
    would_have: WouldHave | None = None
    """Set on a ``shadow`` decision only: what it would have been (``SuppressionReason.SHADOW``)."""


class RejectionKind(StrEnum):
    """Why an input message could not be used."""

    NOT_JSON = "not_json"
    INVALID = "invalid"
    KEY_MISMATCH = "key_mismatch"
    TOO_LARGE = "too_large"
    """Larger than the intake reads (``schemas.intake.MAX_MESSAGE_BYTES``)."""
    PROCESSING_ERROR = "processing_error"
    """Valid, but processing it raised (a bug in Nudge): its state change was not applied,
    the rest of its batch went on, and an alert fires. Replay it once the bug is fixed."""


class DeadLetter(BaseModel):
    """An input message Nudge could not use, kept with the reason (``*.dlq`` topics).

    Nothing is dropped silently: the original bytes come back here, except what the
    intake would have removed anyway (secrets, card numbers: ``redacted``) and what does
    not fit a Kafka record (``truncated``: the head is kept). ``value_length`` and
    ``value_sha256`` always describe the original, so it can be matched with the
    producer's copy.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    dead_letter_id: str
    topic: str
    partition: int
    offset: int
    key: str | None
    """The original key, base64 (its first ``DEAD_LETTER_KEY_BYTES`` bytes)."""
    value: str
    """The original value bytes, base64, redacted and cut as the flags say."""
    kind: RejectionKind
    error: str
    """What was wrong, with field paths; never the offending values (they may be personal)."""
    failed_at: AwareDatetime
    value_length: int | None = None
    """Length of the original value in bytes (absent in letters written before it was kept)."""
    value_sha256: str | None = None
    """SHA-256 of the original value, hex."""
    redacted: bool = False
    """Secrets or card numbers were replaced by ``[redacted]`` in ``value``."""
    truncated: bool = False
    """``value`` (or ``key``) holds only the head of the original."""
