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


def test_the_snapshot_holds_the_forecast_and_the_least_likely_goal() -> None:
    state = UserState()
    day = 1440  # minutes
    # A goal of $1,000 due in 60 days, $10 saved a day: far short; another of $100 with
    # $99 saved, reported once (no rate yet, so no probability).
    created = {
        "type": "goal_modification",
        "goal_id": "car",
        "action": "created",
        "target": "1000",
        "deadline": (START + timedelta(days=60)).date().isoformat(),
    }
    step(state, 0, created)
    for week in range(3):  # three complete weeks of $70, then the forecast's day
        for d in range(7):
            minutes = (week * 7 + d) * day + 60
            step(state, minutes, {"type": "transaction", "amount": "10.00"})
            step(
                state,
                minutes + 1,
                {
                    "type": "savings_progress",
                    "goal_id": "car",
                    "saved": str(10 * (week * 7 + d + 1)),
                    "target": "1000",
                },
            )
    sure = {"type": "savings_progress", "goal_id": "bike", "saved": "99", "target": "100",
            "deadline": (START + timedelta(days=60)).date().isoformat()}  # fmt: skip
    step(state, 20 * day + 120, sure)
    sent = step(state, 21 * day, PAGE).analytics  # a new day: a snapshot
    assert sent is not None
    assert sent.spend_forecast_week == 70.0  # every complete week was $70
    # Only "car" is in doubt (bike has no rate yet, so no probability); 39.5 days left at
    # $10 a day is $395 of the $790 still to save.
    assert sent.goal_probability is not None and sent.goal_probability < 0.01
    assert sent.goal_days_left == 39.5
    assert sent.forecast_overspend_pct is None  # no pay, no payday
