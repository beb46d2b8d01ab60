"""Folding events into the per-user state: dedup, buckets, profile, serialisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import Event
from schemas.intake import Rejection, decode_event
from streams.core.decisions.process import process
from streams.core.rendering import default_catalogue
from streams.core.state.dedup import DEDUP_WINDOW_HOURS
from streams.core.state.fold import (
    DAILY_BUCKETS_KEPT,
    MONTHLY_BUCKETS_KEPT,
    apply_event,
)
from streams.core.state.record import UserState
from streams.core.triggers.catalogue import default_definitions
from streams.core.units import day_number, month_number, to_cents
from tests.unit.factories import START, fold, income, profile, transaction

USER = "user-1"


def _day(at: datetime) -> int:
    return day_number(at)


# --- dedup -------------------------------------------------------------------------------


def test_duplicate_event_is_not_applied_twice() -> None:
    state = UserState()
    event = transaction(USER, START, "10.00", event_id="e-1")
    assert apply_event(state, event) is True
    before = state.to_bytes()
    assert apply_event(state, event) is False
    assert state.to_bytes() == before
    assert state.daily_spend == {_day(START): 1000}
    assert state.counts == {"transaction": 1}


# The window of remembered ids (event time, floor, ceiling) is tested in test_dedup.py.


# --- day and month numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(1970, 1, 1, tzinfo=UTC), 0),
        (datetime(1970, 1, 1, 23, 59, 59, tzinfo=UTC), 0),
        (datetime(1970, 1, 2, tzinfo=UTC), 1),
        # 01:00 at UTC+2 is still the previous UTC day
        (datetime(1970, 1, 2, 1, tzinfo=timezone(timedelta(hours=2))), 0),
        (datetime(1969, 12, 31, 23, tzinfo=UTC), -1),
    ],
)
def test_day_number_is_the_utc_day(moment: datetime, expected: int) -> None:
    assert day_number(moment) == expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 3, 1, tzinfo=UTC), 2026 * 12 + 2),
        (datetime(2026, 2, 28, 23, 59, tzinfo=UTC), 2026 * 12 + 1),
        (datetime(2026, 3, 1, 1, tzinfo=timezone(timedelta(hours=2))), 2026 * 12 + 1),
        (datetime(2025, 12, 31, 22, tzinfo=timezone(timedelta(hours=-3))), 2026 * 12 + 0),
    ],
)
def test_month_number_is_the_utc_month(moment: datetime, expected: int) -> None:
    assert month_number(moment) == expected


# --- daily spend -------------------------------------------------------------------------


def test_only_debits_are_counted_in_daily_spend() -> None:
    state = fold(
        [
            transaction(USER, START, "10.00"),
            transaction(USER, START + timedelta(hours=1), "2.50"),
            transaction(USER, START, "99.00", direction="credit"),
            income(USER, START, "500.00"),
        ]
    )
    assert state.daily_spend == {_day(START): 1250}
    assert state.counts == {"transaction": 3, "income_deposit": 1}


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        ("12.345", 1234),  # half to even: 1234.5 -> 1234
        ("12.355", 1236),  # 1235.5 -> 1236
        ("0.005", 0),
        ("0.015", 2),
        ("19.99", 1999),
        ("0.0049", 0),
        ("123456789.9999", 12345679000),
    ],
)
def test_amounts_are_exact_cents_rounded_half_even(amount: str, cents: int) -> None:
    assert to_cents(Decimal(amount)) == cents
    state = fold([transaction(USER, START, amount)])
    assert state.daily_spend == {_day(START): cents}


def test_cents_sum_exactly_where_floats_would_not() -> None:
    state = fold([transaction(USER, START, "0.10") for _ in range(3)])
    assert state.daily_spend[_day(START)] == 30


def test_days_older_than_the_kept_range_are_dropped_when_a_newer_day_arrives() -> None:
    d0 = _day(START)
    state = fold([transaction(USER, START + timedelta(days=d), "1.00") for d in (0, 1)])
    apply_event(state, transaction(USER, START + timedelta(days=DAILY_BUCKETS_KEPT - 1), "1.00"))
    assert set(state.daily_spend) == {d0, d0 + 1, d0 + DAILY_BUCKETS_KEPT - 1}

    apply_event(state, transaction(USER, START + timedelta(days=DAILY_BUCKETS_KEPT), "1.00"))
    assert set(state.daily_spend) == {d0 + 1, d0 + DAILY_BUCKETS_KEPT - 1, d0 + DAILY_BUCKETS_KEPT}


def test_late_event_older_than_the_kept_range_skips_buckets_but_is_counted() -> None:
    newest = START + timedelta(days=60)
    state = fold([transaction(USER, newest, "5.00")])
    too_old = newest - timedelta(days=DAILY_BUCKETS_KEPT)
    just_in = newest - timedelta(days=DAILY_BUCKETS_KEPT - 1)

    assert apply_event(state, transaction(USER, too_old, "7.00")) is True
    assert state.daily_spend == {_day(newest): 500}
    assert state.counts == {"transaction": 2}
    assert state.first_day == _day(too_old)
    assert state.watermark == newest.timestamp()

    apply_event(state, transaction(USER, just_in, "7.00"))
    assert state.daily_spend == {_day(newest): 500, _day(just_in): 700}


def test_first_day_watermark_and_last_seen() -> None:
    later = START + timedelta(days=3)
    state = fold([transaction(USER, later, "1.00"), profile(USER, START, first_name="Ada")])
    assert state.first_day == _day(START)
    assert state.watermark == later.timestamp()
    assert state.last_seen == {
        "transaction": later.timestamp(),
        "profile_update": START.timestamp(),
    }


# --- monthly income ----------------------------------------------------------------------


def test_income_buckets_per_month() -> None:
    state = fold(
        [
            income(USER, datetime(2026, 3, 1, 9, tzinfo=UTC), "1500.00"),
            income(USER, datetime(2026, 3, 15, 9, tzinfo=UTC), "1500.50"),
            # 1 April 01:00 at UTC+2 is 31 March UTC
            income(USER, datetime(2026, 4, 1, 1, tzinfo=timezone(timedelta(hours=2))), "7.00"),
            income(USER, datetime(2026, 4, 2, tzinfo=UTC), "100.00"),
        ]
    )
    assert state.monthly_income == {2026 * 12 + 2: 300_750, 2026 * 12 + 3: 10_000}
    assert state.daily_spend == {}


def test_income_months_older_than_the_kept_range_are_dropped() -> None:
    months = [datetime(2026, m, 1, tzinfo=UTC) for m in range(1, 9)]  # Jan..Aug
    state = fold([income(USER, at, "1.00") for at in months[:MONTHLY_BUCKETS_KEPT]])
    assert len(state.monthly_income) == MONTHLY_BUCKETS_KEPT
    apply_event(state, income(USER, months[MONTHLY_BUCKETS_KEPT], "1.00"))  # July
    assert sorted(state.monthly_income) == [2026 * 12 + m for m in range(1, 7)]  # Feb..Jul
    apply_event(state, income(USER, months[0], "1.00"))  # January again, now too late
    assert 2026 * 12 + 0 not in state.monthly_income
    assert state.counts["income_deposit"] == MONTHLY_BUCKETS_KEPT + 2


# --- profile -----------------------------------------------------------------------------


def test_profile_updates_merge_fields_and_consent_per_channel() -> None:
    state = fold(
        [
            profile(USER, START, first_name="Ada", consent={"sms": False}, tier="premium"),
            profile(USER, START + timedelta(hours=1), consent={"email": False}),
            profile(USER, START + timedelta(hours=2), first_name="Bea"),
            profile(USER, START + timedelta(hours=3), consent={"sms": True}),
        ]
    )
    assert state.profile == {
        "first_name": "Bea",
        "tier": "premium",
        "consent": {"sms": True, "email": False},
    }


def test_profile_stores_only_the_fields_sent() -> None:
    state = fold([profile(USER, START, birthday="1990-04-01")])
    assert state.profile == {"birthday": "1990-04-01"}


# --- serialisation -----------------------------------------------------------------------

_KINDS = st.sampled_from(["debit", "credit", "income", "profile"])
_STEP = st.tuples(
    _KINDS,
    st.integers(0, 100 * 86_400),  # seconds after START
    st.integers(0, 10**9),  # cents
    st.sampled_from(["Ada", "Bea", ""]),
    st.booleans(),
)

#: Steps within one dedup window of START: replayed, every one is still remembered.
_STEP_IN_WINDOW = st.tuples(
    _KINDS,
    st.integers(0, DEDUP_WINDOW_HOURS * 3600 - 1),
    st.integers(0, 10**9),
    st.sampled_from(["Ada", "Bea", ""]),
    st.booleans(),
)


def _build(steps: list[tuple[str, int, int, str, bool]]) -> list[Event]:
    events = []
    for i, (kind, seconds, cents, name, allowed) in enumerate(steps):
        at = START + timedelta(seconds=seconds)
        amount = Decimal(cents) / 100
        eid = f"e-{i}"
        if kind == "income":
            events.append(income(USER, at, amount, event_id=eid))
        elif kind == "profile":
            events.append(
                profile(USER, at, first_name=name, consent={"sms": allowed}, event_id=eid)
            )
        else:
            events.append(transaction(USER, at, amount, direction=kind, event_id=eid))
    return events


def _process_all(events: list[Event], state: UserState) -> None:
    for item in events:
        process(
            state,
            item,
            default_definitions(),
            default_catalogue(),
            now=item.occurred_at,
            max_event_age_seconds=2 * 86_400,
        )


@settings(max_examples=60)
@given(st.lists(_STEP, max_size=40))
def test_to_bytes_from_bytes_round_trip(steps: list[tuple[str, int, int, str, bool]]) -> None:
    state = UserState()
    _process_all(_build(steps), state)
    restored = UserState.from_bytes(state.to_bytes())
    assert restored == state
    assert restored.to_bytes() == state.to_bytes()
    assert UserState.from_snapshot(state.snapshot()) == state  # the put-back copy too


@settings(max_examples=40)
@given(st.lists(_STEP_IN_WINDOW, max_size=40))
def test_replaying_the_same_events_changes_nothing(
    steps: list[tuple[str, int, int, str, bool]],
) -> None:
    events = _build(steps)
    state = UserState()
    _process_all(events, state)
    before = state.to_bytes()
    # Replayed after all of them: only ids within the dedup window (or the last
    # DEDUP_FLOOR) are still known, so the events here span at most the window.
    _process_all(events, state)
    assert state.to_bytes() == before


def test_round_trip_of_a_populated_state_keeps_int_keys() -> None:
    state = fold(
        [
            transaction(USER, START, "1.00"),
            income(USER, START, "2.00"),
            profile(USER, START, first_name="Ada", consent={"email": False}),
        ]
    )
    state.last_fired["spending_spike"] = START.timestamp()
    state.evaluated["income_drop"] = 2026 * 12
    restored = UserState.from_bytes(state.to_bytes())
    assert restored == state
    assert restored.daily_spend == {_day(START): 100}
    assert restored.monthly_income == {month_number(START): 200}


# --- events the intake accepts must be foldable ------------------------------------------


def test_a_far_future_event_only_ignores_itself_once_the_intake_has_let_it_by() -> None:
    # The intake rejects events over an hour ahead of its clock, and the state relies on
    # it: applied, such an event would move the watermark to 2099 and every later day
    # would fall outside the kept buckets. So the edge's refusal is what is checked here,
    # and that the user's record goes on as if the event had never come.
    state = fold([transaction(USER, START, "10.00")])
    far = datetime(2099, 1, 1, tzinfo=UTC)
    event, _ = decode_event(
        USER.encode(), transaction(USER, far, "1.00").model_dump_json().encode(), now=START
    )
    assert not isinstance(event, Event)  # rejected at the edge
    assert isinstance(event, Rejection)
    assert event.error == "occurred_at: more than 1:00:00 ahead of the processing clock"
    later = START + timedelta(days=1)
    apply_event(state, transaction(USER, later, "20.00"))
    assert state.daily_spend == {_day(START): 1000, _day(later): 2000}
    assert state.watermark == later.timestamp()


def test_a_profile_update_sent_with_nulls_keeps_the_other_fields() -> None:
    # Producers (and pydantic's own JSON) write every field; null means "not given".
    state = fold([profile(USER, START, timezone="Asia/Tokyo", tier="premium")])
    full_json = profile(USER, START + timedelta(hours=1), first_name="Ada").model_dump_json()
    apply_event(state, Event.model_validate_json(full_json))
    assert state.profile == {"timezone": "Asia/Tokyo", "tier": "premium", "first_name": "Ada"}


def test_a_snapshot_is_an_independent_copy_equal_to_the_record() -> None:
    state = fold(
        [
            profile(USER, START, first_name="Ada"),
            transaction(USER, START, "12.00"),
            income(USER, START + timedelta(days=1), "2000.00"),
        ]
    )
    copy = UserState.from_snapshot(state.snapshot())
    assert copy == state and copy.to_bytes() == state.to_bytes()
    state.counts["transaction"] += 1
    state.daily_spend[day_number(START)] += 100
    state.profile["first_name"] = "Bea"
    assert copy != state  # nothing shared: a put-back record is the one from before
    assert copy.counts["transaction"] == 1 and copy.profile["first_name"] == "Ada"
