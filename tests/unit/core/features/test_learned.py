"""The learned features on crafted records: forecast, payday, overspend, goals, anomaly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from models.online import anomaly, forecast, goals
from schemas.events import Event
from streams.core.features.context import Before, FeatureContext
from streams.core.features.learned import PAY_PERIOD_DAYS
from streams.core.features.registry import event_context, scheduled_context
from streams.core.state.fold import apply_event
from streams.core.state.record import UserState
from streams.core.units import day_number
from tests.unit.factories import START, card_debit, event, fold, income, transaction

USER = "user-1"
DAY = timedelta(days=1)
#: Noon UTC on a Wednesday; its UTC day number is TODAY.
NOW = datetime(2026, 3, 11, 12, tzinfo=UTC)
TODAY = day_number(NOW)
SECONDS_PER_DAY = 86_400


def at_now(state: UserState) -> FeatureContext:
    return scheduled_context(USER, state, NOW)


def on(state: UserState, item: Event) -> FeatureContext:
    """Fold ``item`` into ``state`` and return its evaluation's context, as ``process`` does."""
    before = Before.of(state)
    assert apply_event(state, item)
    return event_context(state, item, before)


def spender(
    per_day: int, days: int = 42, *, since: int | None = None, paid: list[int] | None = None
) -> UserState:
    """``per_day`` cents on each of the ``days`` days before today (and today), paid deposits
    of 3000 dollars on the given days back (the last one is the last payday)."""
    state = UserState()
    state.daily_spend = {TODAY - back: per_day for back in range(days + 1)}
    state.spend_since = TODAY - days if since is None else since
    for back in sorted(paid or [], reverse=True):
        state.deposits.append(300_000)
        state.last_seen["income_deposit"] = (NOW - back * DAY).timestamp()
    return state


# --- spend_forecast_week ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (spender(2000), 140.0),  # five weeks of $140: the level is $140
        (spender(2000, days=14), 140.0),  # two complete weeks: enough
        (spender(2000, days=13), None),  # one: not yet
        (UserState(), None),  # never spent
    ],
)
def test_spend_forecast_week(state: UserState, expected: float | None) -> None:
    assert at_now(state).value("spend_forecast_week") == expected


def test_spend_forecast_week_is_the_smoothed_weeks_in_dollars() -> None:
    state = spender(1000)
    for back in range(1, 8):  # the last week doubled: 70 -> 140 dollars
        state.daily_spend[TODAY - back] = 2000
    weeks = forecast.weekly_totals(state.daily_spend, TODAY, state.spend_since)
    assert weeks == [7000] * 4 + [14_000]
    assert at_now(state).value("spend_forecast_week") == round((0.3 * 14_000 + 0.7 * 7000) / 100, 2)


# --- days_to_payday -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paid", "deposits", "expected"),
    [
        ([70, 40, 10], None, round(PAY_PERIOD_DAYS - 10, 2)),  # paid ten days ago
        ([70, 40, 0], None, PAY_PERIOD_DAYS),  # paid today at noon: a whole period
        ([90, 60, 31], None, 0.0),  # overdue: not negative
        ([40, 10], None, None),  # two deposits: not known to be regular yet
        ([70, 40, 10], [300_000, 100_000, 300_000], None),  # irregular amounts
        ([], None, None),
    ],
)
def test_days_to_payday(paid: list[int], deposits: list[int] | None, expected: Any) -> None:
    state = spender(1000, paid=paid)
    if deposits is not None:
        state.deposits = deposits
    assert at_now(state).value("days_to_payday") == expected


# --- forecast_overspend_pct ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("per_day", "runs_out"),
    [(5000, False), (9000, False), (10_000, True), (15_000, True)],  # $90: 2829.6; $100: 3144
)
def test_forecast_overspend_pct_by_hand(per_day: int, runs_out: bool) -> None:
    # Paid $3000 ten days ago: spent since that day (11 days, today included), plus the
    # forecast's daily rate over the 20.44 days to the next pay, against the $3000.
    state = spender(per_day, paid=[70, 40, 10])
    ctx = at_now(state)
    spent = 11 * per_day / 100
    rate = 7 * per_day / 100 / 7
    days = round(PAY_PERIOD_DAYS - 10, 2)
    expected = round((spent + rate * days - 3000) / 3000 * 100, 2)
    assert ctx.value("forecast_overspend_pct") == expected
    assert (expected > 0) is runs_out


@pytest.mark.parametrize(
    "state",
    [
        spender(5000, paid=[40, 10]),  # not paid regularly: no payday
        spender(5000, days=10, paid=[70, 40, 10]),  # too new for a forecast
    ],
)
def test_no_overspend_without_a_forecast_or_a_payday(state: UserState) -> None:
    assert at_now(state).value("forecast_overspend_pct") is None


def test_overspend_on_a_real_history() -> None:
    # Through the fold: three monthly pays, $100 a day of debits. The payday features and
    # the forecast read what the fold kept.
    pays = [income(USER, START + d * DAY, "3000.00") for d in (0, 30, 60)]
    debits = [transaction(USER, START + d * DAY + timedelta(hours=1), "100.00") for d in range(70)]
    state = fold(sorted([*pays, *debits], key=lambda e: e.occurred_at))
    now = START + 70 * DAY
    ctx = scheduled_context(USER, state, now)
    assert ctx.value("spend_forecast_week") == 700.0
    assert ctx.value("days_to_payday") == round(PAY_PERIOD_DAYS - 10, 2)
    spent = 10 * 100.0  # days 60-69, one $100 debit each
    expected = round((spent + 100.0 * round(PAY_PERIOD_DAYS - 10, 2) - 3000) / 3000 * 100, 2)
    assert ctx.value("forecast_overspend_pct") == expected


# --- goal_probability, goal_days_left -----------------------------------------------------


def saving(goal: str, day: float, saved: str, target: str, deadline: date | None) -> Event:
    payload: dict[str, Any] = {
        "type": "savings_progress", "goal_id": goal, "saved": saved, "target": target,
    }  # fmt: skip
    if deadline is not None:
        payload["deadline"] = deadline.isoformat()
    return event(USER, START + day * DAY, payload)


#: 100 days after day 20 of the history, the end of its deadline's day.
DEADLINE = (START + 119 * DAY).date()


def test_goal_features_on_a_savings_event_are_that_goals() -> None:
    # $100, $200, $250 at days 0, 10, 20: 7.5 a day, 750 to go in 100 days (see the
    # model's tests: probability 0.5, days left 100 from day 20's midnight).
    state = UserState()
    on(state, saving("car", 0, "100", "1000", DEADLINE))
    on(state, saving("car", 10, "200", "1000", DEADLINE))
    ctx = on(state, saving("car", 20, "250", "1000", DEADLINE))
    progress = state.goal_progress["car"]
    now = (START + 20 * DAY).timestamp()
    assert ctx.value("goal_probability") == goals.probability(progress, now)
    assert ctx.value("goal_days_left") == round(goals.days_left(progress, now) or 0, 2)
    # START is noon: 99.5 days to the end of the deadline's day, so a little under 0.5.
    assert ctx.value("goal_days_left") == 99.5
    assert 0.4 < ctx.value("goal_probability") < 0.5  # type: ignore[operator]


def test_a_goal_without_deadline_has_no_probability() -> None:
    state = UserState()
    on(state, saving("trip", 0, "100", "1000", None))
    ctx = on(state, saving("trip", 10, "200", "1000", None))
    assert "trip" not in state.goal_progress
    assert (ctx.value("goal_probability"), ctx.value("goal_days_left")) == (None, None)


def test_on_a_schedule_the_least_likely_open_goal_is_judged() -> None:
    state = UserState()
    for goal, saved in (("easy", ("100", "500", "900")), ("hard", ("100", "150", "200"))):
        for day, amount in zip((0, 10, 20), saved, strict=True):
            on(state, saving(goal, day, amount, "1000", DEADLINE))
    on(state, saving("done", 0, "100", "100", DEADLINE))  # reached: probability 1
    now = START + 20 * DAY
    chances = {g: goals.probability(p, now.timestamp()) for g, p in state.goal_progress.items()}
    assert chances["done"] == 1.0 and chances["hard"] < chances["easy"]  # type: ignore[operator]
    ctx = scheduled_context(USER, state, now)
    assert ctx.value("goal_probability") == chances["hard"]
    assert ctx.value("goal_days_left") == 99.5


def test_other_events_have_no_goal() -> None:
    state = UserState()
    on(state, saving("car", 0, "100", "1000", DEADLINE))
    on(state, saving("car", 10, "200", "1000", DEADLINE))
    ctx = on(state, transaction(USER, START + 11 * DAY, "5.00"))
    assert (ctx.value("goal_probability"), ctx.value("goal_days_left")) == (None, None)


# --- transaction_anomaly_score and _reason ------------------------------------------------


def regular_spender() -> UserState:
    return fold(
        [card_debit(USER, START + d * DAY, "24.50", merchant=f"grocer-{d % 2}") for d in range(12)]
    )


@pytest.mark.parametrize(
    ("debit", "reason"),
    [
        (card_debit(USER, START + 12 * DAY, "900.00", merchant="grocer-0"), "amount"),
        (card_debit(USER, START + 12 * DAY, "24.50", merchant="grocer-0", country="BR"),
         "abroad"),
        (card_debit(USER, START + 12.6 * DAY, "20.00", merchant="grocer-1"), "hour"),
    ],
)  # fmt: skip
def test_the_anomaly_features_are_the_folds_score_of_this_debit(debit: Event, reason: str) -> None:
    state = regular_spender()
    ctx = on(state, debit)
    score, why = anomaly.last_score(state.anomaly)
    assert (ctx.value("transaction_anomaly_score"), ctx.value("transaction_anomaly_reason")) == (
        score, why,
    )  # fmt: skip
    assert why == reason and isinstance(score, float) and score > 0


@pytest.mark.parametrize(
    "item",
    [
        transaction(USER, START + 12 * DAY, "900.00", direction="credit"),
        income(USER, START + 12 * DAY, "900.00"),
    ],
)
def test_no_anomaly_features_but_on_a_debit(item: Event) -> None:
    state = regular_spender()
    assert anomaly.last_score(state.anomaly)[0] is not None  # the last debit had a score
    ctx = on(state, item)
    assert (ctx.value("transaction_anomaly_score"), ctx.value("transaction_anomaly_reason")) == (
        None, None,
    )  # fmt: skip
    assert scheduled_context(USER, state, NOW).value("transaction_anomaly_score") is None


def test_no_anomaly_score_before_the_tenth_debit() -> None:
    state = fold([card_debit(USER, START + d * DAY, "24.50", merchant="m") for d in range(9)])
    ctx = on(state, card_debit(USER, START + 9 * DAY, "5000.00", merchant="x", country="BR"))
    assert (ctx.value("transaction_anomaly_score"), ctx.value("transaction_anomaly_reason")) == (
        None, None,
    )  # fmt: skip
    later = on(state, card_debit(USER, START + 10 * DAY, "5000.00", merchant="y", country="BR"))
    assert isinstance(later.value("transaction_anomaly_score"), float)
