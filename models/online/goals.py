"""The probability of reaching a savings goal by its deadline, from the progress so far.

Each progress report (``saved`` at a time) after the first gives an interval: ``dt`` days in
which ``ds`` was saved. Over the intervals, the daily saving rate and its variance are::

    mu = sum(ds) / sum(dt)
    sigma2 = (sum(ds**2 / dt) - sum(ds)**2 / sum(dt)) / n

over the ``n`` intervals (the maximum-likelihood estimates when a day's saving is
independent with mean ``mu`` and variance ``sigma2``, so an interval of ``dt`` days saves
``mu * dt`` with variance ``sigma2 * dt``). With ``D`` days left and ``need`` still to
save, what will be saved is about normal with mean ``mu * D`` and a variance from the days
to come and from the rate itself, known only from the ``sum(dt)`` days so far (its variance
``sigma2 / sum(dt)``), so the probability of reaching the target is::

    P = Phi((mu * D - need) / sqrt(sigma2 * D * (1 + D / sum(dt)) + (VARIANCE_FLOOR * mu)**2 * D))

(a floor on the spread, so two identical deposits do not make a certainty). Reached goals
are 1; a deadline passed with money still to save is 0; a goal with no deadline or a
single report has none (``None``).

Layout of one goal in ``UserState.goal_progress`` (goal id -> list): see the indices below.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

LAST_AT, LAST_SAVED, SUM_DT, SUM_DS, SUM_DS2_DT, TARGET, DEADLINE, INTERVALS = range(8)

#: The spread never goes below this share of the mean daily rate.
VARIANCE_FLOOR = 0.25
#: Intervals shorter than this (days) are merged into the next: same-day reports.
MIN_INTERVAL_DAYS = 0.5
SECONDS_PER_DAY = 86_400.0
DECIMALS = 4


def start(at: float, saved: float, target: float, deadline_day: int | None) -> list[Any]:
    """Return a goal's figures at its first report (epoch seconds, dollars, UTC day)."""
    return [at, saved, 0.0, 0.0, 0.0, target, deadline_day, 0]


def note_progress(
    goal: list[Any], at: float, saved: float, target: float, deadline_day: int | None
) -> None:
    """Add a progress report; a report older than the last one changes only the target."""
    goal[TARGET] = target
    if deadline_day is not None:
        goal[DEADLINE] = deadline_day
    dt = (at - goal[LAST_AT]) / SECONDS_PER_DAY
    if dt < MIN_INTERVAL_DAYS:
        return  # too soon after the last report to say anything about a rate
    ds = saved - goal[LAST_SAVED]
    goal[SUM_DT] = round(goal[SUM_DT] + dt, DECIMALS)
    goal[SUM_DS] = round(goal[SUM_DS] + ds, DECIMALS)
    goal[SUM_DS2_DT] = round(goal[SUM_DS2_DT] + ds * ds / dt, DECIMALS)
    goal[INTERVALS] += 1
    goal[LAST_AT], goal[LAST_SAVED] = at, saved


def daily_rate(goal: list[Any]) -> float | None:
    """Return the mean saving per day so far, ``None`` before a second report."""
    return goal[SUM_DS] / goal[SUM_DT] if goal[SUM_DT] else None


def probability(goal: list[Any], now: float) -> float | None:
    """Return the probability of the goal being reached by its deadline (see the module)."""
    need = goal[TARGET] - goal[LAST_SAVED]
    if need <= 0:
        return 1.0
    deadline = goal[DEADLINE]
    if deadline is None or not goal[SUM_DT]:
        return None
    days = (deadline + 1) - now / SECONDS_PER_DAY
    if days <= 0:
        return 0.0
    total_dt = goal[SUM_DT]
    mu = goal[SUM_DS] / total_dt
    sigma2 = max(goal[SUM_DS2_DT] - goal[SUM_DS] ** 2 / total_dt, 0.0) / goal[INTERVALS]
    # The days to come vary (sigma2 * days), and so does the rate itself, known only from
    # the days so far (its variance sigma2 / total_dt, times days squared).
    spread = math.sqrt(sigma2 * days * (1 + days / total_dt) + (VARIANCE_FLOOR * mu) ** 2 * days)
    if spread == 0.0:
        return 1.0 if mu * days >= need else 0.0
    return round(_phi((mu * days - need) / spread), DECIMALS)


def least_likely(progress: Mapping[str, list[Any]], now: float) -> list[Any] | None:
    """Return the open goal (not sure to be reached) least likely to be, ``None`` if none."""
    judged = [
        (chance, goal)
        for goal in progress.values()
        if (chance := probability(goal, now)) is not None and chance < 1.0
    ]
    return min(judged, key=lambda pair: pair[0])[1] if judged else None


def days_left(goal: list[Any], now: float) -> float | None:
    """Return the days until the end of the deadline's day, ``None`` without a deadline."""
    deadline = goal[DEADLINE]
    if deadline is None:
        return None
    return float(deadline + 1 - now / SECONDS_PER_DAY)


def _phi(x: float) -> float:
    """The standard normal distribution function."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))
