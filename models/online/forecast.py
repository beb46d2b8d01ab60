"""Next week's spending: an exponentially weighted mean of the user's past weekly totals.

The record keeps daily debit totals for 42 days (``streams.core.state.fold``), so the last
``WEEKS_USED`` complete 7-day weeks before today are known. The forecast of the next seven
days is simple exponential smoothing over them, oldest first::

    level = week(oldest);  level = ALPHA * week + (1 - ALPHA) * level  (each later week)

Weeks before the user's first debit are not weeks of spending and are left out; fewer than
``MIN_WEEKS`` complete weeks give no forecast. No state of its own: it reads the daily
buckets the record keeps anyway. ``models.online_evaluation`` measures it against the
naive forecast (next week = last week) and river's Holt-Winters on the synthetic
population: the weekly totals are a steady level plus noise, which one week alone follows
noise and all.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Weight of the newest week.
ALPHA = 0.3
#: Complete weeks looked at (five fit in the 42 days kept, with a week of lateness).
WEEKS_USED = 5
#: Complete weeks needed before forecasting.
MIN_WEEKS = 2
DAYS_PER_WEEK = 7


def weekly_totals(daily_cents: Mapping[int, int], today: int, since: int | None) -> list[int]:
    """Return the complete 7-day totals (cents) before ``today``, oldest first.

    Args:
        daily_cents: UTC day number -> debits that day, in cents.
        today: The UTC day number of now; its own spending is not complete and not used.
        since: The day of the user's first debit (``None``: no debit, no weeks).
    """
    if since is None:
        return []
    weeks = []
    for back in range(WEEKS_USED, 0, -1):
        first = today - back * DAYS_PER_WEEK
        if first < since:
            continue
        weeks.append(sum(daily_cents.get(day, 0) for day in range(first, first + DAYS_PER_WEEK)))
    return weeks


def smoothed(weeks: list[int] | list[float], alpha: float = ALPHA) -> float | None:
    """Return the exponentially smoothed level of ``weeks`` (oldest first), or ``None``."""
    if len(weeks) < MIN_WEEKS:
        return None
    level = float(weeks[0])
    for week in weeks[1:]:
        level = alpha * week + (1 - alpha) * level
    return level


def next_week_cents(
    daily_cents: Mapping[int, int], today: int, since: int | None, alpha: float = ALPHA
) -> float | None:
    """Return the forecast of the next seven days' debits in cents, or ``None`` (too new)."""
    return smoothed(weekly_totals(daily_cents, today, since), alpha)


def overspend_pct(spent: float, daily_rate: float, days_left: float, income: float) -> float | None:
    """Return by how much spending will pass income by the next payday, in percent of income.

    ``(spent so far + daily_rate * days_left - income) / income * 100``: positive when the
    forecast says the money runs out before the next pay. ``None`` without an income.
    """
    if income <= 0:
        return None
    return (spent + daily_rate * max(days_left, 0.0) - income) / income * 100
