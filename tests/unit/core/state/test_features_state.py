"""The state the catalogue's new features read: how events fold into it, its size, its
serialisation (also of records written before these fields), and every feature on every
event type."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import EVENT_TYPES, Event
from schemas.features import FEATURES, FeatureKind
from streams.core.features.context import Before, format_value
from streams.core.features.registry import COMPUTE, DEPENDS, event_context
from streams.core.state.fold import (
    GOALS_KEPT,
    PAGE_VIEW_HOURS_KEPT,
    QUOTE_TIMES_KEPT,
    SESSION_DAYS_KEPT,
    apply_event,
    savings_milestone,
)
from streams.core.state.record import UserState
from streams.core.units import day_number, hour_number
from tests.unit.factories import START, event, fold, history, profile, transaction

USER = "user-1"

#: One valid payload of every event type.
PAYLOADS: dict[str, dict[str, Any]] = {
    "transaction": {"amount": "12.50"},
    "income_deposit": {"amount": "2500"},
    "balance_snapshot": {"balance": "800", "credit_limit": "1000", "account_kind": "credit_card"},
    "savings_progress": {"goal_id": "g", "saved": "300", "target": "1000"},
    "payment": {"status": "due", "amount": "50"},
    "purchase": {"product_id": "premium", "amount": "9.99"},
    "page_view": {"path": "/home"},
    "form_start": {"form_id": "auto-quote", "product": "car insurance"},
    "form_submit": {"form_id": "auto-quote"},
    "form_abandon": {"form_id": "auto-quote", "product": "  "},
    "quote_request": {"product": "home insurance"},
    "application_start": {"application_id": "a", "product": "loan"},
    "application_complete": {"application_id": "a", "product": "loan"},
    "app_session": {"duration_seconds": 60},
    "feature_used": {"feature": "budget"},
    "login": {"method": "biometric"},
    "search_query": {"query": "car insurance quote", "results": 12},
    "video_play": {"video_id": "how-loans-work", "seconds_watched": 95.0, "category": "product"},
    "download": {"asset": "rate-sheet-2026", "category": "pricing"},
    "scroll_depth": {"path": "/pricing", "percent": 80},
    "click_outbound": {"url": "https://example.com/partner"},
    "email_reply": {"command_id": "c-1"},
    "phone_call": {"direction": "inbound", "duration_seconds": 240.0},
    "social_share": {"network": "linkedin", "path": "/offers/card"},
    "email_open": {},
    "email_click": {},
    "recommendation_interaction": {"recommendation_id": "r", "action": "shown"},
    "alert_rule": {"action": "enabled", "alert_type": "high_spender"},
    "goal_modification": {"goal_id": "other", "action": "updated", "target": "2000"},
    "health_signal": {"exercise_minutes": 10, "stress_level": 0.8, "sleep_hours": 5},
    "career_signal": {"salary": "50000", "market_rate": "60000", "field": "law",
                      "missing_skills": ["a", "b"], "job_matches": 3},
    "profile_update": {"relationship_status": "married", "tier": "free"},
    "risk_score": {"score": 0.3},
    "comms_outcome": {"command_id": "c", "outcome": "opened"},
}  # fmt: skip

_KIND_TYPES = {
    FeatureKind.NUMBER: float,
    FeatureKind.TEXT: str,
    FeatureKind.BOOLEAN: bool,
    FeatureKind.MOMENT: float,
}


def typed(kind: str, offset: timedelta = timedelta(), **extra: Any) -> Event:
    return event(USER, START + offset, {"type": kind, **PAYLOADS[kind], **extra})


def rich_state() -> UserState:
    """A user with some of everything the new features read."""
    return fold(
        [
            *history(USER, days=28),
            profile(USER, START, tier="free", relationship_status="single"),
            *(typed(kind, timedelta(days=28, hours=h)) for h, kind in enumerate(PAYLOADS)),
        ]
    )


def test_payloads_cover_every_event_type() -> None:
    assert set(PAYLOADS) == set(EVENT_TYPES)


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
@pytest.mark.parametrize("make_state", [UserState, rich_state])
def test_every_feature_computes_on_every_event_type(kind: str, make_state: Any) -> None:
    # Messages format every feature that has a value, whatever the trigger: none may fail.
    state = make_state()
    final = typed(kind, timedelta(days=30))
    before = Before.of(state)
    apply_event(state, final)
    ctx = event_context(state, final, before)
    for name, feature in FEATURES.items():
        value = ctx.value(name)
        assert value is None or type(value) is _KIND_TYPES[feature.kind], (name, value)
    # Not everything is missing: the event's own features are there, and the rich user's
    # profile and history are read.
    assert ctx.value("event_type") == kind
    if make_state is rich_state:
        assert ctx.value("tier") == "free"
        assert ctx.value("days_since_first_seen") == 30.0
        assert sum(ctx.value(name) is not None for name in FEATURES) >= 20


def test_depends_name_known_features_and_compute_matches_the_contract() -> None:
    assert set(COMPUTE) == set(FEATURES)
    for name, inputs in DEPENDS.items():
        assert name in FEATURES and set(inputs) <= set(FEATURES), name
    assert all(callable(compute) for compute in COMPUTE.values())


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (12.0, "count", "12"),
        (1.5, "count", "1.5"),  # a usual-use baseline: "1.5 ≥ 3", not "2 ≥ 3"
        (19.9, "minutes", "20"),
        (3.04, "times", "3.0"),
        (25.0, "times", "25.0"),
        (0.7, "", "0.7"),
        (1750.0, "dollars", "$1,750.00"),
    ],
)
def test_format_value_of_the_new_units(value: float, unit: str, shown: str) -> None:
    assert format_value(value, unit) == shown


# --- folding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("saved", "target", "milestone"),
    [("0", "1000", 0), ("249.99", "1000", 0), ("250", "1000", 25), ("333.33", "1000", 25),
     ("500", "1000", 50), ("999.99", "1000", 75), ("1000", "1000", 100), ("5000", "1000", 100),
     ("1", "0", 0), ("0.01", "0.03", 25)],
)  # fmt: skip
def test_savings_milestone_is_exact(saved: str, target: str, milestone: int) -> None:
    assert savings_milestone(Decimal(saved), Decimal(target)) == milestone


def test_goal_milestones_keep_the_most_recently_progressed_goals() -> None:
    goals = [f"goal-{i}" for i in range(GOALS_KEPT + 2)]
    state = fold([typed("savings_progress", timedelta(hours=i), goal_id=g)
                  for i, g in enumerate(goals)])  # fmt: skip
    assert list(state.goal_milestones) == goals[2:]
    # Progress on the oldest kept goal makes it the newest.
    fold([typed("savings_progress", timedelta(days=1), goal_id=goals[2], saved="600")], state)
    assert list(state.goal_milestones) == [*goals[3:], goals[2]]
    assert state.goal_milestones[goals[2]] == 50
    fold([typed("goal_modification", timedelta(days=2), goal_id=goals[2], action="abandoned")],
         state)  # fmt: skip
    assert goals[2] not in state.goal_milestones


def test_session_and_page_view_buckets_are_pruned_to_their_windows() -> None:
    days = SESSION_DAYS_KEPT + 5
    state = fold([typed("app_session", timedelta(days=d)) for d in range(days)])
    last = day_number(START + timedelta(days=days - 1))
    assert sorted(state.daily_sessions) == list(range(last - SESSION_DAYS_KEPT + 1, last + 1))
    hours = PAGE_VIEW_HOURS_KEPT + 10
    fold([typed("page_view", timedelta(hours=h)) for h in range(hours)], state)
    newest = hour_number(START + timedelta(hours=hours - 1))
    assert min(state.hourly_page_views) == newest - PAGE_VIEW_HOURS_KEPT + 1
    assert len(state.hourly_page_views) == PAGE_VIEW_HOURS_KEPT


def test_quote_times_keep_the_latest_by_event_time() -> None:
    offsets = [timedelta(days=d) for d in (5, 1, 9, 3, 7)]
    state = fold([typed("quote_request", offset) for offset in offsets])
    assert len(state.quote_times) == QUOTE_TIMES_KEPT
    assert state.quote_times == [(START + timedelta(days=d)).timestamp() for d in (5, 7, 9)]


def test_duplicate_signals_change_nothing() -> None:
    events = [typed(kind, timedelta(hours=h)) for h, kind in enumerate(PAYLOADS)]
    state = fold(events)
    before = state.to_bytes()
    fold(events, state)
    assert state.to_bytes() == before


# --- serialisation -----------------------------------------------------------------------


def test_round_trip_keeps_the_new_fields() -> None:
    state = rich_state()
    assert state.daily_sessions and state.hourly_page_views and state.quote_times
    assert state.goal_milestones == {"g": 25, "other": 0}  # an open goal is kept at 0
    assert state.stress_level == 0.8 and state.stress_at > 0
    restored = UserState.from_bytes(state.to_bytes())
    assert restored == state
    assert restored.to_bytes() == state.to_bytes()
    assert all(isinstance(k, int) for k in [*restored.daily_sessions, *restored.hourly_page_views])


#: A record as the previous version of ``to_bytes`` wrote it: none of the new fields.
OLD_RECORD = (
    b'{"v":1,"first_day":20458,"spend_since":20458,"income_since":null,'
    b'"watermark":1767614400.0,"daily_spend":[[20458,2000]],"monthly_income":[],'
    b'"counts":{"transaction":1},"last_seen":{"transaction":1767614400.0},'
    b'"recent_ids":["e-1"],"last_fired":{},"evaluated":{},"profile":{"first_name":"Ada"}}'
)


def test_an_old_record_without_the_new_fields_still_loads_and_folds() -> None:
    state = UserState.from_bytes(OLD_RECORD)
    assert state.daily_spend == {20458: 2000} and state.profile == {"first_name": "Ada"}
    assert (state.daily_sessions, state.hourly_page_views, state.quote_times) == ({}, {}, [])
    assert (state.goal_milestones, state.stress_level, state.stress_at) == ({}, None, 0.0)
    assert apply_event(state, typed("health_signal", timedelta(days=1)))
    assert state.stress_level == 0.8
    assert UserState.from_bytes(state.to_bytes()) == state


def test_new_fields_cost_a_few_hundred_bytes_at_most() -> None:
    """Every new field full: 14 session days, 30 page-view hours, 3 quotes, 5 goals."""
    events = [
        *(typed("app_session", timedelta(days=d)) for d in range(20)),
        *(typed("page_view", timedelta(days=19, hours=h)) for h in range(40)),
        *(typed("quote_request", timedelta(days=19, hours=h)) for h in range(5)),
        *(typed("savings_progress", timedelta(days=19), goal_id=f"{i:036d}") for i in range(8)),
        typed("health_signal", timedelta(days=19)),
    ]
    full = fold(events)
    # Version 2 keeps ids as "seen" and counts with last-seen times as "types"; version 3
    # adds the weekly activity counts, "weeks" (behaviour change is judged on them).
    old_keys = set(orjson.loads(OLD_RECORD)) | {"sends", "seen", "types", "weeks"}
    new = {k: v for k, v in orjson.loads(full.to_bytes()).items() if k not in old_keys}
    assert len(orjson.dumps(new)) <= 1_000, len(orjson.dumps(new))
    # A user who never sends these events pays nothing for them (debits pay for the alert
    # recommender's figures: ``test_dedup``'s size test has their budget).
    plain = fold(history(USER, days=3))
    assert set(orjson.loads(plain.to_bytes())) <= old_keys | {"alerts", "anomaly"}


def test_a_calm_stress_level_of_zero_is_kept() -> None:
    state = fold([typed("health_signal", stress_level=0.0)])
    assert UserState.from_bytes(state.to_bytes()).stress_level == 0.0


_SIGNAL_KINDS = st.sampled_from(
    ["app_session", "page_view", "quote_request", "savings_progress", "health_signal",
     "goal_modification", "transaction"]
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_SIGNAL_KINDS, st.integers(0, 60 * 86_400), st.integers(0, 9)),
                max_size=60))  # fmt: skip
def test_any_signal_history_round_trips_and_stays_bounded(
    steps: list[tuple[str, int, int]],
) -> None:
    state = UserState()
    for i, (kind, seconds, goal) in enumerate(steps):
        extra = {"goal_id": f"g{goal}"} if kind in ("savings_progress", "goal_modification") else {}
        final = typed(kind, timedelta(seconds=seconds), **extra)
        apply_event(state, final.model_copy(update={"event_id": f"e-{i}"}))
    assert UserState.from_bytes(state.to_bytes()) == state
    assert len(state.daily_sessions) <= SESSION_DAYS_KEPT
    assert len(state.hourly_page_views) <= PAGE_VIEW_HOURS_KEPT
    assert len(state.quote_times) <= QUOTE_TIMES_KEPT
    assert len(state.goal_milestones) <= GOALS_KEPT
    assert state.quote_times == sorted(state.quote_times)


def test_a_debit_is_not_a_signal() -> None:
    state = fold([transaction(USER, START, "10.00")])
    assert (state.daily_sessions, state.quote_times, state.goal_milestones) == ({}, [], {})
