"""Baselines derived from a user's event-time buckets: nothing here is stored.

Weekly spending is a trailing 7-day window ending on a given UTC day; its baseline is the
mean of the previous weekly windows (with deviation and trend). Monthly income compares a
closed calendar month with the mean of the months before it. Windows that start before the
user's first event are not counted, so a new user has no baseline instead of a zero one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DAYS_PER_WEEK = 7

#: Weekly windows averaged into the spending baseline.
BASELINE_WEEKS = 4
#: Fewer full weeks than this and there is no spending baseline yet.
MIN_BASELINE_WEEKS = 2

#: Closed months averaged into the income baseline.
BASELINE_MONTHS = 3
#: Fewer full months than this and there is no income baseline yet.
MIN_BASELINE_MONTHS = 2


@dataclass(frozen=True, slots=True)
class Baseline:
    """Mean, spread and direction of past periods (amounts in cents).

    Attributes:
        mean: Mean of the periods.
        deviation: Population standard deviation of the periods.
        trend: Least-squares slope per period, oldest to newest (cents per period).
        periods: How many periods went in.
    """

    mean: float
    deviation: float
    trend: float
    periods: int


def week_spend(daily_spend: dict[int, int], end_day: int) -> int:
    """Return the total (cents, or a count) of the 7 daily buckets ending on ``end_day``."""
    return sum(daily_spend.get(day, 0) for day in range(end_day - DAYS_PER_WEEK + 1, end_day + 1))


def weekly_spend_baseline(
    daily_spend: dict[int, int], end_day: int, since_day: int | None
) -> Baseline | None:
    """Return the baseline of the weeks before the week ending on ``end_day``.

    See ``baseline_weeks``; features that need only the mean use ``mean_of`` on those.
    """
    weeks = baseline_weeks(daily_spend, end_day, since_day)
    return None if weeks is None else summarise(weeks)


def baseline_weeks(
    daily_spend: dict[int, int], end_day: int, since_day: int | None
) -> list[int] | None:
    """Return the weekly totals a baseline is made of, oldest first, or ``None``.

    Args:
        daily_spend: UTC day number -> cents.
        end_day: Last day of the current week.
        since_day: First day of spending history; windows starting earlier are not counted.

    Returns:
        Up to ``BASELINE_WEEKS`` previous full weeks, or ``None`` with fewer than
        ``MIN_BASELINE_WEEKS`` of them.
    """
    if since_day is None:
        return None
    weeks = []
    for back in range(BASELINE_WEEKS, 0, -1):  # oldest first, for the trend
        week_end = end_day - back * DAYS_PER_WEEK
        if week_end - DAYS_PER_WEEK + 1 >= since_day:
            weeks.append(week_spend(daily_spend, week_end))
    return weeks if len(weeks) >= MIN_BASELINE_WEEKS else None


def monthly_income_baseline(
    monthly_income: dict[int, int], closed_month: int, since_month: int | None
) -> Baseline | None:
    """Return the income baseline of the months before ``closed_month`` (``baseline_months``)."""
    months = baseline_months(monthly_income, closed_month, since_month)
    return None if months is None else summarise(months)


def baseline_months(
    monthly_income: dict[int, int], closed_month: int, since_month: int | None
) -> list[int] | None:
    """Return the monthly incomes a baseline is made of, oldest first, or ``None``.

    Args:
        monthly_income: Month number -> cents.
        closed_month: The month being judged; the baseline is the months before it.
        since_month: Month of the first income. That month may be partial, so only
            months after it count.

    Returns:
        Up to ``BASELINE_MONTHS`` months, or ``None`` with fewer than
        ``MIN_BASELINE_MONTHS`` full months.
    """
    if since_month is None:
        return None
    months = [
        monthly_income.get(month, 0)
        for month in range(closed_month - BASELINE_MONTHS, closed_month)
        if month > since_month
    ]
    return months if len(months) >= MIN_BASELINE_MONTHS else None


def mean_of(values: list[int] | None) -> float | None:
    """Return the mean of a baseline's periods (what the features compare), or ``None``.

    The per-event path needs only this; ``summarise`` adds deviation and trend.
    """
    return None if values is None else sum(values) / len(values)


def summarise(values: list[int]) -> Baseline:
    """Return mean, population deviation and least-squares slope of ``values``."""
    n = len(values)
    mean = sum(values) / n
    # Plain floats: statistics.pstdev is exact (fractions) and was a per-event hot spot.
    deviation = math.sqrt(sum((v - mean) ** 2 for v in values) / n)
    x_mean = (n - 1) / 2
    denominator = sum((x - x_mean) ** 2 for x in range(n))
    trend = (
        sum((x - x_mean) * (y - mean) for x, y in enumerate(values)) / denominator
        if denominator
        else 0.0
    )
    return Baseline(mean=mean, deviation=deviation, trend=trend, periods=n)


#: A baseline's deviation is taken as at least this share of its mean (and one cent): a
#: user whose weeks never vary would otherwise make any rise infinitely unusual.
DEVIATION_FLOOR_SHARE = 0.01
#: The specification's variance threshold: a period this many deviations from the mean is
#: outside the user's usual spread (``*_zscore`` features; spending_spike's second guard).
VARIANCE_THRESHOLD_SIGMAS = 2.0
#: The baseline's fitted change from its oldest period to its newest, as a share of its
#: mean, from which its trend is increasing (or, falling as far, decreasing).
TREND_SHARE = 0.10


def zscore(current: float, baseline: Baseline) -> float:
    """Return how many deviations ``current`` is from the baseline's mean (same units).

    The deviation is floored at ``DEVIATION_FLOOR_SHARE`` of the mean and at 1: a
    perfectly steady user's rise is large, not infinite. Rounded to 1e-9, so exact edges
    stay exact.
    """
    spread = max(baseline.deviation, DEVIATION_FLOOR_SHARE * abs(baseline.mean), 1.0)
    return round((current - baseline.mean) / spread, 9)


def trend_of(baseline: Baseline) -> str:
    """Return ``increasing``, ``decreasing`` or ``stable``: the baseline's own direction.

    The least-squares line through its periods changes by ``trend * (periods - 1)`` from
    the oldest to the newest; against the mean, at least ``TREND_SHARE`` up is increasing,
    as far down decreasing. A zero mean is stable.
    """
    if baseline.periods < 2 or baseline.mean <= 0:
        return "stable"
    change = round(baseline.trend * (baseline.periods - 1) / baseline.mean, 9)
    if change >= TREND_SHARE:
        return "increasing"
    if change <= -TREND_SHARE:
        return "decreasing"
    return "stable"


def percent_change(current: float, baseline: float) -> float:
    """Return the change from ``baseline`` to ``current`` in percent, rounded to 1e-9.

    The rounding keeps exact edges exact: 120 over 100 is 20 %, not 19.999999999999996 %.
    """
    return round((current - baseline) / baseline * 100.0, 9)
