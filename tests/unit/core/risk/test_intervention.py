"""Risk interventions: memory, trend, tiers, cool-off, missed payments, consent, messages."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from schemas.commands import InterventionType, Priority, RiskTrend
from schemas.events import Channel, Event, Payment
from schemas.ids import command_id, decision_id
from schemas.records import RISK_INTERVENTION_TRIGGER_ID, Outcome, SuppressionReason
from streams.core.rendering import SMS_CUT_MARK, SMS_LIMIT, parse_catalogue
from streams.core.risk.intervention import COMMAND_CHANNEL, RiskResult, decide_intervention
from streams.core.risk.messages import (
    format_amount,
    intervention_catalogue,
    missing_templates,
    render_messages,
)
from streams.core.risk.policy import PLANS, InterventionPolicy
from streams.core.risk.trend import choose_tier, read_trend
from streams.core.state.risk_memory import RiskMemory, note_payment, note_risk_score
from tests.unit.factories import START, event

USER = "user-1"
DAY = timedelta(days=1)
POLICY = InterventionPolicy()
#: Nudge's first rule, kept as ``NUDGE_RISK_TREND_RULE=early_warning``.
EARLY = InterventionPolicy(trend_rule="early_warning")
ADA = {"first_name": "Ada", "consent": {}}
#: Four scores a day apart, then the scored event on day 4 (``NOW``).
NOW = START + 4 * DAY
RISING = [0.30, 0.30, 0.30, 0.40]
HIGH = [0.85, 0.85, 0.85, 0.85]


def risk_event(
    score: float, at: datetime = NOW, *, event_id: str = "risk-1", drivers: Sequence[str] = ()
) -> Event:
    payload = {"type": "risk_score", "score": score, "top_drivers": list(drivers)}
    return event(USER, at, payload, event_id=event_id)


def payment(at: datetime, status: str, amount: str = "120.00", due: str | None = None) -> Payment:
    payload: dict[str, Any] = {"type": "payment", "status": status, "amount": amount}
    if due is not None:
        payload["due_date"] = due
    result = event(USER, at, payload).payload
    assert isinstance(result, Payment)
    return result


def memory_of(scores: Sequence[float]) -> RiskMemory:
    """A memory with ``scores`` one day apart, starting at ``START``."""
    memory = RiskMemory()
    for day, score in enumerate(scores):
        assert note_risk_score(memory, START + day * DAY, score, [])
    return memory


def run(
    memory: RiskMemory,
    score: float,
    at: datetime = NOW,
    profile: dict[str, Any] | None = None,
    *,
    event_id: str = "risk-1",
    policy: InterventionPolicy | None = None,
) -> RiskResult:
    return decide_intervention(
        memory,
        risk_event(score, at, event_id=event_id),
        ADA if profile is None else profile,
        policy,
    )


def fired(result: RiskResult) -> bool:
    return result.decision is not None and result.decision.outcome is Outcome.FIRED


# --- tiers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "trend", "expected"),
    [
        (0.80, RiskTrend.STABLE_HIGH, ("critical", InterventionType.PAYMENT_ASSISTANCE)),
        (0.7999, RiskTrend.STABLE_HIGH, ("high", InterventionType.FLEXIBLE_PAYMENT)),
        (0.60, RiskTrend.INCREASING, ("high", InterventionType.FLEXIBLE_PAYMENT)),
        (0.5999, RiskTrend.INCREASING, ("medium", InterventionType.PAYMENT_REMINDER)),
        (0.40, RiskTrend.INCREASING, ("medium", InterventionType.PAYMENT_REMINDER)),
        (0.3999, RiskTrend.INCREASING, ("low", InterventionType.FINANCIAL_WELLNESS)),
        # Medium without a rising trend is treated as low.
        (0.5999, RiskTrend.STABLE_HIGH, ("low", InterventionType.FINANCIAL_WELLNESS)),
        (0.20, RiskTrend.INCREASING, ("low", InterventionType.FINANCIAL_WELLNESS)),
        # 0.3 - 0.1 is 0.19999999999999998 in binary: still the decimal 0.20.
        (0.3 - 0.1, RiskTrend.INCREASING, ("low", InterventionType.FINANCIAL_WELLNESS)),
        (0.1999, RiskTrend.INCREASING, None),
        (0.95, RiskTrend.DECREASING, None),
        (0.95, RiskTrend.STABLE_LOW, None),
    ],
)
def test_early_warning_tier_boundaries(
    score: float, trend: RiskTrend, expected: tuple[str, InterventionType] | None
) -> None:
    assert choose_tier(score, trend, EARLY) == expected


@pytest.mark.parametrize(
    ("score", "level", "kind"),
    [
        (0.5999, "medium", InterventionType.PAYMENT_REMINDER),
        (0.60, "high", InterventionType.FLEXIBLE_PAYMENT),
        (0.7999, "high", InterventionType.FLEXIBLE_PAYMENT),
        (0.80, "critical", InterventionType.PAYMENT_ASSISTANCE),
        (0.40, "medium", InterventionType.PAYMENT_REMINDER),
        (0.3999, "low", InterventionType.FINANCIAL_WELLNESS),
    ],
)
def test_early_warning_tiers_a_rising_user_at_the_boundaries(
    score: float, level: str, kind: InterventionType
) -> None:
    result = run(memory_of(RISING), score, policy=EARLY)
    assert result.trend is RiskTrend.INCREASING
    assert result.command is not None
    assert (result.command.risk_level, result.command.intervention_type) == (level, kind)


def test_early_warning_gives_a_medium_score_on_a_stable_high_trend_wellness() -> None:
    # Newest two average 0.6 (0.62, 0.58), older 0.6: stable_high, but 0.58 is not rising.
    result = run(memory_of([0.60, 0.60, 0.60, 0.62]), 0.58, policy=EARLY)
    assert result.trend is RiskTrend.STABLE_HIGH
    assert result.command is not None
    assert result.command.intervention_type is InterventionType.FINANCIAL_WELLNESS
    assert result.command.risk_level == "low"


def test_custom_policy_thresholds_are_used() -> None:
    policy = InterventionPolicy(critical=0.95)
    result = decide_intervention(memory_of(HIGH), risk_event(0.90), ADA, policy)
    assert result.command is not None
    assert result.command.intervention_type is InterventionType.FLEXIBLE_PAYMENT
    assert result.command.risk_level == "high"
    # The same score under the default policy is critical: the custom threshold decided.
    default = decide_intervention(memory_of(HIGH), risk_event(0.90), ADA)
    assert default.command is not None
    assert default.command.intervention_type is InterventionType.PAYMENT_ASSISTANCE


def test_policy_rejects_tiers_out_of_order() -> None:
    with pytest.raises(ValueError, match="low <= medium"):
        InterventionPolicy(low=0.5, medium=0.4)


# --- the specification's rule (the default) -----------------------------------------------

PA = InterventionType.PAYMENT_ASSISTANCE
FP = InterventionType.FLEXIBLE_PAYMENT
PR = InterventionType.PAYMENT_REMINDER
UP, HIGH_STEADY = RiskTrend.INCREASING, RiskTrend.STABLE_HIGH
DOWN, LOW_STEADY = RiskTrend.DECREASING, RiskTrend.STABLE_LOW


@pytest.mark.parametrize(
    ("scores", "trend", "kind"),
    [
        # Fewer than two scores: unknown, nothing, however high.
        ([0.70], RiskTrend.UNKNOWN, None),
        ([0.95], RiskTrend.UNKNOWN, None),
        # Two scores are both the newest two and the oldest two: change 0.
        ([0.50, 0.90], HIGH_STEADY, PA),
        ([0.20, 0.95], LOW_STEADY, None),
        # Recent >= 0.60: increasing only above a change of 0.05.
        ([0.55, 0.60, 0.65], HIGH_STEADY, FP),  # change exactly 0.05
        ([0.55, 0.60, 0.66], UP, FP),  # 0.055
        ([0.60, 0.60, 0.60, 0.60, 0.60], HIGH_STEADY, FP),  # recent exactly 0.60
        ([0.5, 0.5, 0.5, 0.55, 0.65], UP, FP),  # recent 0.6000000000000001 in floats
        ([0.95, 0.95, 0.90, 0.85, 0.85], HIGH_STEADY, PA),  # falling, but no "decreasing" up here
        # Recent < 0.60: increasing above 0.10, decreasing below -0.10.
        ([0.50, 0.50, 0.50, 0.59, 0.60], LOW_STEADY, None),  # recent 0.595, change 0.095
        ([0.45, 0.45, 0.50, 0.55, 0.55], LOW_STEADY, None),  # change exactly 0.10
        ([0.45, 0.45, 0.50, 0.55, 0.56], UP, PR),  # 0.105
        ([0.55, 0.55, 0.50, 0.45, 0.45], LOW_STEADY, None),  # change exactly -0.10
        ([0.55, 0.55, 0.50, 0.45, 0.44], DOWN, None),  # -0.105
        # Tiers at their edges.
        ([0.70, 0.70, 0.75, 0.80, 0.80], UP, PA),  # critical at exactly 0.80
        ([0.70, 0.70, 0.75, 0.80, 0.7999], UP, FP),
        ([0.20, 0.20, 0.25, 0.30, 0.40], UP, PR),  # medium at exactly 0.40, rising
        ([0.20, 0.20, 0.25, 0.30, 0.3999], UP, None),  # no low tier in the specification
        ([0.60, 0.60, 0.60, 0.62, 0.58], HIGH_STEADY, None),  # medium, not rising: nothing
        ([0.05, 0.05, 0.10, 0.20, 0.30], UP, None),
        # The middle of five is not read; nor is a sixth, older score.
        ([0.30, 0.30, 0.90, 0.45, 0.45], UP, PR),
        ([0.90, 0.30, 0.30, 0.35, 0.45, 0.45], UP, PR),
    ],
)
def test_the_specification_rule_end_to_end(
    scores: list[float], trend: RiskTrend, kind: InterventionType | None
) -> None:
    memory = RiskMemory()
    for day, value in enumerate(scores[:-1]):
        note_risk_score(memory, START + day * DAY, value, [])
    result = run(memory, scores[-1], START + (len(scores) - 1) * DAY)
    assert result.trend is trend
    assert (result.command.intervention_type if result.command else None) is kind
    assert fired(result) is (kind is not None)
    assert read_trend(scores, POLICY).trend is trend  # the reading alone agrees


def test_the_specification_trend_numbers() -> None:
    reading = read_trend([0.2, 0.3, 0.4, 0.6, 0.8], POLICY)
    assert reading.recent == pytest.approx(0.7)
    assert reading.older == pytest.approx(0.25)  # the oldest two, not all before the newest
    assert reading.delta == pytest.approx(0.45)


def test_an_unknown_trend_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="trend_rule must be one of"):
        InterventionPolicy(trend_rule="hunch")  # type: ignore[arg-type]


# --- escalation ----------------------------------------------------------------------------


def climbing(policy: InterventionPolicy | None = None) -> tuple[RiskMemory, RiskResult, RiskResult]:
    """A reminder on day 4, then 0.85 on day 6, inside the 7-day cool-off."""
    memory = memory_of([0.30, 0.30, 0.35, 0.40])
    first = run(memory, 0.52, NOW, policy=policy)
    second = run(memory, 0.85, NOW + 2 * DAY, event_id="risk-2", policy=policy)
    return memory, first, second


def test_a_higher_tier_breaks_through_the_cool_off() -> None:
    memory, first, second = climbing()
    assert first.command is not None and first.command.intervention_type is PR
    assert second.command is not None and second.command.intervention_type is PA
    assert second.decision is not None
    assert (second.decision.outcome, second.decision.reason) == (
        Outcome.FIRED,
        SuppressionReason.ESCALATED,
    )
    assert "escalated from medium, 2.0 days" in second.decision.detail
    assert memory.last_intervention_level == "critical"
    assert memory.last_intervention_at == (NOW + 2 * DAY).timestamp()


def test_escalation_can_be_turned_off() -> None:
    _, first, second = climbing(InterventionPolicy(escalation=False))
    assert first.command is not None
    assert second.command is None and second.decision is not None
    assert second.decision.reason is SuppressionReason.COOLDOWN


@pytest.mark.parametrize("score", [0.52, 0.45])  # the same tier (medium) again, rising
def test_the_same_tier_respects_the_cool_off(score: float) -> None:
    memory = memory_of([0.30, 0.30, 0.35, 0.40])
    assert run(memory, 0.50, NOW).command is not None
    again = run(memory, score, NOW + DAY, event_id="risk-2")
    assert again.command is None and again.decision is not None
    assert again.decision.reason is SuppressionReason.COOLDOWN


def test_a_falling_user_is_not_escalated() -> None:
    memory = memory_of([0.85, 0.85, 0.85, 0.85])
    assert run(memory, 0.85, NOW).command is not None  # critical
    lower = run(memory, 0.65, NOW + DAY, event_id="risk-2")  # high: a lower tier
    assert lower.command is None and lower.decision is not None
    assert lower.decision.reason is SuppressionReason.COOLDOWN
    assert memory.last_intervention_level == "critical"


def test_a_missed_payment_holds_back_an_escalation() -> None:
    memory = memory_of([0.30, 0.30, 0.35, 0.40])
    assert run(memory, 0.52, NOW).command is not None
    note_payment(memory, NOW + DAY, payment(NOW + DAY, "missed"))
    second = run(memory, 0.85, NOW + 2 * DAY, event_id="risk-2")
    assert second.command is None and second.decision is not None
    assert second.decision.reason is SuppressionReason.RECENT_MISSED_PAYMENT


def test_a_record_without_the_last_tier_does_not_escalate() -> None:
    # Written before escalation existed: the cool-off holds, as it did then.
    memory = memory_of([0.30, 0.30, 0.35, 0.40])
    assert run(memory, 0.52, NOW).command is not None
    data = memory.to_dict()
    del data["last_intervention_level"]
    old = RiskMemory.from_dict(data)
    second = run(old, 0.85, NOW + 2 * DAY, event_id="risk-2")
    assert second.decision is not None and second.decision.reason is SuppressionReason.COOLDOWN


# --- trend ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "trend"),
    [
        # delta = 0.35 - 0.30, which binary floats make 0.04999...
        ([0.30, 0.30, 0.30, 0.35, 0.35], RiskTrend.INCREASING),
        ([0.30, 0.30, 0.30, 0.34, 0.34], RiskTrend.STABLE_LOW),
        # The recent mean is below the older one, but the newest jumped 0.10 (0.0999... in floats).
        ([0.50, 0.50, 0.50, 0.40, 0.50], RiskTrend.INCREASING),
        ([0.50, 0.50, 0.50, 0.41, 0.50], RiskTrend.STABLE_LOW),
        ([0.50, 0.50, 0.50, 0.40, 0.49], RiskTrend.DECREASING),
        ([0.80, 0.80, 0.80, 0.75, 0.75], RiskTrend.DECREASING),
        ([0.80, 0.80, 0.80, 0.76, 0.76], RiskTrend.STABLE_HIGH),
        ([0.60, 0.60, 0.60, 0.60, 0.60], RiskTrend.STABLE_HIGH),
        ([0.59, 0.59, 0.59, 0.59, 0.59], RiskTrend.STABLE_LOW),
        ([0.30, 0.30, 0.30], RiskTrend.STABLE_LOW),
        ([0.60], RiskTrend.STABLE_HIGH),
        ([0.5999], RiskTrend.STABLE_LOW),
        # Two scores: delta is newest - previous; the level is their mean.
        ([0.50, 0.55], RiskTrend.INCREASING),
        ([0.70, 0.65], RiskTrend.DECREASING),
        ([0.70, 0.68], RiskTrend.STABLE_HIGH),
        ([0.50, 0.52], RiskTrend.STABLE_LOW),
    ],
)
def test_early_warning_trend(scores: list[float], trend: RiskTrend) -> None:
    assert read_trend(scores, EARLY).trend is trend


def test_early_warning_trend_numbers() -> None:
    reading = read_trend([0.2, 0.3, 0.4, 0.6, 0.8], EARLY)
    assert reading.recent == pytest.approx(0.7)
    assert reading.older == pytest.approx(0.3)
    assert reading.delta == pytest.approx(0.4)


def test_trend_of_no_scores_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one score"):
        read_trend([], POLICY)


@pytest.mark.parametrize(
    ("history", "score", "trend"),
    [
        ([0.95, 0.95, 0.95, 0.90], 0.85, RiskTrend.DECREASING),
        ([0.30, 0.30, 0.30, 0.30], 0.30, RiskTrend.STABLE_LOW),
    ],
)
def test_early_warning_decreasing_or_stable_low_trend_decides_nothing(
    history: list[float], score: float, trend: RiskTrend
) -> None:
    memory = memory_of(history)
    result = run(memory, score, policy=EARLY)
    assert result.trend is trend
    assert (result.decision, result.command) == (None, None)
    assert memory.last_intervention_at is None


def test_early_warning_score_below_the_low_tier_decides_nothing() -> None:
    result = run(memory_of([0.05, 0.05, 0.05, 0.05]), 0.19, policy=EARLY)
    assert result.trend is RiskTrend.INCREASING
    assert (result.decision, result.command, result.risk_level) == (None, None, None)


# --- cool-off and missed payments --------------------------------------------------------


@pytest.mark.parametrize(("days", "allowed"), [(6.9, False), (7.0, True), (8.0, True)])
def test_cool_off_after_an_intervention(days: float, allowed: bool) -> None:
    memory = memory_of(HIGH)
    assert fired(run(memory, 0.85, event_id="first"))
    assert memory.last_intervention_at == NOW.timestamp()
    later = run(memory, 0.85, NOW + timedelta(days=days), event_id="second")
    assert later.decision is not None
    assert fired(later) is allowed
    if not allowed:
        assert later.decision.reason is SuppressionReason.COOLDOWN
        assert later.command is None
        assert later.decision.command_ids == []
        assert memory.last_intervention_at == NOW.timestamp()  # suppressions do not restart it


@pytest.mark.parametrize(("days_after", "allowed"), [(3.0, False), (6.9, False), (7.0, True)])
def test_cool_off_counts_both_ways_in_event_time(days_after: float, allowed: bool) -> None:
    memory = memory_of(HIGH)
    memory.last_intervention_at = (NOW + timedelta(days=days_after)).timestamp()
    result = run(memory, 0.85)
    assert fired(result) is allowed
    assert result.decision is not None
    if not allowed:
        assert result.decision.reason is SuppressionReason.COOLDOWN
        assert result.decision.detail.endswith(
            f" Suppressed: {days_after:.1f} days from the last intervention."
        )
        assert result.command is None


@pytest.mark.parametrize(
    ("missed_before", "allowed"),
    [
        (timedelta(days=6.9), False),
        (timedelta(days=7), True),
        # Topics are not ordered with each other: a missed payment dated after counts too.
        (-timedelta(days=1), False),
        (-timedelta(days=8), True),
    ],
)
def test_recent_missed_payment_goes_to_collections(missed_before: timedelta, allowed: bool) -> None:
    memory = memory_of(HIGH)
    note_payment(memory, NOW - missed_before, payment(NOW - missed_before, "missed"))
    result = run(memory, 0.85)
    assert result.decision is not None
    assert fired(result) is allowed
    if not allowed:
        assert result.decision.reason is SuppressionReason.RECENT_MISSED_PAYMENT
        assert result.command is None
        assert memory.last_intervention_at is None


def test_missed_payment_is_checked_before_the_cool_off() -> None:
    memory = memory_of(HIGH)
    memory.last_intervention_at = (NOW - DAY).timestamp()
    note_payment(memory, NOW - DAY, payment(NOW - DAY, "missed"))
    result = run(memory, 0.85)
    assert result.decision is not None
    assert result.decision.reason is SuppressionReason.RECENT_MISSED_PAYMENT


# --- consent -------------------------------------------------------------------------------


def test_withdrawn_consent_drops_the_channel_and_its_message() -> None:
    profile = {"first_name": "Ada", "consent": {"sms": False, "email": True}}
    result = run(memory_of(RISING), 0.65, profile=profile)
    assert result.command is not None
    assert result.command.channels == [Channel.EMAIL, Channel.IN_APP]
    assert [m.channel for m in result.command.messages] == [Channel.EMAIL, Channel.IN_APP]


def test_critical_without_phone_consent_is_email_only() -> None:
    result = run(memory_of(HIGH), 0.9, profile={"consent": {"phone": False}})
    assert result.command is not None
    assert result.command.channels == [Channel.EMAIL]


def test_no_consent_on_any_channel_is_suppressed() -> None:
    memory = memory_of(RISING)
    profile = {"consent": {"email": False, "sms": False, "in_app": False}}
    result = run(memory, 0.65, profile=profile)
    assert result.decision is not None
    assert result.decision.outcome is Outcome.SUPPRESSED
    assert result.decision.reason is SuppressionReason.NO_CONSENT
    assert result.command is None
    assert memory.last_intervention_at is None


# --- the command ---------------------------------------------------------------------------


def test_critical_command_fields() -> None:
    memory = memory_of(HIGH)
    drivers = ["missed_utility_bill", "rising_credit_utilisation"]
    result = decide_intervention(memory, risk_event(0.91, drivers=drivers), ADA)
    command, decision = result.command, result.decision
    assert command is not None
    assert decision is not None
    assert command.intervention_type is InterventionType.PAYMENT_ASSISTANCE
    assert command.urgency is Priority.CRITICAL
    assert command.timeline == "contact within 24 hours"
    assert command.channels == [Channel.PHONE, Channel.EMAIL]
    assert [m.channel for m in command.messages] == [Channel.PHONE, Channel.EMAIL]
    assert command.actions
    assert command.actions == [
        "call the customer to talk through their situation",
        "offer a payment holiday or a reduced-payment plan",
        "waive late fees while a plan is agreed",
        "refer to free, confidential debt advice",
    ]
    assert (command.risk_score, command.risk_level) == (0.91, "critical")
    assert command.trend is RiskTrend.STABLE_HIGH
    assert command.drivers == drivers
    assert command.created_at == NOW
    assert command.source_event_id == "risk-1"
    assert decision.trigger_id == RISK_INTERVENTION_TRIGGER_ID
    assert decision.outcome is Outcome.FIRED
    assert decision.command_ids == [command.command_id]
    assert decision.features["risk_score"] == 0.91
    assert memory.drivers == drivers


@pytest.mark.parametrize(
    ("score", "urgency", "timeline"),
    [
        (0.65, Priority.HIGH, "reach out within 3-5 days"),
        (0.45, Priority.MEDIUM, "remind within 7 days"),
        (0.25, Priority.LOW, "share resources within 14 days"),
    ],
)
def test_urgency_and_timeline_per_type(score: float, urgency: Priority, timeline: str) -> None:
    # early_warning: the only rule with the low tier (financial wellness).
    result = run(memory_of([0.1, 0.1, 0.1, 0.1]), score, policy=EARLY)
    assert result.command is not None
    assert (result.command.urgency, result.command.timeline) == (urgency, timeline)


def test_same_input_gives_the_same_ids_and_command() -> None:
    memory = memory_of(HIGH)
    note_payment(memory, START, payment(START, "due", due="2026-01-20"))
    first = run(RiskMemory.from_dict(memory.to_dict()), 0.9)
    second = run(RiskMemory.from_dict(memory.to_dict()), 0.9)
    assert first.command is not None
    assert first.decision is not None
    assert first.command == second.command
    assert first.decision == second.decision
    assert first.decision.decision_id == decision_id(RISK_INTERVENTION_TRIGGER_ID, USER, "risk-1")
    assert first.command.command_id == command_id(
        RISK_INTERVENTION_TRIGGER_ID, USER, "risk-1", COMMAND_CHANNEL
    )
    other = run(RiskMemory.from_dict(memory.to_dict()), 0.9, event_id="risk-2")
    assert other.command is not None
    assert other.command.command_id != first.command.command_id


def test_a_late_older_score_decides_nothing() -> None:
    memory = memory_of(HIGH)  # days 0-3
    result = run(memory, 0.95, START + DAY / 2)
    assert result == RiskResult()
    assert [score for _, score in memory.scores] == [0.85, 0.95, 0.85, 0.85, 0.85]


def test_decide_needs_a_risk_score_event() -> None:
    profile_event = event(USER, NOW, {"type": "profile_update", "first_name": "Ada"})
    with pytest.raises(TypeError, match="risk_score"):
        decide_intervention(RiskMemory(), profile_event, ADA)


# --- messages ------------------------------------------------------------------------------

SCORES_BY_TYPE = {
    InterventionType.PAYMENT_ASSISTANCE: 0.9,
    InterventionType.FLEXIBLE_PAYMENT: 0.7,
    InterventionType.PAYMENT_REMINDER: 0.5,
    InterventionType.FINANCIAL_WELLNESS: 0.3,
}


def messages_for(
    kind: InterventionType, *, name: str | None = "Ada", due: Payment | None = None
) -> dict[Channel, tuple[str | None, str]]:
    memory = memory_of([0.1, 0.1, 0.1, 0.1])
    if due is not None:
        note_payment(memory, START, due)
    profile = {} if name is None else {"first_name": name}
    # early_warning: the only rule with financial wellness; rendering is the same in both.
    result = run(memory, SCORES_BY_TYPE[kind], profile=profile, policy=EARLY)
    assert result.command is not None
    assert result.command.intervention_type is kind
    return {m.channel: (m.subject, m.body) for m in result.command.messages}


DUE = payment(START, "due", amount="1234.5", due="2026-01-20")


@pytest.mark.parametrize("kind", list(InterventionType))
@pytest.mark.parametrize("name", ["Ada", None])
@pytest.mark.parametrize("due", [DUE, None])
def test_messages_leave_no_placeholders(
    kind: InterventionType, name: str | None, due: Payment | None
) -> None:
    for subject, body in messages_for(kind, name=name, due=due).values():
        text = f"{subject or ''}\n{body}"
        for marker in ("{{", "}}", "$X", "XXX", "None"):
            assert marker not in text
        if name is None:
            assert "Ada" not in text
        if due is None:
            assert "$" not in text
            assert "due on" not in text


@pytest.mark.parametrize(
    "kind",
    [
        InterventionType.PAYMENT_ASSISTANCE,
        InterventionType.FLEXIBLE_PAYMENT,
        InterventionType.PAYMENT_REMINDER,
    ],
)
def test_messages_name_the_user_and_the_payment_due(kind: InterventionType) -> None:
    messages = messages_for(kind, due=DUE)
    for channel, (subject, body) in messages.items():
        text = f"{subject or ''} {body}"
        assert "$1,234.50" in text, channel
        assert "20 January 2026" in text, channel
        if channel in (Channel.EMAIL, Channel.SMS):
            assert "Hi Ada," in body


def test_unknown_name_falls_back_to_there() -> None:
    email = messages_for(InterventionType.FLEXIBLE_PAYMENT, name=None)[Channel.EMAIL][1]
    assert "Hi there," in email


def test_payment_without_a_due_date_is_due_soon() -> None:
    due = payment(START, "due", amount="80", due=None)
    sms = messages_for(InterventionType.FLEXIBLE_PAYMENT, due=due)[Channel.SMS][1]
    assert "your $80.00 payment is due soon." in sms


def test_email_escapes_the_name_as_html() -> None:
    email = messages_for(InterventionType.FLEXIBLE_PAYMENT, name="<b>Ada</b>")[Channel.EMAIL][1]
    assert "Hi &lt;b&gt;Ada&lt;/b&gt;," in email


def test_sms_fits_one_part_with_a_very_long_name_and_keeps_the_amount() -> None:
    name = "Maximiliana-Alexandrina " * 8
    sms = messages_for(InterventionType.FLEXIBLE_PAYMENT, name=name, due=DUE)[Channel.SMS][1]
    assert len(sms) <= SMS_LIMIT
    assert "$1,234.50" in sms
    assert "Hi there," in sms


def test_sms_fits_with_the_longest_values_without_cutting() -> None:
    due = payment(START, "due", amount="9999999.99", due="2026-09-30")
    sms = messages_for(InterventionType.FLEXIBLE_PAYMENT, name="Christopher", due=due)[Channel.SMS][
        1
    ]
    assert len(sms) <= SMS_LIMIT
    assert not sms.endswith(SMS_CUT_MARK)
    assert "$9,999,999.99" in sms
    assert "30 September 2026" in sms


def test_a_past_due_date_is_not_mentioned() -> None:
    stale = payment(START, "due", due="2026-01-06")  # before NOW (9 January)
    for subject, body in messages_for(InterventionType.FLEXIBLE_PAYMENT, due=stale).values():
        assert "$" not in f"{subject} {body}"


def test_phone_note_is_a_call_script() -> None:
    subject, body = messages_for(InterventionType.PAYMENT_ASSISTANCE, due=DUE)[Channel.PHONE]
    assert subject == "Supportive call within 24 hours"
    assert "Hi Ada, I'm calling from Nudge" in body
    assert "$1,234.50" in body


def test_amount_formats() -> None:
    assert format_amount("1234.5", "USD") == "$1,234.50"
    assert format_amount("95", "EUR") == "95.00 EUR"


def test_shipped_catalogue_covers_every_planned_channel() -> None:
    assert missing_templates(intervention_catalogue()) == []
    partial = parse_catalogue(
        {
            "templates": {
                "financial_wellness": {"version": 1, "email": {"subject": "s", "body": "b"}}
            }
        }
    )
    assert "financial_wellness.in_app" in missing_templates(partial)
    assert "payment_assistance.phone" in missing_templates(partial)


# --- memory --------------------------------------------------------------------------------


def test_memory_keeps_the_five_newest_by_event_time() -> None:
    memory = RiskMemory()
    order = [3, 0, 6, 1, 5, 2, 4]  # out of order: late scores are placed by time
    for day in order:
        note_risk_score(memory, START + day * DAY, day / 10, [f"d{day}"])
    assert memory.scores == [((START + d * DAY).timestamp(), d / 10) for d in range(2, 7)]
    assert memory.drivers == ["d6"]
    # A score older than the five kept changes nothing; nor does a second one at a kept time.
    assert not note_risk_score(memory, START, 0.9, ["old"])
    assert not note_risk_score(memory, START + 6 * DAY, 0.9, ["dup"])
    assert [s for _, s in memory.scores] == [0.2, 0.3, 0.4, 0.5, 0.6]
    assert memory.drivers == ["d6"]
    # A late score inside the kept range is placed in order and pushes out the oldest.
    assert note_risk_score(memory, START + 2.5 * DAY, 0.25, ["late"])
    assert [s for _, s in memory.scores] == [0.25, 0.3, 0.4, 0.5, 0.6]
    assert memory.drivers == ["d6"]


def test_memory_round_trips_through_json() -> None:
    memory = memory_of(HIGH)
    memory.drivers = ["income_drop"]
    memory.last_intervention_at = NOW.timestamp()
    note_payment(memory, START, payment(START, "missed"))
    note_payment(memory, START + DAY, payment(START + DAY, "due", amount="42.10", due="2026-02-01"))
    data = json.loads(json.dumps(memory.to_dict()))
    assert RiskMemory.from_dict(data) == memory
    assert RiskMemory.from_dict(RiskMemory().to_dict()) == RiskMemory()
    assert RiskMemory().to_dict() == {"scores": []}


def test_paid_clears_the_payment_due_whatever_the_arrival_order() -> None:
    in_order = RiskMemory()
    note_payment(in_order, START, payment(START, "due", due="2026-01-20"))
    note_payment(in_order, START + DAY, payment(START + DAY, "paid"))
    assert in_order.payment_due is None
    late_due = RiskMemory()
    note_payment(late_due, START + DAY, payment(START + DAY, "paid"))
    note_payment(late_due, START, payment(START, "due", due="2026-01-20"))
    assert late_due.payment_due is None
    # A newer due after the payment is the next one.
    note_payment(late_due, START + 2 * DAY, payment(START + 2 * DAY, "due", amount="99"))
    assert late_due.payment_due is not None
    assert late_due.payment_due.amount == "99"


@pytest.mark.parametrize("kind", list(InterventionType))
def test_each_message_names_the_template_and_version_it_was_rendered_from(
    kind: InterventionType,
) -> None:
    catalogue = intervention_catalogue()
    channels = PLANS[kind].channels
    for values in ({"user_name": "Ana"}, {"user_name": "Ana", "amount": "$120.00"}):
        for message in render_messages(kind, channels, values, catalogue):
            assert message.template_id is not None
            template = catalogue.by_id(message.template_id)
            assert message.template_version == template.version
            assert message.template_id.endswith(f".{message.channel.value}")
            assert message.template_id.startswith(kind.value)
