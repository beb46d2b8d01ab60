"""Weekly activity counts: which events count, the window kept, and their encoding."""

from __future__ import annotations

from datetime import timedelta

import pytest

from streams.core.state.activity_weeks import (
    WEEKS_KEPT,
    count_activity,
    pack_weeks,
    unpack_weeks,
    week_of_day,
)
from streams.core.state.record import UserState
from streams.core.units import day_number
from tests.unit.factories import START, event, fold, transaction

WEEK0 = week_of_day(day_number(START))


@pytest.mark.parametrize(
    ("payload", "activity"),
    [
        ({"type": "app_session", "duration_seconds": 60.0}, "sessions"),
        ({"type": "page_view", "path": "/"}, "page_views"),
        ({"type": "feature_used", "feature": "budget"}, "feature_use"),
        ({"type": "login"}, "logins"),
        ({"type": "login", "method": "biometric"}, "logins"),
        ({"type": "form_start", "form_id": "f"}, None),
    ],
)
def test_which_events_count(payload: dict, activity: str | None) -> None:
    state = fold([event("ada", START, payload)])
    assert state.activity_weeks == ({activity: {WEEK0: 1}} if activity else {})


def test_transactions_count_debits_and_credits_by_utc_week() -> None:
    state = fold(
        [
            transaction("ada", START, "5.00"),
            transaction("ada", START + timedelta(days=6, hours=11), "5.00", direction="credit"),
            transaction("ada", START + timedelta(days=7), "5.00"),  # the next Monday
        ]
    )
    assert state.activity_weeks == {"transactions": {WEEK0: 2, WEEK0 + 1: 1}}


def test_only_the_newest_weeks_are_kept_and_older_events_are_not_counted() -> None:
    weeks: dict[str, dict[int, int]] = {}
    count_activity(weeks, "sessions", WEEK0)
    count_activity(weeks, "logins", WEEK0 + 1)
    count_activity(weeks, "sessions", WEEK0 + WEEKS_KEPT - 1)
    assert weeks == {"sessions": {WEEK0: 1, WEEK0 + WEEKS_KEPT - 1: 1}, "logins": {WEEK0 + 1: 1}}
    count_activity(weeks, "sessions", WEEK0 + WEEKS_KEPT)  # WEEK0 falls out, for every activity
    assert weeks == {
        "sessions": {WEEK0 + WEEKS_KEPT - 1: 1, WEEK0 + WEEKS_KEPT: 1},
        "logins": {WEEK0 + 1: 1},
    }
    count_activity(weeks, "logins", WEEK0)  # older than the window: not counted
    count_activity(weeks, "logins", WEEK0 + 1)  # in it: counted
    assert weeks["logins"] == {WEEK0 + 1: 2}
    count_activity(weeks, "sessions", WEEK0 + WEEKS_KEPT + 1)  # logins' only week goes
    assert set(weeks) == {"sessions"}


@pytest.mark.parametrize(
    "weeks",
    [
        {},
        {"sessions": {WEEK0: 7}},
        {"transactions": {WEEK0: 300, WEEK0 + 6: 1}, "logins": {WEEK0 + 3: 0}},
        {a: {WEEK0 + w: w * 50 for w in range(WEEKS_KEPT)} for a in ("page_views", "feature_use")},
    ],
)
def test_the_encoding_round_trips(weeks: dict[str, dict[int, int]]) -> None:
    assert unpack_weeks(pack_weeks(weeks)) == weeks
    state = UserState(activity_weeks=weeks)
    assert UserState.from_bytes(state.to_bytes()) == state


def test_activities_never_seen_cost_nothing() -> None:
    first_only = pack_weeks({"transactions": {WEEK0: 1}})
    assert len(first_only[1]) <= 12  # seven one-byte counts, the other activities left out


@pytest.mark.parametrize(
    ("packed", "error"),
    [
        ([WEEK0, "not base64!"], "not base64"),
        ([WEEK0, "gA=="], "inside a number"),
        ([WEEK0, "AQ" * 30], "more than"),
    ],
)
def test_a_damaged_encoding_is_refused(packed: list, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        unpack_weeks(packed)
