"""Alert actions, profiles and recommendations on the real PostgreSQL, by both write paths.

``alert_actions`` and ``alert_recommendations`` are insert-only: a replay is a duplicate.
``alert_profiles`` keeps each user's latest profile (``sinks.latest``): a later one
replaces the row, an older one or a replay changes nothing, two of one instant leave the
greater id, and a sink writing while another holds the user's row waits for it and then
compares with what it wrote.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine, text

from schemas.topics import BEHAVIOR_EVENTS
from sinks.rows import ROUTES, ConsumedMessage, Row, message_row
from sinks.staging import copy_new
from sinks.writer import BatchWriter, insert_new, insert_rows
from tests.integration.sink_harness import (
    SPEC_OF,
    alert_profile,
    alert_rule,
    query,
    recommendation,
)

pytestmark = pytest.mark.integration

AT = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
NOW = datetime(2025, 3, 15, 8, 0, tzinfo=UTC)
METHODS: tuple[Literal["copy", "insert"], ...] = ("copy", "insert")
#: How long a test waits for a transaction to block on another's row lock.
LOCK_WAIT_SECONDS = 30.0


def row(model: BaseModel, offset: int = 0) -> Row:
    spec = SPEC_OF[type(model)]
    source = ConsumedMessage(f"p.{spec.name}", 0, offset, b"k", model.model_dump_json().encode())
    return message_row(source, ROUTES[spec], NOW)


def rule_rows(user: str, alert: str, action: str, at: datetime, event_id: str) -> tuple[Row, ...]:
    key, value = alert_rule(user, alert, action, at, event_id)
    source = ConsumedMessage("p.behavior.events", 0, 0, key, value)
    return ROUTES[BEHAVIOR_EVENTS].rows(source, NOW)


def profiles(settings) -> dict[str, dict[str, Any]]:
    found = query(settings, "SELECT * FROM alert_profiles")
    return {p["user_id"]: p for p in found}


@pytest.mark.parametrize("method", METHODS)
def test_alert_actions_and_recommendations_are_stored_once(settings, engine, method):
    writer = BatchWriter(engine, method)
    batch = [
        *rule_rows("ana", "new_merchant", "created", AT, "ana-1"),
        *rule_rows("ana", "new_merchant", "disabled", AT + timedelta(hours=1), "ana-2"),
        *rule_rows("ben", "high_spender", "enabled", AT, "ben-1"),
        row(recommendation("ana", "new_merchant", 1, AT)),
        row(recommendation("ana", "high_spender", 1, AT)),
        row(recommendation("ana", "new_merchant", 1, AT), offset=1),  # twice in the batch
    ]
    first = writer.write(batch, NOW)
    assert first.inserted["alert_actions"] == 3
    assert (first.inserted["alert_recommendations"], first.duplicates["alert_recommendations"]) == (
        2,
        1,
    )
    stored = query(settings, "SELECT * FROM alert_actions ORDER BY user_id, event_id")
    assert [(a["user_id"], a["event_id"], a["alert_type"], a["action"]) for a in stored] == [
        ("ana", "ana-1", "new_merchant", "created"),
        ("ana", "ana-2", "new_merchant", "disabled"),
        ("ben", "ben-1", "high_spender", "enabled"),
    ]
    assert stored[0]["occurred_at"] == AT and stored[0]["rule_id"] is None
    again = writer.write(batch, NOW)
    assert again.new == 0
    assert again.duplicates["alert_actions"] == 3
    assert again.duplicates["alert_recommendations"] == 3
    assert query(settings, "SELECT * FROM alert_actions ORDER BY user_id, event_id") == stored
    assert len(query(settings, "SELECT * FROM alert_recommendations")) == 2


@pytest.mark.parametrize("method", METHODS)
def test_a_profile_is_replaced_only_by_a_later_one(settings, engine, method):
    writer = BatchWriter(engine, method)
    first = alert_profile("ana", AT, "ana-1", ["new_merchant"])
    older = alert_profile("ana", AT - timedelta(hours=1), "ana-0", [])
    later = alert_profile("ana", AT + timedelta(hours=1), "ana-2", ["high_spender"])
    cold = alert_profile("ben", AT, "ben-1", features=None)

    result = writer.write([row(first), row(cold)], NOW)
    assert result.inserted["alert_profiles"] == 2
    stored = profiles(settings)
    assert stored["ana"]["profile_id"] == first.profile_id
    assert stored["ana"]["enabled"] == ["new_merchant"]
    assert stored["ana"]["features"]["unique_merchants"] == 11
    assert stored["ben"]["features"] is None  # SQL NULL: no row holds JSON null
    assert query(settings, "SELECT count(*) AS n FROM alert_profiles WHERE features IS NULL") == [
        {"n": 1}
    ]

    for stale in ([row(older)], [row(first)], [row(older), row(first)]):  # late, replay
        result = writer.write(stale, NOW)
        assert result.new == 0 and result.duplicates["alert_profiles"] == len(stale)
        assert profiles(settings) == stored

    # A later one replaces the row, as a new write: recorded_at moves on too.
    result = writer.write([row(later), row(older, offset=1)], NOW)
    assert (result.inserted["alert_profiles"], result.duplicates["alert_profiles"]) == (1, 1)
    replaced = profiles(settings)["ana"]
    assert (replaced["profile_id"], replaced["as_of"]) == (later.profile_id, later.as_of)
    assert replaced["enabled"] == ["high_spender"]
    assert replaced["recorded_at"] > stored["ana"]["recorded_at"]
    assert profiles(settings)["ben"] == stored["ben"]


@pytest.mark.parametrize("method", METHODS)
def test_of_two_profiles_of_one_instant_the_greater_id_stays_in_either_order(
    settings, engine, method
):
    one, two = alert_profile("ana", AT, "ana-a"), alert_profile("ana", AT, "ana-b")
    greater = max(one.profile_id, two.profile_id)
    writer = BatchWriter(engine, method)
    for order in ((one, two), (two, one)):
        with engine.begin() as connection:
            connection.execute(text("TRUNCATE alert_profiles"))
        for profile in order:  # one batch each: the table decides, not the batch
            writer.write([row(profile)], NOW)
        assert profiles(settings)["ana"]["profile_id"] == greater


def blocked_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as connection:
        waiting = connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return bool(waiting)


@pytest.mark.parametrize("inserter", [copy_new, insert_new], ids=["copy", "insert"])
@pytest.mark.parametrize("first_is_later", [True, False], ids=["later-first", "older-first"])
def test_two_sinks_writing_one_user_at_once_leave_the_later_profile(
    settings, engine, inserter, first_is_later
):
    """The second writer waits for the first's row, then compares with what it wrote."""
    older = alert_profile("ana", AT, "ana-1")
    later = alert_profile("ana", AT + timedelta(minutes=5), "ana-2")
    first, second = (later, older) if first_is_later else (older, later)
    results: dict[str, Any] = {}

    def write_second() -> None:
        with engine.begin() as connection:
            results["second"] = insert_rows(connection, [row(second)], inserter)

    with engine.begin() as connection:
        results["first"] = insert_rows(connection, [row(first)], inserter)
        writer = threading.Thread(target=write_second)
        writer.start()
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while not blocked_on_a_lock(engine):
            assert writer.is_alive() and time.monotonic() < deadline, "the second did not wait"
            time.sleep(0.05)
    writer.join(LOCK_WAIT_SECONDS)
    assert not writer.is_alive()
    assert profiles(settings)["ana"]["profile_id"] == later.profile_id
    assert results["first"].inserted["alert_profiles"] == 1
    assert results["second"].inserted["alert_profiles"] == (0 if first_is_later else 1)
