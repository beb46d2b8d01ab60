"""Risk scores and payments through ``process``: the path the worker takes.

``streams.core.risk``'s own rules are in test_intervention.py; here how they meet the
user's record: scores and payments are kept even when too old to act on, a fresh score
may start one intervention, outcomes record engagement, and all of it survives the
changelog.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.commands import InterventionType, RiskTrend
from schemas.events import Event
from schemas.records import Outcome, SuppressionReason
from streams.core.decisions.process import process
from streams.core.decisions.result import Result
from streams.core.rendering import default_catalogue
from streams.core.risk.policy import InterventionPolicy
from streams.core.state.record import UserState
from streams.core.triggers.catalogue import default_definitions
from tests.unit.factories import event, profile

USER = "user-1"
NOW = datetime(2026, 6, 5, 12, tzinfo=UTC)
TWO_DAYS = 2 * 86_400.0


def score(value: float, days_ago: float) -> Event:
    at = NOW - timedelta(days=days_ago)
    return event(USER, at, {"type": "risk_score", "score": value, "top_drivers": ["utilisation"]})


def payment(status: str, days_ago: float) -> Event:
    at = NOW - timedelta(days=days_ago)
    return event(USER, at, {"type": "payment", "status": status, "amount": "240.00",
                            "due_date": (NOW + timedelta(days=5)).date().isoformat()})  # fmt: skip


def run(state: UserState, *events: Event, policy: InterventionPolicy | None = None) -> Result:
    result = Result()
    for item in events:
        step = process(state, item, default_definitions(), default_catalogue(), now=NOW,
                       max_event_age_seconds=TWO_DAYS, interventions=policy)  # fmt: skip
        result.decisions += step.decisions
        result.interventions += step.interventions
    return result


def rising(state: UserState) -> Result:
    """Scores a week apart, older than the evaluation horizon, then a fresh 0.85."""
    history = [score(v, d) for v, d in ((0.45, 28), (0.5, 21), (0.6, 14), (0.7, 7))]
    return run(state, profile(USER, NOW - timedelta(days=30), first_name="Ada"),
               *history, score(0.85, 0.01))  # fmt: skip


def test_old_scores_build_the_trend_and_a_fresh_one_starts_an_intervention() -> None:
    state = UserState()
    result = rising(state)
    (command,) = result.interventions
    assert command.intervention_type is InterventionType.PAYMENT_ASSISTANCE
    assert command.trend is RiskTrend.INCREASING and command.risk_score == 0.85
    (decision,) = result.decisions
    assert decision.outcome is Outcome.FIRED and decision.command_ids == [command.command_id]
    assert any("Ada" in m.body for m in command.messages)
    assert state.risk is not None and len(state.risk.scores) == 5


def test_a_recent_missed_payment_sends_the_user_to_collections_not_a_nudge() -> None:
    state = UserState()
    run(state, payment("due", 20), payment("missed", 3))
    result = rising(state)
    assert result.interventions == []
    (decision,) = result.decisions
    assert decision.reason is SuppressionReason.RECENT_MISSED_PAYMENT


def test_the_amount_due_reaches_the_message() -> None:
    state = UserState()
    run(state, payment("due", 1))
    (command,) = rising(state).interventions
    email = next(m for m in command.messages if m.channel.value == "email")
    assert "$240.00" in email.body


def test_thresholds_come_from_the_policy() -> None:
    strict = InterventionPolicy(critical=0.9, high=0.86, medium=0.5, low=0.3)
    (command,) = rising(UserState()).interventions
    (lower,) = run(
        UserState(),
        *[score(v, d) for v, d in ((0.45, 28), (0.5, 21), (0.6, 14), (0.7, 7), (0.85, 0.01))],
        policy=strict,
    ).interventions
    assert command.intervention_type is InterventionType.PAYMENT_ASSISTANCE
    assert lower.intervention_type is InterventionType.PAYMENT_REMINDER  # 0.85 is only medium


def test_risk_memory_and_engagement_survive_the_changelog() -> None:
    state = UserState()
    rising(state)
    outcome = {"type": "comms_outcome", "command_id": "c-1"}
    opened = event(USER, NOW, {**outcome, "outcome": "opened"})
    ignored = event(USER, NOW + timedelta(hours=1), {**outcome, "outcome": "no_response"})
    run(state, opened, ignored)
    assert state.engaged_at == NOW.timestamp()  # no_response is not engagement
    restored = UserState.from_bytes(state.to_bytes())
    assert restored == state
    # The restored record remembers the intervention: a second high score is cooled off.
    (decision,) = run(restored, score(0.9, 0)).decisions
    assert decision.reason is SuppressionReason.COOLDOWN


def test_a_replayed_score_changes_nothing() -> None:
    state = UserState()
    rising(state)
    fresh = score(0.9, 0)
    first = run(state, fresh)
    before = state.to_bytes()
    assert run(state, fresh) == Result()  # redelivered: same event id, dropped
    assert state.to_bytes() == before
    assert first.decisions[0].reason is SuppressionReason.COOLDOWN


def test_the_policy_history_bounds_the_trend_through_process() -> None:
    """The record keeps five scores; a policy reading two must read only the newest two."""
    state = UserState()
    scores = [score(v, d) for v, d in ((0.9, 12), (0.9, 9), (0.9, 6), (0.3, 3), (0.38, 0.01))]
    result = run(state, *scores, policy=InterventionPolicy(history=2, trend_rule="early_warning"))
    (command,) = result.interventions
    assert command.trend is RiskTrend.INCREASING  # 0.30 -> 0.38, not below the old 0.9s


@pytest.mark.parametrize(("history", "expected"), [(3, RiskTrend.INCREASING), (5, None)])
def test_the_policy_history_bounds_the_specification_trend(
    history: int, expected: RiskTrend | None
) -> None:
    """Three scores read 0.30, 0.45, 0.55 (rising); five also the old 0.9s (falling)."""
    state = UserState()
    values = ((0.9, 12), (0.9, 9), (0.3, 6), (0.45, 3), (0.55, 0.01))
    result = run(
        state, *(score(v, d) for v, d in values), policy=InterventionPolicy(history=history)
    )
    commands = result.interventions
    assert [c.trend for c in commands] == ([] if expected is None else [expected])
    if expected is not None:
        assert commands[0].intervention_type is InterventionType.PAYMENT_REMINDER
