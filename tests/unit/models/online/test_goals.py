"""The probability of reaching a savings goal: the sums it keeps and the probability, by hand."""

from __future__ import annotations

import math
from typing import Any

import pytest

from models.online import goals
from models.online.goals import (
    DEADLINE,
    LAST_AT,
    LAST_SAVED,
    MIN_INTERVAL_DAYS,
    SUM_DS,
    SUM_DS2_DT,
    SUM_DT,
    TARGET,
    VARIANCE_FLOOR,
)

DAY = goals.SECONDS_PER_DAY
#: The deadline's UTC day number: 100 days after day 20 ends at the end of day 119.
DEADLINE_DAY = 119


def progressed(
    reports: list[tuple[float, float]], target: float = 1000.0, deadline: int | None = DEADLINE_DAY
) -> list[Any]:
    """A goal after ``(day, saved)`` reports, in the order given."""
    (first_day, first_saved), *rest = reports
    goal = goals.start(first_day * DAY, first_saved, target, deadline)
    for day, saved in rest:
        goals.note_progress(goal, day * DAY, saved, target, deadline)
    return goal


#: Day 0 $100, day 10 $200, day 20 $250: intervals (10 days, $100) and (10 days, $50).
STEADY = [(0.0, 100.0), (10.0, 200.0), (20.0, 250.0)]


def test_the_sums_of_a_known_sequence() -> None:
    goal = progressed(STEADY)
    # sum dt = 20, sum ds = 150, sum ds**2 / dt = 100**2 / 10 + 50**2 / 10 = 1250
    assert goal == [20 * DAY, 250.0, 20.0, 150.0, 1250.0, 1000.0, DEADLINE_DAY, 2]
    assert goals.daily_rate(goal) == 7.5
    assert goals.daily_rate(progressed(STEADY[:1])) is None


def test_a_withdrawal_is_a_negative_interval() -> None:
    goal = progressed([(0.0, 500.0), (5.0, 400.0)])
    assert (goal[SUM_DT], goal[SUM_DS], goal[SUM_DS2_DT]) == (5.0, -100.0, 2000.0)


# mu = 150 / 20 = 7.5 a day; sigma2 = (1250 - 150**2 / 20) / 2 intervals = 62.5.
# With 100 days left after 20 observed: mean 750, spread
# sqrt(62.5 * 100 * (1 + 100 / 20) + (0.25 * 7.5)**2 * 100) = sqrt(37851.5625).
MU, SIGMA2, DAYS, OBSERVED = 7.5, 62.5, 100.0, 20.0
SPREAD = math.sqrt(SIGMA2 * DAYS * (1 + DAYS / OBSERVED) + (VARIANCE_FLOOR * MU) ** 2 * DAYS)


@pytest.mark.parametrize(
    ("target", "now_day", "expected"),
    [
        (250.0 + 750.0, 20.0, 0.5),  # need 750 = the mean: a coin toss
        (250.0 + 750.0 - SPREAD, 20.0, 0.8413),  # one spread below: Phi(1)
        (250.0 + 750.0 + 2 * SPREAD, 20.0, 0.0228),  # two spreads above: Phi(-2)
        (250.0, 20.0, 1.0),  # reached
        (100.0, 20.0, 1.0),  # passed
        (1000.0, DEADLINE_DAY + 1, 0.0),  # the deadline's day is over, money still needed
        # Half of the deadline's day left to save 750 at 7.5 a day: Phi(-337), nil.
        (1000.0, DEADLINE_DAY + 0.5, 0.0),
        # 50 days left, need 375 = 7.5 * 50: the mean again, whatever the spread
        (250.0 + 375.0, DEADLINE_DAY + 1 - 50, 0.5),
    ],
)
def test_probability_by_hand(target: float, now_day: float, expected: float) -> None:
    assert SPREAD == math.sqrt(37851.5625)
    goal = progressed(STEADY, target=target)
    assert goals.probability(goal, now_day * DAY) == expected


@pytest.mark.parametrize(
    ("reports", "deadline", "expected"),
    [
        (STEADY, None, None),  # no deadline: no probability
        (STEADY[:1], DEADLINE_DAY, None),  # one report: no rate yet
        ([(0.0, 100.0), (0.2, 900.0)], DEADLINE_DAY, None),  # ...nor after a same-day one
        ([(0.0, 1000.0)], None, 1.0),  # reached, whatever else is known
    ],
)
def test_no_probability_without_a_deadline_or_a_rate(
    reports: list[tuple[float, float]], deadline: int | None, expected: float | None
) -> None:
    goal = progressed(reports, deadline=deadline)
    assert goals.probability(goal, 20 * DAY) == expected


@pytest.mark.parametrize(
    ("reports", "target", "expected"),
    [
        # Nothing saved in 20 days: mu = 0 and sigma2 = 0, no spread at all: 0.
        ([(0.0, 100.0), (10.0, 100.0), (20.0, 100.0)], 200.0, 0.0),
        # Identical deposits: sigma2 = 0 but the floor keeps a spread.
        # mu = 10, spread = sqrt((0.25 * 10)**2 * 100) = 25, need 950 vs mean 1000: Phi(2)
        ([(0.0, 0.0), (10.0, 100.0), (20.0, 200.0)], 1150.0, 0.9772),
    ],
)
def test_the_spread_floor(
    reports: list[tuple[float, float]], target: float, expected: float
) -> None:
    assert goals.probability(progressed(reports, target=target), 20 * DAY) == expected


@pytest.mark.parametrize(
    ("now_day", "deadline", "left"),
    [
        (20.0, DEADLINE_DAY, 100.0),
        (20.5, DEADLINE_DAY, 99.5),
        (DEADLINE_DAY + 1.0, DEADLINE_DAY, 0.0),
        (DEADLINE_DAY + 3.0, DEADLINE_DAY, -2.0),  # past: negative
        (20.0, None, None),
    ],
)
def test_days_left(now_day: float, deadline: int | None, left: float | None) -> None:
    goal = progressed(STEADY, deadline=deadline)
    assert goals.days_left(goal, now_day * DAY) == left


def test_a_late_report_only_changes_the_target_and_deadline() -> None:
    goal = progressed(STEADY)
    before = list(goal)
    goals.note_progress(goal, 15 * DAY, 230.0, 1200.0, DEADLINE_DAY + 30)  # older than day 20
    assert goal[TARGET] == 1200.0 and goal[DEADLINE] == DEADLINE_DAY + 30
    unchanged = [LAST_AT, LAST_SAVED, SUM_DT, SUM_DS, SUM_DS2_DT]
    assert [goal[i] for i in unchanged] == [before[i] for i in unchanged]


def test_a_report_without_deadline_keeps_the_known_one() -> None:
    goal = progressed(STEADY)
    goals.note_progress(goal, 30 * DAY, 300.0, 1000.0, None)
    assert goal[DEADLINE] == DEADLINE_DAY


def test_reports_under_half_a_day_apart_are_merged_into_the_next() -> None:
    goal = progressed(STEADY)
    # Day 20.25: too soon after day 20 to be an interval; day 21: one interval from day 20.
    goals.note_progress(goal, 20.25 * DAY, 260.0, 1000.0, DEADLINE_DAY)
    assert (goal[LAST_AT], goal[SUM_DT]) == (20 * DAY, 20.0)
    goals.note_progress(goal, 21 * DAY, 280.0, 1000.0, DEADLINE_DAY)
    # + dt 1, ds 30, ds**2 / dt 900 (not two intervals of 0.25 and 0.75 days)
    assert goal[LAST_AT : SUM_DS2_DT + 1] == [21 * DAY, 280.0, 21.0, 180.0, 2150.0]
    # exactly half a day is an interval
    goals.note_progress(goal, (21 + MIN_INTERVAL_DAYS) * DAY, 290.0, 1000.0, DEADLINE_DAY)
    assert (goal[SUM_DT], goal[SUM_DS], goal[SUM_DS2_DT]) == (21.5, 190.0, 2350.0)
