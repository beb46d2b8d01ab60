"""Next week's spending: the complete weeks it reads, the smoothing, the overspend."""

from __future__ import annotations

import pytest

from models.online import forecast
from models.online.forecast import ALPHA, DAYS_PER_WEEK, MIN_WEEKS, WEEKS_USED

TODAY = 20_500


def spent(per_day: dict[int, int]) -> dict[int, int]:
    """Daily totals keyed by days back from ``TODAY`` (1 is yesterday)."""
    return {TODAY - back: cents for back, cents in per_day.items()}


#: 100 cents every one of the 42 days before today, and 10 000 today.
STEADY = spent(dict.fromkeys(range(1, 43), 100)) | {TODAY: 10_000}


@pytest.mark.parametrize(
    ("daily", "since", "weeks"),
    [
        # Five complete weeks before today; today's own spending is not in any.
        (STEADY, TODAY - 42, [700] * WEEKS_USED),
        # The oldest week starts on the first debit's day: it counts...
        (STEADY, TODAY - 35, [700] * 5),
        # ...a day later it does not (the user was not spending yet).
        (STEADY, TODAY - 34, [700] * 4),
        (STEADY, TODAY - 8, [700]),
        (STEADY, TODAY - 7, [700]),
        (STEADY, TODAY - 6, []),
        (STEADY, TODAY, []),
        (STEADY, None, []),  # no debit at all
        # A week with nothing spent is a week of 0; days are placed by number.
        (spent({1: 5, 7: 6, 8: 7, 14: 8, 15: 9}), TODAY - 21, [9, 15, 11]),
        (spent({}), TODAY - 35, [0] * 5),
    ],
)
def test_weekly_totals_are_the_complete_weeks_before_today(
    daily: dict[int, int], since: int | None, weeks: list[int]
) -> None:
    assert forecast.weekly_totals(daily, TODAY, since) == weeks


@pytest.mark.parametrize(
    ("weeks", "level"),
    [
        ([100, 200, 400], 211.0),  # 100 -> 0.3 * 200 + 0.7 * 100 = 130 -> 120 + 91
        ([700, 700], 700.0),
        ([0, 1000], 300.0),
        ([1000, 0, 0, 0, 0], 1000 * 0.7**4),
        ([5, 1, 3, 9, 2], ((((5 * 0.7 + 0.3) * 0.7 + 0.9) * 0.7 + 2.7) * 0.7 + 0.6)),
    ],
)
def test_smoothed_is_simple_exponential_smoothing(weeks: list[int], level: float) -> None:
    assert ALPHA == 0.3  # the levels above are computed with it
    assert forecast.smoothed(weeks) == pytest.approx(level, abs=1e-9)


@pytest.mark.parametrize("weeks", [[], [700]])
def test_fewer_than_min_weeks_give_no_forecast(weeks: list[int]) -> None:
    assert len(weeks) < MIN_WEEKS
    assert forecast.smoothed(weeks) is None


def test_a_different_alpha_weighs_the_newest_week_so() -> None:
    assert forecast.smoothed([100, 200], alpha=1.0) == 200.0
    assert forecast.smoothed([100, 200], alpha=0.0) == 100.0


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (TODAY - 14, 700.0),
        (TODAY - 8, None),  # one complete week: not enough
        (None, None),
    ],
)
def test_next_week_cents_reads_the_daily_totals(since: int | None, expected: float | None) -> None:
    assert forecast.next_week_cents(STEADY, TODAY, since) == expected


def test_next_week_follows_a_change_in_level() -> None:
    # Four weeks at 700 then one at 1400: 700 -> 0.3 * 1400 + 0.7 * 700 = 910.
    daily = spent(dict.fromkeys(range(1, 36), 100) | dict.fromkeys(range(1, 8), 200))
    assert forecast.weekly_totals(daily, TODAY, TODAY - 35) == [700] * 4 + [1400]
    assert forecast.next_week_cents(daily, TODAY, TODAY - 35) == pytest.approx(910.0)
    assert DAYS_PER_WEEK == 7


@pytest.mark.parametrize(
    ("spent_so_far", "daily_rate", "days_left", "income", "pct"),
    [
        (1000.0, 50.0, 10.0, 2000.0, -25.0),  # (1000 + 500 - 2000) / 2000
        (1500.0, 50.0, 10.0, 2000.0, 0.0),  # exactly at the income
        (1500.0, 60.0, 10.0, 2000.0, 5.0),
        (2500.0, 0.0, 0.0, 2000.0, 25.0),  # already past it
        (1000.0, 50.0, -3.0, 2000.0, -50.0),  # payday past: no days left to spend
        (1000.0, 50.0, 10.0, 0.0, None),  # no income: nothing to compare with
        (1000.0, 50.0, 10.0, -5.0, None),
    ],
)
def test_overspend_pct(
    spent_so_far: float, daily_rate: float, days_left: float, income: float, pct: float | None
) -> None:
    found = forecast.overspend_pct(spent_so_far, daily_rate, days_left, income)
    assert found == (None if pct is None else pytest.approx(pct))
