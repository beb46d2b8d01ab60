"""Risk interventions: from a user's risk scores to one supportive intervention command.

The pure core the risk agent calls. A user's ``RiskMemory`` keeps their newest risk scores
(by event time), their last intervention, their last missed payment and their next payment
due. ``decide`` notes a ``risk_score`` event into that memory, reads the trend, picks a tier
and an intervention type, applies the cool-off, the missed-payment exclusion and consent,
and returns the decision record and, when it fires, a ``StartIntervention`` command with
one rendered message per channel. Ids derive from the event, so running it again on the
same input gives the same output.

Choices where the design is silent:

* The newest score speaks for the user: a late score older than one already noted is
  folded into the trend history but decides nothing (the newer one already did).
* Tiers come from ``InterventionPolicy`` thresholds, not from the producer's ``level``.
* The cool-off and the missed-payment window count both ways in event time, as the
  trigger cooldown does: topics are not ordered with each other, so an event dated just
  after the risk score is as close to it as one dated just before.
* Thresholds are compared with a tolerance of ``1e-9``, so a difference that is 0.05 in
  decimal (``0.65 - 0.60``) counts as 0.05 although binary floats make it 0.04999...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from importlib import resources
from math import fsum
from types import MappingProxyType
from typing import Any, Literal

import yaml

from schemas.commands import (
    ChannelMessage,
    InterventionType,
    Priority,
    RiskTrend,
    StartIntervention,
)
from schemas.events import Channel, Event, Payment, RiskScore
from schemas.ids import command_id, decision_id
from schemas.records import Outcome, SuppressionReason, TriggerDecision
from streams.core.rendering import SMS_CUT_MARK, Catalogue, parse_catalogue, render

#: The trigger id risk decisions are recorded under (``trigger.decisions``, ids).
TRIGGER_ID = "risk_intervention"
#: The ``channel`` part of the command id: one command per firing carries every channel.
COMMAND_CHANNEL = "intervention"
#: Binary floats put 0.65 - 0.60 just below 0.05; comparisons allow this much error.
TOLERANCE = 1e-9

RiskLevel = Literal["low", "medium", "high", "critical"]


@dataclass(frozen=True, slots=True)
class InterventionPolicy:
    """Every threshold of risk interventions (scores are in [0, 1]).

    Attributes:
        critical: Score from which the tier is critical (payment assistance). 0.80.
        high: Score from which the tier is high (flexible payment). 0.60.
        medium: Score from which, with an increasing trend, the tier is medium (payment
            reminder). Below it, or without a rising trend, the tier is low. 0.40.
        low: Score from which the tier is low (financial wellness); below it, nothing. 0.20.
        trend_high: Mean of the newest two scores from which a stable trend is high. 0.60.
        trend_change: Change of the recent mean over the older one that makes the trend
            increasing (``>=``) or decreasing (``<=`` its negative). 0.05.
        jump: Rise of the newest score over the one before that alone makes the trend
            increasing. 0.10.
        cooloff: No intervention this close (either side, event time) to the last. 7 days.
        missed_payment_window: No intervention this close to a missed payment. 7 days.
        history: Risk scores kept per user. 5.
    """

    critical: float = 0.80
    high: float = 0.60
    medium: float = 0.40
    low: float = 0.20
    trend_high: float = 0.60
    trend_change: float = 0.05
    jump: float = 0.10
    cooloff: timedelta = timedelta(days=7)
    missed_payment_window: timedelta = timedelta(days=7)
    history: int = 5

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.medium <= self.high <= self.critical <= 1:
            msg = "tiers must satisfy 0 <= low <= medium <= high <= critical <= 1"
            raise ValueError(msg)
        if self.history < 1 or self.trend_change < 0 or self.jump < 0:
            msg = "history must be at least 1, trend_change and jump not negative"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class InterventionPlan:
    """What one intervention type does: how urgently, how, by when, on which channels."""

    urgency: Priority
    channels: tuple[Channel, ...]
    actions: tuple[str, ...]
    timeline: str


PLANS: Mapping[InterventionType, InterventionPlan] = MappingProxyType(
    {
        InterventionType.PAYMENT_ASSISTANCE: InterventionPlan(
            Priority.CRITICAL,
            (Channel.PHONE, Channel.EMAIL),
            (
                "call the customer to talk through their situation",
                "offer a payment holiday or a reduced-payment plan",
                "waive late fees while a plan is agreed",
                "refer to free, confidential debt advice",
            ),
            "contact within 24 hours",
        ),
        InterventionType.FLEXIBLE_PAYMENT: InterventionPlan(
            Priority.HIGH,
            (Channel.EMAIL, Channel.SMS, Channel.IN_APP),
            (
                "offer to move the payment date closer to payday",
                "offer to split the next payment into instalments",
            ),
            "reach out within 3-5 days",
        ),
        InterventionType.PAYMENT_REMINDER: InterventionPlan(
            Priority.MEDIUM,
            (Channel.EMAIL, Channel.IN_APP),
            ("remind of the next payment", "offer autopay or a due-date reminder"),
            "remind within 7 days",
        ),
        InterventionType.FINANCIAL_WELLNESS: InterventionPlan(
            Priority.LOW,
            (Channel.EMAIL, Channel.IN_APP),
            ("share budgeting and emergency-fund resources", "offer a free financial check-in"),
            "share resources within 14 days",
        ),
    }
)


@dataclass(frozen=True, slots=True)
class PaymentDue:
    """The user's next payment, from a ``payment`` event with status ``due``.

    Attributes:
        amount: Decimal amount as text (exact, JSON-able).
        currency: ISO 4217 code.
        due_date: When it is due, if the producer said.
        noted_at: Event time of the ``due`` event (epoch seconds).
    """

    amount: str
    currency: str
    due_date: date | None
    noted_at: float


@dataclass(slots=True)
class RiskMemory:
    """What risk interventions remember about one user (embedded in the user's record).

    Attributes:
        scores: ``(event time in epoch seconds, score)``, oldest first, the newest few.
        drivers: Top drivers of the newest score.
        last_intervention_at: Event time of the last intervention that fired.
        last_missed_payment_at: Latest event time of a ``missed`` payment.
        payment_due: The next payment due; cleared when paid or missed.
        payment_closed_at: Latest event time of a ``paid`` or ``missed`` payment, so a late
            ``due`` event older than it does not bring a settled payment back.
    """

    scores: list[tuple[float, float]] = field(default_factory=list)
    drivers: list[str] = field(default_factory=list)
    last_intervention_at: float | None = None
    last_missed_payment_at: float | None = None
    payment_due: PaymentDue | None = None
    payment_closed_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a compact JSON-able form; fields never set are left out."""
        data: dict[str, Any] = {"scores": [[at, score] for at, score in self.scores]}
        if self.drivers:
            data["drivers"] = list(self.drivers)
        for name in ("last_intervention_at", "last_missed_payment_at", "payment_closed_at"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        if (due := self.payment_due) is not None:
            day = due.due_date.isoformat() if due.due_date else None
            data["payment_due"] = [due.amount, due.currency, day, due.noted_at]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RiskMemory:
        """Rebuild a memory written by ``to_dict``."""
        due = data.get("payment_due")
        return cls(
            scores=[(float(at), float(score)) for at, score in data.get("scores", ())],
            drivers=list(data.get("drivers", ())),
            last_intervention_at=data.get("last_intervention_at"),
            last_missed_payment_at=data.get("last_missed_payment_at"),
            payment_due=None
            if due is None
            else PaymentDue(due[0], due[1], date.fromisoformat(due[2]) if due[2] else None, due[3]),
            payment_closed_at=data.get("payment_closed_at"),
        )


def note_risk_score(
    memory: RiskMemory, at: datetime, score: float, drivers: Sequence[str], *, keep: int = 5
) -> bool:
    """Place a score in the user's history by event time, keeping the ``keep`` newest.

    Args:
        memory: Changed in place.
        at: Event time of the score (timezone-aware).
        score: The risk score, 0 to 1.
        drivers: Its top drivers; kept when it is the newest score.
        keep: Scores kept (``InterventionPolicy.history``). 5.

    Returns:
        False when nothing changed: a score at that time is already there (a duplicate),
        or it is older than the ``keep`` newest.
    """
    moment = at.timestamp()
    if any(t == moment for t, _ in memory.scores):
        return False
    scores = sorted([*memory.scores, (moment, score)])[-keep:]
    if (moment, score) not in scores:
        return False
    memory.scores = scores
    if scores[-1][0] == moment:
        memory.drivers = list(drivers)
    return True


def note_payment(memory: RiskMemory, at: datetime, payment: Payment) -> None:
    """Fold a ``payment`` event in: due sets the next payment, paid and missed close it.

    The order events arrive in does not matter: each change is kept by event time.

    Args:
        memory: Changed in place.
        at: Event time of the payment event (timezone-aware).
        payment: Its payload.
    """
    moment = at.timestamp()
    if payment.status == "due":
        due, closed = memory.payment_due, memory.payment_closed_at
        if (closed is None or moment > closed) and (due is None or moment >= due.noted_at):
            amount = str(payment.amount)
            memory.payment_due = PaymentDue(amount, payment.currency, payment.due_date, moment)
        return
    if payment.status == "missed":
        memory.last_missed_payment_at = max(moment, memory.last_missed_payment_at or moment)
    memory.payment_closed_at = max(moment, memory.payment_closed_at or moment)
    if memory.payment_due is not None and memory.payment_due.noted_at <= moment:
        memory.payment_due = None


@dataclass(frozen=True, slots=True)
class TrendReading:
    """The trend of a user's scores and the numbers behind it."""

    trend: RiskTrend
    recent: float
    """Mean of the newest two scores (the only score when there is one)."""
    older: float | None
    """Mean of the scores before the newest two (the first score when there are two)."""
    delta: float
    """How far the recent side is above the older side (0 with one score)."""


def read_trend(scores: Sequence[float], policy: InterventionPolicy) -> TrendReading:
    """Read the trend of a user's scores, oldest first.

    With one score: stable_high if it is at least ``trend_high``, else stable_low.
    With n >= 3: recent = mean of the newest two, older = mean of the rest, delta =
    recent - older. With n = 2 there is no "rest": delta = newest - previous, and the
    level is still the mean of the two. Then: increasing if delta >= ``trend_change`` or
    the newest score is at least ``jump`` above the one before; else decreasing if delta
    <= -``trend_change``; else stable_high if recent >= ``trend_high``, else stable_low.

    Args:
        scores: At least one score, oldest first.
        policy: The thresholds.

    Raises:
        ValueError: ``scores`` is empty.
    """
    if not scores:
        msg = "a trend needs at least one score"
        raise ValueError(msg)
    newest = scores[-1]
    stable = RiskTrend.STABLE_HIGH if _at_least(newest, policy.trend_high) else RiskTrend.STABLE_LOW
    if len(scores) == 1:
        return TrendReading(stable, recent=newest, older=None, delta=0.0)
    recent = fsum(scores[-2:]) / 2
    older = scores[0] if len(scores) == 2 else fsum(scores[:-2]) / (len(scores) - 2)
    delta = newest - older if len(scores) == 2 else recent - older
    if _at_least(delta, policy.trend_change) or _at_least(newest - scores[-2], policy.jump):
        trend = RiskTrend.INCREASING
    elif _at_least(-delta, policy.trend_change):
        trend = RiskTrend.DECREASING
    elif _at_least(recent, policy.trend_high):
        trend = RiskTrend.STABLE_HIGH
    else:
        trend = RiskTrend.STABLE_LOW
    return TrendReading(trend, recent=recent, older=older, delta=delta)


def choose_tier(
    score: float, trend: RiskTrend, policy: InterventionPolicy
) -> tuple[RiskLevel, InterventionType] | None:
    """Return the risk level and intervention type for a score, or ``None`` for no help.

    Only an increasing or stable_high trend calls for an intervention. A medium score
    without an increasing trend is treated as low (financial wellness).
    """
    if trend not in (RiskTrend.INCREASING, RiskTrend.STABLE_HIGH):
        return None
    if _at_least(score, policy.critical):
        return "critical", InterventionType.PAYMENT_ASSISTANCE
    if _at_least(score, policy.high):
        return "high", InterventionType.FLEXIBLE_PAYMENT
    if _at_least(score, policy.medium) and trend is RiskTrend.INCREASING:
        return "medium", InterventionType.PAYMENT_REMINDER
    if _at_least(score, policy.low):
        return "low", InterventionType.FINANCIAL_WELLNESS
    return None


def _at_least(value: float, threshold: float) -> bool:
    return value - threshold > -TOLERANCE


@dataclass(frozen=True, slots=True)
class RiskResult:
    """What one risk score led to.

    Attributes:
        decision: Fired or suppressed; ``None`` when no intervention was called for.
        command: The intervention to start, when the decision fired.
        trend: The trend read, ``None`` for a late score that decided nothing.
        risk_level: The tier, when an intervention was called for.
    """

    decision: TriggerDecision | None = None
    command: StartIntervention | None = None
    trend: RiskTrend | None = None
    risk_level: RiskLevel | None = None


def decide(
    memory: RiskMemory,
    event: Event,
    profile: Mapping[str, Any],
    policy: InterventionPolicy | None = None,
    catalogue: Catalogue | None = None,
) -> RiskResult:
    """Note a risk score into the user's memory and decide whether to intervene.

    ``decide`` notes the score itself (``note_risk_score``); a caller that noted it
    already changes nothing, as a score at the same time is ignored. Deduplicating
    redelivered events by ``event_id`` stays the caller's job: a second run sees its own
    firing and records a cool-off suppression under the same decision id.

    Args:
        memory: The user's risk memory; changed in place (score, last intervention).
        event: A validated ``risk_score`` event of that user.
        profile: The user's profile: ``first_name``, ``consent`` (channel -> bool; a
            channel not named is allowed).
        policy: Thresholds (the defaults if ``None``).
        catalogue: Intervention templates (``intervention_catalogue()`` if ``None``).

    Raises:
        TypeError: The event is not a risk score.
    """
    payload = event.payload
    if not isinstance(payload, RiskScore):
        msg = f"decide needs a risk_score event, not {event.type}"
        raise TypeError(msg)
    policy = policy or InterventionPolicy()
    note_risk_score(
        memory, event.occurred_at, payload.score, payload.top_drivers, keep=policy.history
    )
    at = event.occurred_at.timestamp()
    if not memory.scores or memory.scores[-1][0] != at:
        return RiskResult()
    # The record may keep more scores than this policy reads (it notes them as they come).
    reading = read_trend([score for _, score in memory.scores[-policy.history :]], policy)
    tier = choose_tier(payload.score, reading.trend, policy)
    if tier is None:
        return RiskResult(trend=reading.trend)
    level, kind = tier
    plan = PLANS[kind]
    consent = profile.get("consent") or {}
    channels = [c for c in plan.channels if consent.get(c.value, True) is not False]
    suppressed = _suppression(memory, at, policy, channels)
    command = None
    if suppressed is None:
        values = message_values(profile, memory, event.occurred_at.astimezone(UTC).date())
        messages = render_messages(kind, channels, values, catalogue or intervention_catalogue())
        command = _command(event, payload, kind, level, reading.trend, channels, messages)
        memory.last_intervention_at = max(at, memory.last_intervention_at or at)
    return RiskResult(
        decision=_decision(event, payload.score, level, kind, reading, suppressed, command),
        command=command,
        trend=reading.trend,
        risk_level=level,
    )


def _suppression(
    memory: RiskMemory, at: float, policy: InterventionPolicy, channels: list[Channel]
) -> tuple[SuppressionReason, str] | None:
    """Return why an intervention must not start, with a sentence, or ``None`` to start it."""
    missed = memory.last_missed_payment_at
    if missed is not None and abs(at - missed) < policy.missed_payment_window.total_seconds():
        return (
            SuppressionReason.RECENT_MISSED_PAYMENT,
            f"a payment was missed {abs(at - missed) / 86_400:.1f} days from this score"
            " (collections handles the user)",
        )
    last = memory.last_intervention_at
    if last is not None and abs(at - last) < policy.cooloff.total_seconds():
        return (
            SuppressionReason.COOLDOWN,
            f"{abs(at - last) / 86_400:.1f} days from the last intervention",
        )
    if not channels:
        return SuppressionReason.NO_CONSENT, "the user has withdrawn consent on every channel"
    return None


def _decision(
    event: Event,
    score: float,
    level: RiskLevel,
    kind: InterventionType,
    reading: TrendReading,
    suppressed: tuple[SuppressionReason, str] | None,
    command: StartIntervention | None,
) -> TriggerDecision:
    older = "" if reading.older is None else f" vs older {reading.older:.3f}"
    detail = (
        f"Risk score {score:.3f} ({level}, {kind.value}), trend {reading.trend.value}:"
        f" recent {reading.recent:.3f}{older}."
    ) + (f" Suppressed: {suppressed[1]}." if suppressed else "")
    features = {"risk_score": score, "trend_recent": reading.recent, "trend_delta": reading.delta}
    if reading.older is not None:
        features["trend_older"] = reading.older
    return TriggerDecision(
        decision_id=decision_id(TRIGGER_ID, event.user_id, event.event_id),
        user_id=event.user_id,
        trigger_id=TRIGGER_ID,
        outcome=Outcome.SUPPRESSED if suppressed else Outcome.FIRED,
        reason=suppressed[0] if suppressed else None,
        detail=detail,
        source_event_id=event.event_id,
        event_type=event.type,
        occurred_at=event.occurred_at,
        features=features,
        command_ids=[command.command_id] if command else [],
    )


def _command(
    event: Event,
    payload: RiskScore,
    kind: InterventionType,
    level: RiskLevel,
    trend: RiskTrend,
    channels: list[Channel],
    messages: list[ChannelMessage],
) -> StartIntervention:
    plan = PLANS[kind]
    return StartIntervention(
        command_id=command_id(TRIGGER_ID, event.user_id, event.event_id, COMMAND_CHANNEL),
        user_id=event.user_id,
        decision_id=decision_id(TRIGGER_ID, event.user_id, event.event_id),
        source_event_id=event.event_id,
        created_at=event.occurred_at,
        intervention_type=kind,
        urgency=plan.urgency,
        actions=list(plan.actions),
        timeline=plan.timeline,
        channels=channels,
        messages=messages,
        risk_score=payload.score,
        risk_level=level,
        trend=trend,
        drivers=list(payload.top_drivers),
    )


# --- messages ------------------------------------------------------------------------

_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
)  # fmt: skip
#: Currencies written with a symbol before the amount; others get their code after it.
#: Only GSM-7 symbols, so an SMS keeps its 160 characters.
_SYMBOLS = {"USD": "$", "GBP": "£"}


def format_amount(amount: str, currency: str) -> str:
    """Return ``amount`` as a reader sees it: ``$1,234.50``, ``95.00 EUR``."""
    number = f"{Decimal(amount):,.2f}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{number} {currency}"


def format_date(day: date) -> str:
    """Return ``day`` as ``12 March 2026`` (the same in every locale)."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def message_values(profile: Mapping[str, Any], memory: RiskMemory, today: date) -> dict[str, str]:
    """Return the template variables: the first name, and the payment due when known.

    A payment whose due date is before ``today`` (UTC date of the score) is not
    mentioned: "due on" a past date would be wrong, and whether it was paid is unknown.
    """
    values = {"user_name": str(profile.get("first_name") or "")}
    due = memory.payment_due
    if due is not None and (due.due_date is None or due.due_date >= today):
        values["amount"] = format_amount(due.amount, due.currency)
        if due.due_date is not None:
            values["due_when"] = f"on {format_date(due.due_date)}"
    return values


def render_messages(
    kind: InterventionType,
    channels: Sequence[Channel],
    values: Mapping[str, str],
    catalogue: Catalogue,
) -> list[ChannelMessage]:
    """Render one message per channel with the safe renderer.

    The ``<type>_due`` wording is used when ``values`` has an amount and the catalogue has
    it for the channel; otherwise the ``<type>`` wording, which names no amount. An SMS that
    a long name would cut is rendered again with the name's fallback instead.

    Raises:
        KeyError: The catalogue has no ``<type>`` template for a channel.
    """
    messages = []
    for channel in channels:
        template = catalogue.get(f"{kind.value}_due", channel) if "amount" in values else None
        template = template or catalogue.by_id(f"{kind.value}.{channel.value}")
        rendered = render(template, values, catalogue.fallbacks)
        if channel is Channel.SMS and rendered.body.endswith(SMS_CUT_MARK):
            rendered = render(template, {**values, "user_name": ""}, catalogue.fallbacks)
        messages.append(
            ChannelMessage(channel=channel, subject=rendered.subject, body=rendered.body)
        )
    return messages


def missing_templates(catalogue: Catalogue) -> list[str]:
    """Return ``<type>.<channel>`` for every planned channel without a template."""
    return [
        f"{kind.value}.{channel.value}"
        for kind, plan in PLANS.items()
        for channel in plan.channels
        if catalogue.get(kind.value, channel) is None
    ]


@cache
def intervention_catalogue() -> Catalogue:
    """Return the intervention templates shipped with the package (read once).

    Raises:
        ValueError: A planned channel has no template.
    """
    text = resources.files("streams.templates").joinpath("interventions.yaml").read_text("utf-8")
    catalogue = parse_catalogue(yaml.safe_load(text))
    if missing := missing_templates(catalogue):
        msg = f"interventions.yaml has no template for {', '.join(missing)}"
        raise ValueError(msg)
    return catalogue
