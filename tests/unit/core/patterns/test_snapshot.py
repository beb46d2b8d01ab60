"""The users.analytics snapshot: when it is sent, what it holds, and its id."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from streams.core.decisions.process import process, process_idle
from streams.core.rendering import default_catalogue
from streams.core.state.analytics import Analytics
from streams.core.state.record import UserState
from tests.unit.factories import START, event

CATALOGUE = default_catalogue()
PAGE = {"type": "page_view", "path": "/"}
PRICING = {"type": "page_view", "path": "/pricing", "category": "pricing"}


def step(state: UserState, minutes: float, payload: dict[str, Any]) -> Any:
    item = event("ada", START + timedelta(minutes=minutes), payload, event_id=f"e-{minutes}")
    return process(state, item, [], CATALOGUE, now=item.occurred_at,
                   max_event_age_seconds=86_400, analytics=Analytics())  # fmt: skip


def test_a_snapshot_goes_out_on_the_first_event_of_each_day_and_on_a_change() -> None:
    state = UserState()
    # START is 12:00 UTC: 11 hours on is still that day, 13 hours on the next.
    sent = {minutes: step(state, minutes, PAGE).analytics for minutes in (0, 10, 660, 780)}
    assert [m for m, s in sent.items() if s is not None] == [0, 780]
    # The fifth page view in a week joins frequent_browsers: a change, sent that day.
    changed = step(state, 790, PAGE).analytics
    assert changed is not None
    assert changed.segments == ["frequent_browsers"]
    assert step(state, 795, PAGE).analytics is None


def test_the_snapshot_holds_the_scores_pattern_segments_and_sessions() -> None:
    state = UserState()
    first = step(state, 0, PRICING).analytics
    assert first is not None
    assert first.user_id == "ada" and first.source_event_id == "e-0"
    assert first.as_of == START and first.last_activity_at == START
    assert first.pattern == "researching"
    assert first.interest_score > 0 and first.engagement_score > 0
    assert first.sessions_7d == 1 and first.days_active_14d == 1
    assert first.segments == []


def test_a_timer_snapshot_follows_a_segment_change_and_repeats_its_id() -> None:
    state = UserState()
    step(state, 0, PAGE)
    later = START + timedelta(days=15)
    quiet = process_idle("ada", state, [], CATALOGUE, now=later, segments=True)
    assert quiet.analytics is not None
    assert quiet.analytics.segments == ["inactive_14d"]
    assert quiet.analytics.source_event_id is None
    state.segments.clear()
    again = process_idle("ada", state, [], CATALOGUE, now=later + timedelta(hours=1), segments=True)
    assert again.analytics is not None
    assert again.analytics.snapshot_id == quiet.analytics.snapshot_id
    unchanged = process_idle("ada", state, [], CATALOGUE, now=later, segments=True)
    assert unchanged.analytics is None
