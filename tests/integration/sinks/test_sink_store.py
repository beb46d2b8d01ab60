"""The sink's database side on the real PostgreSQL: migrations, the batch writer, queries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pydantic import BaseModel
from sqlalchemy import create_engine, inspect
from sqlalchemy.exc import IntegrityError

from schemas.settings import Settings
from schemas.topics import TRIGGER_DECISIONS, TopicSpec
from sinks.migrate import alembic_config, current, head, upgrade
from sinks.reports.queries import decided_commands, recent_communications, summary
from sinks.rows import ROUTES, ConsumedMessage, Row, message_row
from sinks.tables import Base
from sinks.writer import BatchWriter
from tests.integration.sink_harness import (
    SPEC_OF,
    communication,
    decision,
    intervention,
    letter,
    query,
)

pytestmark = pytest.mark.integration

NOW = datetime(2025, 3, 15, 8, 0, tzinfo=UTC)


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


def row(model: BaseModel | bytes, spec: TopicSpec | None = None, offset: int = 0) -> Row:
    if isinstance(model, BaseModel):
        spec = SPEC_OF[type(model)]
        value = model.model_dump_json().encode()
    else:
        value = model
    assert spec is not None
    return message_row(ConsumedMessage(f"p.{spec.name}", 0, offset, b"k", value), ROUTES[spec], NOW)


def test_migrations_create_exactly_the_tables_the_sink_declares(settings):
    assert current(settings) is None
    upgrade(settings)
    assert current(settings) == head()
    upgrade(settings)  # already at head: nothing to do, no error
    engine = create_engine(settings.database_url.get_secret_value())
    try:
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
            tables = set(inspect(connection).get_table_names())
            # Autogenerate does not compare primary keys; the keys are what make rows
            # idempotent, so they must be the declared ones, column for column.
            keys = {
                name: inspect(connection).get_pk_constraint(name)["constrained_columns"]
                for name in Base.metadata.tables
            }
    finally:
        engine.dispose()
    assert tables == {
        "alembic_version",
        "trigger_events",
        "communications",
        "interventions",
        "dead_letters",
        "outcomes",
        "missed_payments",
        "segment_changes",
        "score_history",
        "model_versions",
        "alert_actions",
        "alert_profiles",
        "alert_recommendations",
        "model_checkpoints",
        "experiment_assignments",
        "experiment_conversions",
        "funnel_steps",
        "user_days",
        "purchases",
        "erasures",
    }
    assert keys == {
        name: [column.name for column in table.primary_key]
        for name, table in Base.metadata.tables.items()
    }
    assert keys["outcomes"] == keys["missed_payments"] == ["user_id", "event_id"]
    assert keys["purchases"] == ["user_id", "event_id"]
    assert keys["user_days"] == ["user_id", "day"]


def test_a_batch_is_one_transaction_and_a_replay_inserts_nothing(settings, engine):
    writer = BatchWriter(engine)
    batch = [row(decision("ana", 1)), row(decision("ben", 2)), row(communication("ana", 1))]
    batch.append(row(decision("ana", 1), offset=9))  # the same decision again, in the same batch
    first = writer.write(batch, NOW)
    assert (first.new, dict(first.inserted)) == (3, {"trigger_events": 2, "communications": 1})
    assert dict(first.duplicates) == {"trigger_events": 1, "communications": 0}
    again = writer.write(batch, NOW)
    assert again.new == 0 and dict(again.duplicates) == {"trigger_events": 3, "communications": 1}
    # now() is the transaction's start: one shared recorded_at means one transaction.
    stamps = query(
        settings,
        "SELECT recorded_at FROM trigger_events UNION SELECT recorded_at FROM communications",
    )
    assert len(stamps) == 1


def test_a_row_the_database_refuses_becomes_a_dead_letter_and_the_rest_is_written(settings, engine):
    # The models allow any int; the column is PostgreSQL's 4-byte integer.
    too_big = communication("ana", 1).model_copy(update={"template_version": 2**31})
    also_too_big = communication("ben", 2).model_copy(update={"template_version": -(2**40)})
    good: list[Any] = [decision("ana", 1), communication("cy", 3)]
    result = BatchWriter(engine).write(
        [row(good[0]), row(too_big, offset=5), row(also_too_big, offset=6), row(good[1])], NOW
    )
    assert dict(result.inserted) == {"trigger_events": 1, "communications": 1, "dead_letters": 2}
    assert [r.source.offset for r in result.rejected] == [5, 6]
    dead = query(
        settings, 'SELECT "offset", kind, error, topic FROM dead_letters ORDER BY "offset"'
    )
    assert [(d["offset"], d["kind"], d["topic"]) for d in dead] == [
        (5, "invalid", "p.comms.commands"),
        (6, "invalid", "p.comms.commands"),
    ]
    assert all(d["error"] == "database refused the row: sqlstate 22003" for d in dead)
    comms = query(settings, "SELECT command_id FROM communications")
    assert [c["command_id"] for c in comms] == [good[1].command_id]


def test_text_with_nul_is_stored_not_refused(settings, engine):
    # PostgreSQL text and jsonb cannot hold NUL: it is stored as U+FFFD (sinks.messages).
    nul_text = communication("ana", 1).model_copy(update={"body": "nul \x00 byte"})
    nul_json = communication("ben", 2).model_copy(update={"variables": {"na\x00me": "b\x00n"}})
    result = BatchWriter(engine).write([row(nul_text, offset=5), row(nul_json, offset=6)], NOW)
    assert dict(result.inserted) == {"communications": 2} and result.rejected == []
    comms = query(settings, "SELECT body, variables FROM communications ORDER BY command_id")
    stored = {c["body"]: c["variables"] for c in comms}
    assert stored["nul \ufffd byte"] == {"first_name": "ana", "ratio": "21%"}
    assert {"na\ufffdme": "b\ufffdn"} in stored.values()


def test_summary_counts_what_was_recorded_and_lists_recent_messages(settings, engine):
    rows = [
        row(decision("ana", 1)),
        row(decision("ben", 2)),
        row(decision("cy", 3, suppressed=True)),
        row(communication("ana", 1, "email")),
        row(communication("ben", 2, "email")),
        row(communication("cy", 3, "sms")),
        row(intervention("dee", 4)),
        row(letter(settings, "eve", 1)),
        row(b"{broken", TRIGGER_DECISIONS, 3),
    ]
    BatchWriter(engine).write(rows, NOW)
    report = summary(settings)
    assert report["communications"] == [
        {"trigger_id": "spending_spike", "channel": "email", "count": 2},
        {"trigger_id": "spending_spike", "channel": "sms", "count": 1},
    ]
    assert report["decisions"] == [
        {"trigger_id": "spending_spike", "outcome": "fired", "reason": None, "count": 2},
        {"trigger_id": "spending_spike", "outcome": "suppressed", "reason": "cooldown", "count": 1},
    ]
    assert report["interventions"] == [
        {"intervention_type": "payment_assistance", "risk_level": "critical", "count": 1}
    ]
    assert report["dead_letters"] == [
        {"topic": "p.trigger.decisions", "kind": "not_json", "count": 1},
        {"topic": f"{settings.topic_prefix}behavior.events", "kind": "not_json", "count": 1},
    ]
    assert report["totals"] == {
        "communications": 3,
        "trigger_events": 3,
        "interventions": 1,
        "dead_letters": 2,
    }
    # Two fired decisions naming one command each; the suppressed one names none.
    assert decided_commands(settings) == {"spending_spike": 2}
    recent = recent_communications(settings, limit=2)
    # One batch shares recorded_at: the newest event time comes first.
    assert [(r["user_id"], r["channel"]) for r in recent] == [("cy", "sms"), ("ben", "email")]
    assert recent[1]["body"] == "Hi ben, spending is up 22%." and recent[1]["send_at"].tzinfo
    assert recent[0]["subject"] is None and recent[0]["variables"] == {
        "first_name": "cy",
        "ratio": "23%",
    }


def test_migration_0004_keeps_rows_and_rekeys_by_user_and_event(settings):
    upgrade(settings, "0003")
    missed = {
        "event_id": "e-1",
        "user_id": "ana",
        "occurred_at": NOW,
        "amount": 80,
        "currency": "USD",
        "account_kind": "loan",
    }
    table = Base.metadata.tables["missed_payments"]
    engine = create_engine(settings.database_url.get_secret_value())
    try:
        with engine.begin() as connection:
            connection.execute(table.insert(), [missed])
        upgrade(settings)
        assert current(settings) == head()
        with engine.begin() as connection:  # the same event id for another user: a new row
            connection.execute(table.insert(), [missed | {"user_id": "ben"}])
        with pytest.raises(IntegrityError):  # the old key cannot hold both: refuse, keep both
            with engine.begin() as connection:
                config = alembic_config()
                config.attributes["connection"] = connection
                command.downgrade(config, "0003")
    finally:
        engine.dispose()
    assert current(settings) == head()  # the refused downgrade changed nothing
    users = query(settings, "SELECT user_id FROM missed_payments ORDER BY user_id")
    assert [r["user_id"] for r in users] == ["ana", "ben"]
