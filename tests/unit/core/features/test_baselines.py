"""Weekly spending and monthly income baselines: windows, edges and the maths."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.core.features.baselines import (
    Baseline,
    monthly_income_baseline,
    percent_change,
    summarise,
    trend_of,
    week_spend,
    weekly_spend_baseline,
    zscore,
)

DAY = 1000  # an arbitrary UTC day number


# --- week_spend --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "counted"),
    [
        (DAY, True),  # the end day itself
        (DAY - 6, True),  # the oldest day of the window
        (DAY - 7, False),  # one day too old
        (DAY + 1, False),  # after the window
    ],
)
def test_week_spend_window_edges(day: int, counted: bool) -> None:
    assert week_spend({day: 1234}, DAY) == (1234 if counted else 0)


def test_week_spend_sums_the_seven_days() -> None:
    daily = {DAY - d: 100 * (d + 1) for d in range(10)}  # 100 on DAY, 200 on DAY-1, ...
    assert week_spend(daily, DAY) == sum(100 * (d + 1) for d in range(7))


# --- weekly_spend_baseline ---------------------------------------------------------------


def _weeks(end_day: int, totals_oldest_first: list[int]) -> dict[int, int]:
    """One bucket per baseline week (on its last day), oldest first, before ``end_day``."""
    n = len(totals_oldest_first)
    return {end_day - (n - i) * 7: total for i, total in enumerate(totals_oldest_first)}


def test_weekly_baseline_without_first_day_is_none() -> None:
    assert weekly_spend_baseline(_weeks(DAY, [100, 200, 300, 400]), DAY, None) is None


@pytest.mark.parametrize(
    ("first_day", "periods"),
    [
        (DAY - 13, None),  # only the week just before: 1 full week
        (DAY - 19, None),  # second week starts the day before first_day: still 1
        (DAY - 20, 2),  # exactly two full weeks
        (DAY - 27, 3),
        (DAY - 34, 4),
        (DAY - 400, 4),  # at most BASELINE_WEEKS
    ],
)
def test_weekly_baseline_counts_only_full_weeks_after_first_day(
    first_day: int, periods: int | None
) -> None:
    baseline = weekly_spend_baseline(_weeks(DAY, [100, 200, 300, 400]), DAY, first_day)
    assert (baseline.periods if baseline else None) == periods


def test_weekly_baseline_excludes_windows_before_first_day() -> None:
    # Weeks of 100, 200, 300, 400 (oldest first); the two oldest start before first_day.
    baseline = weekly_spend_baseline(_weeks(DAY, [100, 200, 300, 400]), DAY, DAY - 20)
    assert baseline == Baseline(mean=350.0, deviation=50.0, trend=100.0, periods=2)


def test_weekly_baseline_averages_four_weeks_and_ignores_the_current_week() -> None:
    daily = _weeks(DAY, [100, 200, 300, 400])
    daily[DAY] = 1_000_000  # the current week is not part of its own baseline
    daily[DAY - 35] = 1_000_000  # nor is a fifth, older week
    baseline = weekly_spend_baseline(daily, DAY, DAY - 400)
    assert baseline is not None
    assert baseline.mean == 250.0
    assert baseline.periods == 4


def test_weekly_baseline_counts_days_without_spend_as_zero() -> None:
    baseline = weekly_spend_baseline({DAY - 7: 700}, DAY, DAY - 34)
    assert baseline == summarise([0, 0, 0, 700])


# --- summarise ---------------------------------------------------------------------------


def test_summarise_known_series() -> None:
    baseline = summarise([100, 200, 300, 400])
    assert baseline.mean == 250.0
    assert baseline.trend == 100.0
    assert baseline.deviation == pytest.approx(statistics.pstdev([100, 200, 300, 400]))
    assert baseline.deviation == pytest.approx(111.80339887498948)
    assert baseline.periods == 4


def test_summarise_falling_series_has_negative_trend() -> None:
    assert summarise([400, 300, 200, 100]).trend == -100.0


def test_summarise_single_value() -> None:
    assert summarise([500]) == Baseline(mean=500.0, deviation=0.0, trend=0.0, periods=1)


@given(value=st.integers(0, 10**12), n=st.integers(1, 60))
def test_summarise_constant_series_has_no_deviation_or_trend(value: int, n: int) -> None:
    baseline = summarise([value] * n)
    assert baseline.mean == value
    assert baseline.deviation == 0
    assert baseline.trend == 0
    assert baseline.periods == n


@given(
    start=st.integers(-(10**6), 10**6),
    step=st.integers(-(10**6), 10**6),
    n=st.integers(2, 30),
)
def test_summarise_trend_of_an_arithmetic_series_is_its_step(start: int, step: int, n: int) -> None:
    series = [start + step * i for i in range(n)]
    baseline = summarise(series)
    assert baseline.trend == pytest.approx(step, abs=1e-6)
    assert baseline.mean == pytest.approx(statistics.mean(series))


# --- monthly_income_baseline -------------------------------------------------------------

MONTH = 2026 * 12 + 4  # May 2026, the closed month being judged


def test_monthly_baseline_excludes_the_partial_first_month() -> None:
    income = {MONTH - 3: 900_000, MONTH - 2: 300_000, MONTH - 1: 300_000, MONTH: 1}
    baseline = monthly_income_baseline(income, MONTH, since_month=MONTH - 3)
    assert baseline == Baseline(mean=300_000.0, deviation=0.0, trend=0.0, periods=2)


def test_monthly_baseline_uses_three_months_when_they_are_full() -> None:
    income = {MONTH - 4: 5, MONTH - 3: 100, MONTH - 2: 200, MONTH - 1: 300, MONTH: 7}
    baseline = monthly_income_baseline(income, MONTH, since_month=MONTH - 4)
    assert baseline is not None
    assert (baseline.mean, baseline.trend, baseline.periods) == (200.0, 100.0, 3)


@pytest.mark.parametrize("first_day_month", [None, MONTH - 2, MONTH - 1, MONTH])
def test_monthly_baseline_needs_two_full_months(first_day_month: int | None) -> None:
    income = {MONTH - 3: 300_000, MONTH - 2: 300_000, MONTH - 1: 300_000}
    assert monthly_income_baseline(income, MONTH, first_day_month) is None


def test_monthly_baseline_counts_a_month_without_income_as_zero() -> None:
    baseline = monthly_income_baseline({MONTH - 1: 300_000}, MONTH, MONTH - 3)
    assert baseline is not None
    assert (baseline.mean, baseline.periods) == (150_000.0, 2)


# --- percent_change ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "baseline", "expected"),
    [
        (120, 100, 20.0),
        (16800, 14000, 20.0),
        (16786, 14000, 19.9),
        (85, 100, -15.0),
        (255_000, 300_000, -15.0),
        (255_300, 300_000, -14.9),
        (0, 100, -100.0),
        (100, 100, 0.0),
    ],
)
def test_percent_change_is_exact_on_edges(current: int, baseline: int, expected: float) -> None:
    assert percent_change(current, baseline) == expected


@given(
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x != 0),
)
def test_percent_change_of_a_value_against_itself_is_zero(value: float) -> None:
    assert percent_change(value, value) == 0


# --- spread and trend: the z-score and the direction ---------------------------------------


@pytest.mark.parametrize(
    ("weeks", "current", "expected"),
    [
        ([100, 100, 100, 100], 120, 20.0),  # no spread: floored at 1 % of the mean
        ([10, 10, 10, 10], 13, 3.0),  # 1 % of a tiny mean is under a cent: floored at 1
        ([80, 120, 80, 120], 140, 2.0),  # deviation 20: exactly 2 sigma
        ([80, 120, 80, 120], 139, 1.95),
        ([60, 140, 60, 140], 125, 0.625),  # swings by 40 %: +25 % is not unusual
        ([100, 100, 100, 100], 80, -20.0),
    ],
)
def test_zscore_against_the_baseline_spread(
    weeks: list[int], current: int, expected: float
) -> None:
    assert zscore(current, summarise(weeks)) == expected


@pytest.mark.parametrize(
    ("periods", "trend"),
    [
        ([100, 100, 100, 100], "stable"),
        ([97, 99, 101, 103], "stable"),  # the fitted line rises 6 over a mean of 100
        ([95, 105], "increasing"),  # exactly +10 %
        ([105, 95], "decreasing"),  # exactly -10 %
        ([90, 97, 103, 110], "increasing"),
        ([110, 103, 97, 90], "decreasing"),
        ([100, 110], "stable"),  # +10 over a mean of 105: 9.5 %
        ([100, 112], "increasing"),  # +12 over 106: 11.3 %
        ([0, 0], "stable"),  # no mean, no direction
        ([100], "stable"),
    ],
)
def test_trend_of_a_baseline(periods: list[int], trend: str) -> None:
    assert trend_of(summarise(periods)) == trend
