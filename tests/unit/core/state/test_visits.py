"""Visits (sessions) in event time: the gap, session ids, late events, daily totals."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from schemas.events import Event
from streams.core.state.fold import apply_event
from streams.core.state.record import UserState
from streams.core.state.visits import DETAIL_DAYS, SOURCE_BITS, VISIT_DAYS_KEPT, VisitPolicy
from streams.core.units import day_number
from tests.unit.factories import START, event

PAGE = {"type": "page_view", "path": "/pricing"}
DAY0 = day_number(START)


def page(minutes: float, session_id: str | None = None, seconds: float | None = None) -> Event:
    payload: dict[str, Any] = {**PAGE, "duration_seconds": seconds} if seconds else PAGE
    built = event("ada", START + timedelta(minutes=minutes), payload)
    return built.model_copy(update={"session_id": session_id}) if session_id else built


def fold(events: list[Event], policy: VisitPolicy | None = None) -> UserState:
    state = UserState()
    for item in events:
        apply_event(state, item, visits=policy or VisitPolicy())
    return state


def visits_of(state: UserState) -> int:
    return sum(totals[0] for totals in state.visit_days.values())


@pytest.mark.parametrize(
    ("minutes", "visits"),
    [
        ([0, 10, 20], 1),
        ([0, 30], 1),  # exactly the gap: the same visit
        ([0, 30.5], 2),  # past it: a new one
        ([0, 29, 58, 87], 1),  # each within the gap of the last
        ([0, 60, 120], 3),
    ],
)
def test_a_visit_ends_after_30_minutes_without_activity(minutes: list[float], visits: int) -> None:
    state = fold([page(m) for m in minutes])
    assert visits_of(state) == visits
    assert state.visit_days[DAY0][1] == len(minutes)  # every page counted


def test_the_gap_is_a_setting() -> None:
    events = [page(0), page(20)]
    assert visits_of(fold(events, VisitPolicy(gap=600))) == 2
    assert visits_of(fold(events, VisitPolicy(gap=1800))) == 1


def test_a_session_id_holds_its_events_whatever_the_gap() -> None:
    state = fold([page(0, "s1"), page(90, "s1"), page(5, "s2"), page(95, "s2")])
    assert visits_of(state) == 2
    assert sorted(v[2] for v in state.visits) == [2, 2]
    assert state.visit_days[DAY0][2] == 2 * 90 * 60  # two visits of 90 minutes


def test_a_late_event_joins_its_visit_and_one_that_bridges_two_merges_them() -> None:
    state = fold([page(0), page(50), page(25)])  # 25 arrives last: it joins 0 and 50
    assert visits_of(state) == 1
    assert state.visits == [[int(START.timestamp()), int(START.timestamp()) + 3000, 3, 0]]
    assert state.visit_days[DAY0] == [1, 3, 3000]


def test_an_event_later_than_the_lateness_is_not_sessionised() -> None:
    policy = VisitPolicy(lateness=3600)
    state = fold([page(0), page(600), page(30)], policy)  # 10 h later, then 30 min after 0
    assert visits_of(state) == 2  # the one at 0 was closed: nothing joins it any more
    assert state.visit_days[DAY0][1] == 2
    assert state.counts["page_view"] == 3  # the event itself is still counted


def test_a_visit_counts_on_its_start_day_and_moves_with_an_earlier_start() -> None:
    midnight = 24 * 60 - START.hour * 60  # minutes from START to the next midnight
    state = fold([page(midnight + 10), page(midnight - 10)])
    assert visits_of(state) == 1
    assert state.visit_days == {DAY0: [1, 2, 1200]}


def test_app_sessions_span_their_duration_and_pages_their_reading_time() -> None:
    ended = event(
        "ada", START + timedelta(minutes=10), {"type": "app_session", "duration_seconds": 600.0}
    )
    state = fold([ended, page(0, seconds=30)])
    assert visits_of(state) == 1
    assert state.visit_days[DAY0] == [1, 1, 600]


def test_sources_are_kept_as_bits() -> None:
    web = event("ada", START, PAGE)
    opened = {"event_id": "e-2", "source": "email", "payload": {"type": "email_open"}}
    email = Event.model_validate({**web.model_dump(mode="json"), **opened})
    state = fold([web, email])
    assert state.visit_sources == SOURCE_BITS["app"] | SOURCE_BITS["email"]


def test_old_days_keep_their_visits_only_and_leave_after_30_days() -> None:
    state = fold([page(day * 24 * 60) for day in range(VISIT_DAYS_KEPT + 3)])
    newest = max(state.visit_days)
    assert min(state.visit_days) == newest - VISIT_DAYS_KEPT + 1
    for day, totals in state.visit_days.items():
        detail = day > newest - DETAIL_DAYS
        assert totals == ([1, 1, 0] if detail else [1, 0, 0])


def test_the_encoding_round_trips() -> None:
    rng = random.Random(4)
    for _ in range(60):
        minutes = sorted(rng.uniform(0, 40 * 24 * 60) for _ in range(rng.randint(1, 80)))
        rng.shuffle(minutes[-5:])  # a few late ones at the end
        events = [page(m, rng.choice([None, "a", "b"]), rng.choice([None, 12.5])) for m in minutes]
        state = fold(events)
        again = UserState.from_bytes(state.to_bytes())
        assert again == state
