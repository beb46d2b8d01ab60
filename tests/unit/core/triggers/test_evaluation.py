"""The shipped trigger definitions, evaluated on states built through ``apply_event``:
the edges of each threshold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.events import Event
from streams.core.state.record import UserState
from streams.core.triggers.catalogue import default_definitions
from streams.core.triggers.evaluation import Match
from tests.unit.factories import (
    JUNE,
    START,
    fold,
    history,
    income,
    income_history,
    match_of,
    profile,
    spike_at,
    spike_history,
    transaction,
)

USER = "user-1"
DEFINITIONS = {definition.id: definition for definition in default_definitions()}
SPIKE = DEFINITIONS["spending_spike"]
DROP = DEFINITIONS["income_drop"]


def _spike(state: UserState, event: Event) -> Match | None:
    return match_of("spending_spike", state, event)


def _drop(state: UserState, event: Event) -> Match | None:
    return match_of("income_drop", state, event)


# --- spending_spike ----------------------------------------------------------------------


def test_default_spike_configuration() -> None:
    assert SPIKE.thresholds == {"spike_percent": 20.0, "min_week_spend": 100.0, "min_zscore": 2.0}
    assert SPIKE.cooldown == 7 * 86_400
    assert SPIKE.evaluate_on.events == ["transaction"]


@pytest.mark.parametrize(
    ("final", "fires", "change"),
    [
        ("48.00", True, 20.0),  # 16800 vs 14000: exactly +20 %
        ("47.86", False, 19.9),  # 16786 vs 14000: +19.9 %
        ("47.99", False, 19.992857143),
        ("48.01", True, 20.007142857),
        ("400.00", True, 271.428571429),
    ],
)
def test_spending_spike_threshold_edges(final: str, fires: bool, change: float) -> None:
    state = fold(spike_history(USER))
    match = _spike(state, transaction(USER, spike_at(), final))
    assert (match is not None) == fires
    if match is not None:
        assert match.features["spend_week_change_pct"] == change
        assert match.features["spend_week_baseline"] == 140.0


def test_spending_spike_match_carries_features_variables_and_cause() -> None:
    state = fold(spike_history(USER))
    event = transaction(USER, spike_at(), "48.00", event_id="spike-1")
    match = _spike(state, event)
    assert match is not None
    assert match.cause == "spike-1"
    assert match.features == {
        "spend_week": 168.0,
        "spend_week_baseline": 140.0,
        "spend_week_change_pct": 20.0,
        "spend_week_deviation": 0.0,
        "spend_week_zscore": 20.0,
    }
    assert {k: match.variables[k] for k in ("spend_week_change_pct", "spend_week")} == {
        "spend_week_change_pct": "20",
        "spend_week": "$168.00",
    }
    assert match.variables["spend_week_baseline"] == "$140.00"
    assert match.detail == (
        "Spending spike: transaction_direction debit = debit; "
        "spend_week_change_pct 20.0% ≥ 20%; spend_week $168.00 ≥ $100.00; "
        "spend_week_zscore 20 ≥ 2."
    )


@pytest.mark.parametrize(
    ("daily", "final", "fires"),
    [
        # baseline 7000 a week; this week 6000 + final
        ("10.00", "40.00", True),  # exactly the $100 minimum, +42.9 %
        ("10.00", "39.99", False),  # $99.99: +42.8 % but under the minimum
        ("5.00", "12.00", False),  # baseline 3500, this week 4200: +20 % but only $42
    ],
)
def test_spending_spike_minimum_amount(daily: str, final: str, fires: bool) -> None:
    state = fold(history(USER, START, days=34, daily=daily))
    assert (_spike(state, transaction(USER, spike_at(), final)) is not None) == fires


@pytest.mark.parametrize(
    ("first_day", "fires"),
    [
        # Day offsets from START; the spike is on day 34, this week is days 28-34 and the
        # baseline weeks are days 21-27, 14-20, 7-13 and 0-6.
        (0, True),  # four full weeks
        (14, True),  # exactly two full weeks
        (15, False),  # the second week starts the day before the first event: one week
        (21, False),  # one full week
        (28, False),  # only this week
    ],
)
def test_spending_spike_needs_two_full_baseline_weeks(first_day: int, fires: bool) -> None:
    first = START + timedelta(days=first_day)
    state = fold(history(USER, first, days=34 - first_day, daily="20.00"))
    assert state.first_day is not None
    match = _spike(state, transaction(USER, spike_at(), "500.00"))
    assert (match is not None) == fires


def test_spending_spike_new_user_with_one_huge_debit_does_not_fire() -> None:
    assert _spike(UserState(), transaction(USER, spike_at(), "9999.00")) is None


def test_spending_spike_ignores_credits() -> None:
    state = fold([*spike_history(USER), transaction(USER, spike_at(), "400.00")])
    # This week is already +271 %: any debit now matches ...
    debit = transaction(USER, spike_at(timedelta(hours=1)), "0.00")
    assert _spike(_clone(state), debit) is not None
    # ... but a credit does not, however big.
    credit = transaction(USER, spike_at(timedelta(hours=1)), "5000.00", direction="credit")
    assert _spike(state, credit) is None


def test_spending_spike_ignores_other_event_types() -> None:
    state = fold([*spike_history(USER), transaction(USER, spike_at(), "400.00")])
    assert _spike(state, income(USER, spike_at(timedelta(hours=1)), "10.00")) is None
    assert _spike(state, profile(USER, spike_at(timedelta(hours=2)), first_name="Ada")) is None


def test_spending_spike_with_zero_baseline_does_not_fire() -> None:
    state = fold([profile(USER, START, first_name="Ada")])  # seen 34 days ago, never spent
    assert _spike(state, transaction(USER, spike_at(), "500.00")) is None


def _clone(state: UserState) -> UserState:
    return UserState.from_bytes(state.to_bytes())


# --- income_drop -------------------------------------------------------------------------


def test_default_income_drop_configuration() -> None:
    assert DROP.thresholds == {"drop_percent": 15.0, "min_baseline": 100.0}
    assert DROP.cause == "closed_month"
    assert DROP.evaluate_on.events == ["income_deposit", "transaction"]


@pytest.mark.parametrize(
    ("closed_income", "fires"),
    [
        ("2550.00", True),  # exactly -15 %
        ("2553.00", False),  # -14.9 %
        ("2549.99", True),
        ("2550.01", False),
        ("0", True),  # nothing arrived: -100 %
        ("3000.00", False),
        ("4000.00", False),  # a rise is not a drop
    ],
)
def test_income_drop_threshold_edges(closed_income: str, fires: bool) -> None:
    state = fold(income_history(USER, closed_income))
    match = _drop(state, transaction(USER, JUNE, "5.00"))
    assert (match is not None) == fires


def test_income_drop_match_values() -> None:
    state = fold(income_history(USER, "2550.00"))
    match = _drop(state, transaction(USER, JUNE, "5.00"))
    assert match is not None
    assert match.cause == "month:2026-05"
    assert match.features == {
        "income_drop_pct": 15.0,
        "income_change_pct": -15.0,
        "income_closed_month": 2550.0,
        "income_month_baseline": 3000.0,
    }
    assert {k: match.variables[k] for k in ("income_drop_pct", "closed_month")} == {
        "income_drop_pct": "15",
        "closed_month": "2026-05",
    }
    assert match.variables["income_closed_month"] == "$2,550.00"
    assert match.detail == (
        "Income drop: income_drop_pct 15.0% ≥ 15%; income_month_baseline $3,000.00 ≥ $100.00."
    )


@pytest.mark.parametrize("partial_income", ["0", "9000.00", "10.00"])
def test_income_drop_partial_first_month_is_not_in_the_baseline(partial_income: str) -> None:
    # With February (the first, partial month) counted, the baseline would be
    # 200000 / 500000 / 203333 cents instead of 300000.
    state = fold(income_history(USER, "2550.00", partial_income=partial_income))
    match = _drop(state, transaction(USER, JUNE, "5.00"))
    assert match is not None
    assert match.features["income_month_baseline"] == 3000.0


def test_income_drop_is_judged_once_per_closed_month() -> None:
    state = fold(income_history(USER, "0"))
    assert _drop(state, transaction(USER, JUNE, "5.00")) is not None
    assert state.evaluated == {"income_drop": 2026 * 12 + 4}
    # A second event in June, even an income deposit, does not judge May again.
    assert _drop(state, income(USER, JUNE + timedelta(days=3), "1.00")) is None
    assert _drop(state, transaction(USER, JUNE + timedelta(days=20), "5.00")) is None


def test_income_drop_first_event_without_a_match_still_closes_the_month() -> None:
    state = fold(income_history(USER, "3000.00"))
    assert _drop(state, transaction(USER, JUNE, "5.00")) is None
    assert state.evaluated == {"income_drop": 2026 * 12 + 4}


def test_income_drop_late_event_of_an_earlier_month_does_not_reopen_it() -> None:
    state = fold(income_history(USER, "0"))
    assert _drop(state, transaction(USER, JUNE, "5.00")) is not None
    assert _drop(state, transaction(USER, datetime(2026, 5, 30, tzinfo=UTC), "5.00")) is None


def test_income_drop_needs_two_full_baseline_months() -> None:
    # First seen mid-March: the baseline of May has April only.
    state = fold(
        [
            transaction(USER, datetime(2026, 3, 15, tzinfo=UTC), "1.00"),
            income(USER, datetime(2026, 4, 1, tzinfo=UTC), "3000.00"),
        ]
    )
    assert _drop(state, transaction(USER, JUNE, "5.00")) is None
    assert state.evaluated == {"income_drop": 2026 * 12 + 4}


def test_income_drop_new_user_does_not_fire() -> None:
    assert _drop(UserState(), transaction(USER, JUNE, "5.00")) is None


@pytest.mark.parametrize(
    ("monthly", "fires"),
    [
        ("100.00", True),  # baseline exactly the $100 minimum
        ("99.99", False),
    ],
)
def test_income_drop_minimum_baseline(monthly: str, fires: bool) -> None:
    state = fold(
        [
            income(USER, datetime(2026, 2, 15, tzinfo=UTC), "1.00"),  # partial first month
            income(USER, datetime(2026, 3, 1, tzinfo=UTC), monthly),
            income(USER, datetime(2026, 4, 1, tzinfo=UTC), monthly),
        ]
    )
    assert (_drop(state, transaction(USER, JUNE, "5.00")) is not None) == fires
