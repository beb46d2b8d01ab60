"""The demo's behaviour-change expectation, counted from the published events.

It must agree with what the core decides from each user's folded record: the worker's
own path (counts kept in the record, its window, the judgement) against a plain tally.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from schemas.events import Event
from streams.core.behavior.change import BehaviorPolicy, judge_behavior
from streams.core.state.fold import apply_event
from streams.core.state.record import UserState
from streams.demo.behavior import behavior_lines
from streams.simulation.behavior_expectations import ActivityTally
from streams.simulation.population import Mix, population_events


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 12, 2, 4, 50, tzinfo=UTC),  # a Wednesday
        datetime(2026, 12, 7, 9, 0, tzinfo=UTC),  # a Monday after the grace
        datetime(2026, 12, 13, 22, 0, tzinfo=UTC),  # a Sunday night
    ],
)
def test_the_tally_expects_what_the_core_decides_from_the_records(now: datetime) -> None:
    personas = Mix(spike_share=0.1, income_drop_share=0.1, story_share=0.3).population(120, seed=5)
    tally = ActivityTally()
    states: dict[str, UserState] = defaultdict(UserState)
    for raw in tally.watch(population_events(personas, now=now, history_days=100, seed=5)):
        event = Event.model_validate(raw)
        apply_event(states[event.user_id], event)
    judged_at = now + timedelta(minutes=5)  # the timer's pass, a little after the history
    decided: dict[tuple[str, str], set[str]] = {}
    for user, state in states.items():
        for decision in judge_behavior(user, state, judged_at, BehaviorPolicy()).decisions:
            change = decision.behavior_change
            assert change is not None
            decided.setdefault((change.activity.value, change.direction), set()).add(user)
    expected = tally.expected(judged_at)
    assert expected == decided
    # Whatever the weekday, the login_surge story's logins rise (the fading story's
    # sessions fall on most weekdays, not when its quiet days straddle two weeks).
    surging = {p.user_id for p in personas if p.story == "login_surge"}
    assert surging and expected[("logins", "rise")] == surging


def test_the_table_says_whether_every_change_was_told() -> None:
    expected = {("sessions", "fall"): {"a", "b"}}
    lines, ok = behavior_lines(expected, {("sessions", "fall"): {"a", "b"}})
    assert ok and len(lines) == 10
    lines, ok = behavior_lines(expected, {("sessions", "fall"): {"a"}, ("logins", "rise"): {"c"}})
    assert not ok
    assert [line.split() for line in lines if "sessions" in line and "fall" in line] == [
        ["sessions", "fall", "2", "1", "1", "0"]
    ]
    assert ["logins", "rise", "0", "1", "0", "1"] in [line.split() for line in lines]
