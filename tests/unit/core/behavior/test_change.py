"""Behaviour change: the specification's rule (rise >= 100 %, fall >= 50 %), week by week.

Weeks are UTC, Monday to Sunday. ``START`` is a Monday: the histories below begin there,
so the four baseline weeks are full weeks of the user's history.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.records import BEHAVIOR_CHANGE_TRIGGER_ID, Outcome
from streams.core.behavior.change import (
    WEEK_CLOSE_GRACE,
    BehaviorPolicy,
    direction,
    judge_behavior,
    judged_week,
    judged_week_closed_at,
    memory_key,
    week_change,
)
from streams.core.state.activity_weeks import first_day_of_week, week_of_day
from streams.core.state.record import UserState
from streams.core.units import day_number
from tests.unit.factories import START, event, fold

WEEK0 = week_of_day(day_number(START))
SESSION = {"type": "app_session", "duration_seconds": 60.0}


def sessions(user: str, per_week: list[int]) -> list:
    """``per_week[i]`` app sessions in week ``i`` after ``START``, one every few hours."""
    return [
        event(user, START + timedelta(weeks=week, hours=3 * n), SESSION)
        for week, count in enumerate(per_week)
        for n in range(count)
    ]


def judged_at(weeks_after_start: int) -> datetime:
    """A moment when the week ``weeks_after_start - 1`` after START is the one judged."""
    return START + timedelta(weeks=weeks_after_start) + WEEK_CLOSE_GRACE


@pytest.mark.parametrize(
    ("baseline", "week", "expected_pct", "expected"),
    [
        # The specification's thresholds, edges included (exactly +100 % and -50 %).
        ([7, 7, 7, 7], 14, 100.0, "rise"),
        ([7, 7, 7, 7], 13, 85.71, None),
        ([7, 7, 7, 7], 21, 200.0, "rise"),
        ([8, 8, 8, 8], 4, -50.0, "fall"),
        ([8, 8, 8, 8], 5, -37.5, None),
        ([8, 8, 8, 8], 0, -100.0, "fall"),
        ([8, 8, 8, 8], 8, 0.0, None),
        # The baseline is the mean of the four weeks before, not the last one.
        ([2, 4, 10, 12], 14, 100.0, "rise"),  # against the last week alone: +17 %
        ([2, 4, 10, 12], 3, -57.14, "fall"),
        ([10, 0, 10, 0], 10, 100.0, "rise"),
    ],
)
def test_the_rule_table(
    baseline: list[int], week: int, expected_pct: float, expected: str | None
) -> None:
    weeks = {WEEK0 + i: n for i, n in enumerate([*baseline, week]) if n}
    change = week_change(weeks, WEEK0 + 4, day_number(START), min_baseline=0.0)
    assert change is not None
    assert round(change.change_pct, 2) == expected_pct
    assert (change.count, change.baseline) == (week, sum(baseline) / 4)
    assert direction(change.change_pct, BehaviorPolicy()) == expected


@pytest.mark.parametrize(
    ("first_day_offset", "baseline", "min_baseline", "judged"),
    [
        (0, [7, 7, 7, 7], 5.0, True),
        (1, [7, 7, 7, 7], 5.0, False),  # the first baseline week is not a full week of history
        (-30, [7, 7, 7, 7], 5.0, True),
        (0, [5, 5, 5, 5], 5.0, True),  # at the floor
        (0, [5, 5, 5, 4], 5.0, False),  # below it: 4.75 a week
        (0, [0, 0, 0, 0], 0.0, False),  # nothing to compare with, whatever the floor
        (0, [1, 0, 0, 0], 0.0, True),
    ],
)
def test_a_baseline_needs_four_full_weeks_and_the_floor(
    first_day_offset: int, baseline: list[int], min_baseline: float, judged: bool
) -> None:
    weeks = {WEEK0 + i: n for i, n in enumerate(baseline) if n}
    first_day = day_number(START) + first_day_offset
    assert (week_change(weeks, WEEK0 + 4, first_day, min_baseline) is not None) is judged


@pytest.mark.parametrize(
    ("at", "week"),
    [
        # Monday 00:00 ends a week; it is judged once the grace (6 h) has passed.
        (datetime(2026, 1, 12, 5, 59, tzinfo=UTC), WEEK0 - 1),
        (datetime(2026, 1, 12, 6, 0, tzinfo=UTC), WEEK0),
        (datetime(2026, 1, 18, 23, 59, tzinfo=UTC), WEEK0),
        (datetime(2026, 1, 19, 6, 0, tzinfo=UTC), WEEK0 + 1),
    ],
)
def test_the_week_judged_is_the_last_complete_one_after_its_grace(at: datetime, week: int) -> None:
    assert START.weekday() == 0
    assert judged_week(at) == week
    assert first_day_of_week(WEEK0) == day_number(START)
    closed = judged_week_closed_at(at)
    assert closed <= at and judged_week(closed) == week
    assert judged_week(closed - timedelta(microseconds=1)) == week - 1


def test_a_fall_is_told_once_with_the_activity_direction_and_size() -> None:
    state = fold(sessions("ada", [7, 7, 7, 7, 2]))
    judged = judge_behavior("ada", state, judged_at(5), BehaviorPolicy())
    (decision,) = judged.decisions
    assert decision.trigger_id == BEHAVIOR_CHANGE_TRIGGER_ID
    assert decision.outcome is Outcome.FIRED and decision.command_ids == []
    change = decision.behavior_change
    assert change is not None
    assert (change.activity.value, change.direction) == ("sessions", "fall")
    assert (change.change_pct, change.week_count, change.baseline_per_week) == (-71.43, 2, 7.0)
    assert change.week_start == (START + timedelta(weeks=4)).date()
    assert decision.features == {"sessions_week_change_pct": -71.43}
    assert "Sessions fell 71 %" in decision.detail and "usual 7.0 a week" in decision.detail
    # Judged again the same week (the next day's pass): nothing more, nothing changed.
    again = judge_behavior("ada", state, judged_at(5) + timedelta(days=1), BehaviorPolicy())
    assert again.decisions == [] and not again.changed


def test_a_change_that_goes_on_is_not_told_again_and_one_that_returns_is() -> None:
    policy = BehaviorPolicy()
    # 7 a week, then 2, 1 (the fall goes on), 9 (back: the mean of 7, 7, 2, 1 is 4.25,
    # below the floor, so not judged), 7, 7, 7, then 1 again.
    per_week = [7, 7, 7, 7, 2, 1, 9, 7, 7, 7, 1]
    state = fold(sessions("ada", per_week[:5]))
    told = []
    for week in range(5, 12):
        if week > 5:  # the week just ended is folded in as it happens
            later = sessions("ada", per_week[:week])[sum(per_week[: week - 1]) :]
            fold(later, state)
        judged = judge_behavior("ada", state, judged_at(week), policy)
        told += [(week, d.behavior_change.direction) for d in judged.decisions]  # type: ignore[union-attr]
    assert told == [(5, "fall"), (11, "fall")]
    assert memory_key("sessions") in state.evaluated  # the last fall is remembered


def test_the_memory_of_a_change_ends_with_it() -> None:
    state = fold(sessions("ada", [7, 7, 7, 7, 2, 7]))
    judge_behavior("ada", state, judged_at(5), BehaviorPolicy())
    assert state.evaluated == {memory_key("sessions"): -(WEEK0 + 4)}
    over = judge_behavior("ada", state, judged_at(6), BehaviorPolicy())
    assert over.changed and over.decisions == [] and state.evaluated == {}


def test_each_activity_is_judged_on_its_own() -> None:
    page = {"type": "page_view", "path": "/pricing"}
    views = [
        event("ada", START + timedelta(weeks=w, hours=n), page)
        for w, count in enumerate([6, 6, 6, 6, 12])
        for n in range(count)
    ]
    logins = [
        event("ada", START + timedelta(weeks=w, hours=n, minutes=30), {"type": "login"})
        for w, count in enumerate([5, 5, 5, 5, 5])
        for n in range(count)
    ]
    state = fold([*sessions("ada", [7, 7, 7, 7, 0]), *views, *logins])
    judged = judge_behavior("ada", state, judged_at(5), BehaviorPolicy())
    changes = {
        (d.behavior_change.activity.value, d.behavior_change.direction)  # type: ignore[union-attr]
        for d in judged.decisions
    }
    assert changes == {("sessions", "fall"), ("page_views", "rise")}
    assert len({d.decision_id for d in judged.decisions}) == 2


@pytest.mark.parametrize(
    ("policy", "told"),
    [
        (BehaviorPolicy(), ["fall"]),
        (BehaviorPolicy(fall_pct=80.0), []),
        (BehaviorPolicy(min_baseline=8.0), []),
        (BehaviorPolicy(enabled=False), []),
    ],
)
def test_the_settings_move_the_thresholds(policy: BehaviorPolicy, told: list[str]) -> None:
    state = fold(sessions("ada", [7, 7, 7, 7, 2]))
    judged = judge_behavior("ada", state, judged_at(5), policy)
    assert [d.behavior_change.direction for d in judged.decisions] == told  # type: ignore[union-attr]


def test_ids_repeat_for_the_same_week_so_a_repeated_pass_is_deduplicated() -> None:
    first = fold(sessions("ada", [7, 7, 7, 7, 2]))
    second = UserState.from_bytes(first.to_bytes())
    a = judge_behavior("ada", first, judged_at(5), BehaviorPolicy()).decisions
    b = judge_behavior("ada", second, judged_at(5) + timedelta(hours=3), BehaviorPolicy()).decisions
    assert [d.decision_id for d in a] == [d.decision_id for d in b]


def test_a_record_from_before_counting_is_not_judged_on_weeks_it_did_not_count() -> None:
    # A steady user (20 sessions a week) whose record was written by version 2: it has
    # history, but no weekly counts. Counting starts the week after its first event since.
    history = fold(sessions("ada", [20] * 4))
    old = history.to_bytes().replace(b'"v":3', b'"v":2')
    state = UserState.from_bytes(old)
    state.activity_weeks.clear()  # what version 2 kept: no weekly counts
    assert (state.first_day, state.activity_since) == (day_number(START), None)
    told = []
    for week in range(4, 13):
        fold(sessions("ada", [0] * week + [20])[-20:], state)  # week ``week``: 20 again
        if week == 4:
            assert state.activity_since == WEEK0 + 5  # the week after the upgrade's
        judged = judge_behavior("ada", state, judged_at(week + 1), BehaviorPolicy())
        told += judged.decisions
    assert told == []  # steady: no false rise against weeks counted as empty
    assert state.activity_since == 0  # its week has left the kept window (7 weeks)
    assert UserState.from_bytes(state.to_bytes()) == state


def test_a_change_is_not_told_twice_when_a_week_went_unjudged() -> None:
    policy = BehaviorPolicy()
    per_week = [10, 10, 10, 10, 40, 80, 160]
    state = fold(sessions("ada", per_week[:5]))
    first = judge_behavior("ada", state, judged_at(5), policy).decisions
    fold(sessions("ada", per_week)[sum(per_week[:5]) :], state)
    # No pass judged week 5 (80): week 6 (160) is the same rise going on.
    later = judge_behavior("ada", state, judged_at(7), policy).decisions
    assert [d.behavior_change.week_count for d in first] == [40]  # type: ignore[union-attr]
    assert later == []


def test_a_change_that_ended_in_an_unjudged_week_and_came_back_is_told() -> None:
    policy = BehaviorPolicy()
    per_week = [10, 10, 10, 10, 40, 10, 40]
    state = fold(sessions("ada", per_week[:5]))
    assert len(judge_behavior("ada", state, judged_at(5), policy).decisions) == 1
    fold(sessions("ada", per_week)[sum(per_week[:5]) :], state)
    # Week 5 (10) was back to usual; week 6 (40 against 17.5) rises anew.
    again = judge_behavior("ada", state, judged_at(7), policy).decisions
    assert [d.behavior_change.week_count for d in again] == [40]  # type: ignore[union-attr]
