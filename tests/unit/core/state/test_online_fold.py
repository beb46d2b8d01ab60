"""The fold feeds the online models: each debit scored against the record before it."""

from __future__ import annotations

import copy
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from models.online import anomaly
from schemas.events import Event
from streams.core.state import alert_stats
from streams.core.state.fold import apply_event
from streams.core.state.record import UserState
from tests.unit.factories import START, card_debit, fold, profile, transaction

USER = "user-1"
DAY = timedelta(days=1)
#: 23:30 UTC: 18:30 in New York, 08:30 next morning in Tokyo, 23:30 in UTC. Three bins.
LATE = START.replace(hour=23, minute=30) + 20 * DAY


def regular(zone: str | None) -> UserState:
    """Twelve lunchtime debits at two grocers in the US, with a time zone if given."""
    events = [profile(USER, START - DAY, timezone=zone)] if zone else []
    events += [
        card_debit(USER, START + d * DAY, "24.50", merchant=f"grocer-{d % 2}") for d in range(12)
    ]
    return fold(events)


def zoned_debit(at: datetime, zone: str, **payload: Any) -> Event:
    """A debit whose event context (not the profile) names the time zone."""
    return Event.model_validate(
        {
            "event_id": str(uuid.uuid4()), "user_id": USER, "occurred_at": at.isoformat(),
            "source": "backend", "context": {"country": "US", "timezone": zone},
            "payload": {"type": "transaction", "amount": "30.00", **payload},
        }
    )  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "merchant", "category", "country", "new_merchant", "new_category"),
    [
        (None, "grocer-0", "groceries", "US", False, False),
        (None, "jeweller", "groceries", "US", True, False),
        (None, "jeweller", "jewellery", "US", True, True),
        ("America/New_York", "grocer-1", "groceries", "FR", False, False),
        ("Asia/Tokyo", "lounge", "gambling", "MT", True, True),
    ],
)
def test_a_debit_is_scored_as_score_and_learn_would_on_the_record_before_it(  # noqa: PLR0913
    zone: str | None,
    merchant: str,
    category: str,
    country: str,
    new_merchant: bool,
    new_category: bool,
) -> None:
    state = regular(zone)
    assert state.alerts is not None and state.anomaly is not None
    merchants = state.alerts[alert_stats.MERCHANTS]
    categories = state.alerts[alert_stats.CATEGORIES]
    # Novelty is what the alert bitmaps said before this debit...
    assert alert_stats.has_name(merchants, merchant, alert_stats.MERCHANT_BITS) is not new_merchant
    assert alert_stats.has_name(categories, category, alert_stats.CATEGORY_BITS) is not new_category
    expected = copy.deepcopy(state.anomaly)
    hour = LATE.astimezone(ZoneInfo(zone or "UTC")).hour
    score = anomaly.score_and_learn(
        expected, dollars=310.0, local_hour=hour, new_merchant=new_merchant,
        new_category=new_category, country=country,
    )  # fmt: skip
    debit = card_debit(USER, LATE, "310.00", merchant=merchant, category=category, country=country)
    assert apply_event(state, debit)
    assert state.anomaly == expected
    assert anomaly.last_score(state.anomaly) == (score, expected[anomaly.REASON])
    assert score is not None  # twelve debits before: past the cold start
    # ...for after it, the merchant is known: reading the bitmaps late would miss it.
    assert alert_stats.has_name(
        state.alerts[alert_stats.MERCHANTS], merchant, alert_stats.MERCHANT_BITS
    )


@pytest.mark.parametrize(
    ("zone", "bin_"),
    [("UTC", 23 * 8 // 24), ("America/New_York", 18 * 8 // 24), ("Asia/Tokyo", 8 * 8 // 24)],
)
def test_the_hour_is_the_users_local_hour(zone: str, bin_: int) -> None:
    # The profile's zone when it has one...
    state = regular(zone if zone != "UTC" else None)
    assert state.anomaly is not None
    hours = list(state.anomaly[anomaly.HOURS])
    apply_event(state, card_debit(USER, LATE, "20.00", merchant="grocer-0"))
    hours[bin_] += 1
    assert state.anomaly[anomaly.HOURS] == hours
    # ...else the event's own context.
    other = regular(None)
    assert other.anomaly is not None
    hours = list(other.anomaly[anomaly.HOURS])
    apply_event(other, zoned_debit(LATE, zone, merchant="grocer-0"))
    hours[bin_] += 1
    assert other.anomaly[anomaly.HOURS] == hours


def test_the_profiles_zone_wins_over_the_events() -> None:
    state = regular("Asia/Tokyo")
    assert state.anomaly is not None
    hours = list(state.anomaly[anomaly.HOURS])
    apply_event(state, zoned_debit(LATE, "America/New_York", merchant="grocer-0"))
    hours[8 * 8 // 24] += 1  # 08:30 in Tokyo
    assert state.anomaly[anomaly.HOURS] == hours


@pytest.mark.parametrize(
    ("event", "scored"),
    [
        (transaction(USER, LATE, "50.00"), True),  # no merchant named: still scored
        (transaction(USER, LATE, "50.00", direction="credit"), False),
        (profile(USER, LATE, first_name="Ada"), False),
    ],
)
def test_only_debits_are_scored(event: Event, scored: bool) -> None:
    state = regular(None)
    before = copy.deepcopy(state.anomaly)
    assert apply_event(state, event)
    assert (state.anomaly != before) is scored


def test_a_debit_without_merchant_learns_no_merchant_novelty() -> None:
    state = regular(None)
    assert state.anomaly is not None
    p_new, p_newcat = state.anomaly[anomaly.P_NEW], state.anomaly[anomaly.P_NEWCAT]
    apply_event(state, transaction(USER, LATE, "50.00"))  # category "other": new to them
    assert state.anomaly[anomaly.P_NEW] == p_new
    assert state.anomaly[anomaly.P_NEWCAT] == round(p_newcat + anomaly.ALPHA * (1 - p_newcat), 4)
    assert state.anomaly[anomaly.N] == 13


def test_a_duplicate_debit_is_not_learned_twice() -> None:
    state = regular(None)
    debit = card_debit(USER, LATE, "99.00", merchant="jeweller", event_id="d-1")
    assert apply_event(state, debit)
    once = copy.deepcopy(state.anomaly)
    assert not apply_event(state, debit)
    assert state.anomaly == once


def test_the_first_debit_starts_the_model() -> None:
    state = UserState()
    apply_event(state, card_debit(USER, START, "12.00", merchant="m", country="GB"))
    assert state.anomaly is not None
    assert state.anomaly[anomaly.N] == 1 and state.anomaly[anomaly.HOME] == "GB"
    assert anomaly.last_score(state.anomaly) == (None, None)
