"""The COPY write path (``sinks.staging``) against the real PostgreSQL, beside the INSERT one.

Each edge is written with both methods (``NUDGE_SINK_WRITE``): they must count and store
exactly the same, so the stored rows are compared column for column (``recorded_at``
aside: it is the database clock).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from schemas.settings import Settings
from sinks.rows import DEAD_LETTERS, ROUTES, ConsumedMessage, Row, message_row
from sinks.staging import copy_new
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
METHODS: tuple[Literal["copy", "insert"], ...] = ("copy", "insert")
TABLES = ("trigger_events", "communications", "interventions", "dead_letters")


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


def row(model: BaseModel, offset: int = 0) -> Row:
    spec = SPEC_OF[type(model)]
    value = model.model_dump_json().encode()
    source = ConsumedMessage(f"p.{spec.name}", 0, offset, b"k", value)
    return message_row(source, ROUTES[spec], NOW)


def stored(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Every row of the sink's tables as JSON, without the database's own clock."""
    return {
        table: [
            found["r"]
            for found in query(
                settings,
                f"SELECT to_jsonb(t) - 'recorded_at' AS r FROM {table} t ORDER BY 1",  # noqa: S608
            )
        ]
        for table in TABLES
    }


def empty(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(TABLES)}"))


def written_both_ways(settings, engine, batches: list[list[Row]]) -> dict[str, Any]:
    """Write ``batches`` with each method on an emptied database; return both outcomes."""
    outcomes: dict[str, Any] = {}
    for method in METHODS:
        empty(engine)
        writer = BatchWriter(engine, method)
        results = [writer.write(batch, NOW) for batch in batches]
        counted = [
            (dict(r.inserted), dict(r.duplicates), [d.source.offset for d in r.rejected])
            for r in results
        ]
        new = [{t: sorted(str(v) for v in rows) for t, rows in r.new_rows.items()} for r in results]
        outcomes[method] = {"counted": counted, "new": new, "stored": stored(settings)}
    return outcomes


def test_duplicates_in_a_batch_and_replays_count_and_store_alike(settings, engine):
    batch = [row(decision("ana", 1)), row(communication("ana", 1)), row(decision("ben", 2))]
    batch += [row(decision("ana", 1), offset=7), row(communication("ana", 1), offset=8)]
    both = written_both_ways(settings, engine, [batch, batch, batch[:2]])
    assert both["copy"] == both["insert"]
    first, replay, partial = both["copy"]["counted"]
    assert first == ({"trigger_events": 2, "communications": 1}, {"trigger_events": 1,
                     "communications": 1}, [])  # fmt: skip
    assert replay == ({"trigger_events": 0, "communications": 0}, {"trigger_events": 3,
                      "communications": 2}, [])  # fmt: skip
    assert partial[0] == {"trigger_events": 0, "communications": 0}
    # new_rows (which linking reads) names only the first batch's rows, once each.
    assert [sum(len(v) for v in new.values()) for new in both["copy"]["new"]] == [3, 0, 0]


def test_a_refused_value_in_a_copy_batch_is_a_dead_letter_and_the_rest_is_stored(settings, engine):
    too_big = communication("ana", 1).model_copy(update={"template_version": 2**31})
    batch = [row(decision("ana", 1)), row(too_big, offset=5), row(communication("cy", 3))]
    batch.append(row(intervention("dee", 4)))
    both = written_both_ways(settings, engine, [batch])
    assert both["copy"] == both["insert"]
    inserted, _, rejected = both["copy"]["counted"][0]
    assert rejected == [5]
    assert inserted == {
        "trigger_events": 1,
        "communications": 1,
        "interventions": 1,
        "dead_letters": 1,
    }
    (dead,) = both["copy"]["stored"]["dead_letters"]
    assert (dead["offset"], dead["error"]) == (5, "database refused the row: sqlstate 22003")


def test_nul_in_text_arrays_and_nested_json_is_stored_as_replacement(settings, engine):
    nul_text = communication("ana", 1).model_copy(update={"body": "a\x00b", "subject": "\x00"})
    nul_json = communication("ben", 2).model_copy(update={"variables": {"k\x00": "v\x00"}})
    nul_deep = intervention("cy", 3)
    nul_deep = nul_deep.model_copy(
        update={"messages": [m.model_copy(update={"body": "x\x00y"}) for m in nul_deep.messages]}
    )
    nul_array = decision("dee", 4).model_copy(update={"command_ids": ["c\x00", "d"]})
    batch = [row(nul_text, 1), row(nul_json, 2), row(nul_deep, 3), row(nul_array, 4)]
    both = written_both_ways(settings, engine, [batch])
    assert both["copy"] == both["insert"]
    assert both["copy"]["counted"][0][2] == []
    rows = both["copy"]["stored"]
    bodies = {c["body"] for c in rows["communications"]}
    assert "a\ufffdb" in bodies
    assert {"k\ufffd": "v\ufffd"} in [c["variables"] for c in rows["communications"]]
    assert rows["interventions"][0]["messages"][0]["body"] == "x\ufffdy"
    assert rows["trigger_events"][0]["command_ids"] == ["c\ufffd", "d"]


def test_times_with_any_offset_come_back_as_the_same_instant(settings, engine):
    india = timezone(timedelta(hours=5, minutes=30))
    at = datetime(2025, 3, 14, 23, 45, 12, 123456, tzinfo=india)
    chosen = communication("ana", 1).model_copy(
        update={"created_at": at, "send_at": at.astimezone(timezone(timedelta(hours=-7)))}
    )
    both = written_both_ways(settings, engine, [[row(chosen)]])
    assert both["copy"] == both["insert"]
    (found,) = query(settings, "SELECT created_at, send_at FROM communications")
    assert found["created_at"] == at and found["send_at"] == at
    assert found["created_at"].utcoffset() is not None


def test_rows_with_another_column_set_in_one_batch_keep_the_server_defaults(settings, engine):
    full = row(letter(settings, "ana", 1))
    partial_values = dict(row(letter(settings, "ben", 2)).values)
    del partial_values["redacted"], partial_values["truncated"]
    partial = Row(DEAD_LETTERS, partial_values, full.source)
    with engine.begin() as connection:
        keys = copy_new(connection, DEAD_LETTERS, [full.values, partial.values])
    assert sorted(keys) == sorted([full.key, partial.key])
    found = query(settings, "SELECT dead_letter_id, redacted, truncated FROM dead_letters")
    assert len(found) == 2
    assert all(f["redacted"] is False and f["truncated"] is False for f in found)


def test_database_errors_in_copy_are_sqlalchemy_errors_the_sink_retries(settings, engine):
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE communications CASCADE"))
    with pytest.raises(ProgrammingError) as raised:
        BatchWriter(engine, "copy").write([row(communication("ana", 1))], NOW)
    assert isinstance(raised.value, DBAPIError)
    assert "ana" not in str(raised.value)  # no row values in the statement shown
