"""Segment changes on the real PostgreSQL: rows, membership views, the report, the gauge.

Most tests write through the sink's own batch writer (no Kafka); the last one goes through
the broker and the running sink, for the gauge and the counter.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine

from schemas.segments import SegmentChange
from schemas.settings import Settings
from schemas.topics import SEGMENTS_CHANGES
from sinks import segment_sizes
from sinks.migrate import upgrade
from sinks.reports.build import build
from sinks.rows import ROUTES, ConsumedMessage, Row, message_row
from sinks.writer import BatchWriter
from streams.cli.main import main
from tests.integration.harness import wait_until
from tests.integration.sink_harness import (
    metric,
    offsets_caught_up,
    publish,
    publish_raw,
    query,
    running_sink,
    segment_change,
)

pytestmark = pytest.mark.integration

#: Well inside today (UTC) whatever the hour: changes are placed relative to it.
NOW = datetime.now(UTC)
TODAY = NOW.date()
SHOPPERS, SPENDERS, LAPSED, TIED = "window_shoppers", "big_spenders", "lapsed", "tied"


def days_ago(days: int, minutes: int = 0) -> datetime:
    """A time ``days`` UTC days before today, at 00:30 + ``minutes``: never tomorrow."""
    midnight = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC)
    return midnight - timedelta(days=days) + timedelta(minutes=30 + minutes)


def row(model: BaseModel | bytes, offset: int) -> Row:
    value = model if isinstance(model, bytes) else model.model_dump_json().encode()
    source = ConsumedMessage("p.segments.changes", 0, offset, b"k", value)
    return message_row(source, ROUTES[SEGMENTS_CHANGES], NOW)


#: Ana joins, leaves and joins again; Ben joins; Cy joins big spenders long ago; Dee joins
#: and leaves (nobody is left in ``lapsed``); Eve's join and leave, and Fay's leave and
#: join, share one instant each (the order they arrived in decides).
ANA_JOINS = segment_change("ana", SHOPPERS, "joined", days_ago(20), "e1")
ANA_LEAVES = segment_change(
    "ana", SHOPPERS, "left", days_ago(5), "e2", member_since=ANA_JOINS.occurred_at
)
ANA_REJOINS = segment_change("ana", SHOPPERS, "joined", days_ago(2), "e3")
BEN_JOINS = segment_change("ben", SHOPPERS, "joined", days_ago(1), "e4")
CY_JOINS = segment_change("cy", SPENDERS, "joined", days_ago(40), "e5")
DEE_JOINS = segment_change("dee", LAPSED, "joined", days_ago(3), "e6")
DEE_LEAVES = segment_change("dee", LAPSED, "left", days_ago(0), "e7", member_since=days_ago(3))
EVE_JOINS = segment_change("eve", TIED, "joined", days_ago(1), "e8")
EVE_LEAVES = segment_change("eve", TIED, "left", days_ago(1), "e9", member_since=days_ago(1))
FAY_LEAVES = segment_change("fay", TIED, "left", days_ago(1), "e10", member_since=days_ago(9))
FAY_JOINS = segment_change("fay", TIED, "joined", days_ago(1), "e11")

FIRST_BATCH = [CY_JOINS, ANA_JOINS, DEE_JOINS, EVE_JOINS, EVE_LEAVES, ANA_JOINS, FAY_LEAVES]
SECOND_BATCH = [ANA_JOINS, ANA_LEAVES, ANA_REJOINS, BEN_JOINS, DEE_LEAVES, FAY_JOINS]


def write(engine: Engine, method: str, batches: list[list[SegmentChange]]) -> list[Any]:
    writer = BatchWriter(engine, method)  # type: ignore[arg-type]
    offset = 0
    results = []
    for batch in batches:
        rows = []
        for change in batch:
            rows.append(row(change, offset))
            offset += 1
        results.append(writer.write(rows, NOW))
    return results


@pytest.mark.parametrize("method", ["copy", "insert"])
def test_changes_are_stored_once_and_membership_follows_the_latest(settings, engine, method):
    first, second = write(engine, method, [FIRST_BATCH, SECOND_BATCH])
    # ANA_JOINS three times: once in each batch's duplicates, once a row.
    assert (first.inserted["segment_changes"], first.duplicates["segment_changes"]) == (6, 1)
    assert (second.inserted["segment_changes"], second.duplicates["segment_changes"]) == (5, 1)

    stored = {r["change_id"]: r for r in query(settings, "SELECT * FROM segment_changes")}
    assert len(stored) == 11
    left = stored[ANA_LEAVES.change_id]
    assert {k: left[k] for k in ("user_id", "segment_id", "change", "source_event_id")} == {
        "user_id": "ana",
        "segment_id": SHOPPERS,
        "change": "left",
        "source_event_id": "e2",
    }
    assert left["occurred_at"] == days_ago(5) and left["member_since"] == days_ago(20)
    assert left["reason"] == "no page_view in 7d" and left["recorded_at"].tzinfo
    assert stored[ANA_JOINS.change_id]["member_since"] is None

    members = query(
        settings, "SELECT user_id, segment_id, joined_at, change_id FROM segment_members"
    )
    assert {(m["user_id"], m["segment_id"]): m["joined_at"] for m in members} == {
        ("ana", SHOPPERS): days_ago(2),  # the re-join
        ("ben", SHOPPERS): days_ago(1),
        ("cy", SPENDERS): days_ago(40),
        ("fay", TIED): days_ago(1),  # left, then joined at the same instant
    }
    ana = next(m for m in members if m["user_id"] == "ana")
    assert ana["change_id"] == ANA_REJOINS.change_id

    sizes = query(settings, "SELECT segment_id, members FROM segment_sizes")
    assert {s["segment_id"]: s["members"] for s in sizes} == {
        SHOPPERS: 2,
        SPENDERS: 1,
        LAPSED: 0,  # everyone left: still a row, so a gauge falls to 0
        TIED: 1,
    }


def test_a_replayed_batch_changes_nothing(settings, engine):
    write(engine, "copy", [FIRST_BATCH, SECOND_BATCH])
    before = query(settings, "SELECT * FROM segment_changes ORDER BY change_id")
    (again,) = write(engine, "copy", [FIRST_BATCH + SECOND_BATCH])
    assert again.new == 0 and again.duplicates["segment_changes"] == 13
    assert query(settings, "SELECT * FROM segment_changes ORDER BY change_id") == before


def test_an_unusable_change_is_a_dead_letter(settings, engine):
    naive = json.loads(BEN_JOINS.model_dump_json()) | {"occurred_at": "2025-03-14T09:30:00"}
    unknown = json.loads(BEN_JOINS.model_dump_json()) | {"change": "stayed"}
    rows = [row(json.dumps(naive).encode(), 1), row(json.dumps(unknown).encode(), 2)]
    rows.append(row(b"{oops", 3))
    assert [r.rejected for r in rows] == [True, True, True]
    result = BatchWriter(engine).write(rows, NOW)
    assert dict(result.inserted) == {"dead_letters": 3}
    letters = query(settings, 'SELECT topic, "offset", kind, error FROM dead_letters')
    by_offset = {letter["offset"]: letter for letter in letters}
    assert by_offset[1]["error"] == "occurred_at: Input should have timezone info"
    assert by_offset[2]["kind"] == "invalid" and by_offset[3]["kind"] == "not_json"
    assert query(settings, "SELECT * FROM segment_changes") == []


def day(days: int) -> date:
    return TODAY - timedelta(days=days)


def test_the_report_counts_members_now_and_changes_per_utc_day(settings, engine):
    write(engine, "copy", [FIRST_BATCH, SECOND_BATCH])
    week = build(settings, "segments", 7)
    summary, per_day = week.sections
    # Big spenders: a member, no change in the week (Cy joined 40 days ago): listed.
    # Lapsed: no member, but changes in the week: listed. Ana's first join (20 days ago)
    # is outside the week; her leave (5 days ago) and re-join (2) inside.
    assert [(r["segment_id"], r["members"], r["joins"], r["leaves"]) for r in summary.rows] == [
        (SPENDERS, 1, 0, 0),
        (LAPSED, 0, 1, 1),
        (TIED, 1, 2, 2),
        (SHOPPERS, 2, 2, 1),
    ]
    assert [(r["segment_id"], r["day"], r["joins"], r["leaves"]) for r in per_day.rows] == [
        (LAPSED, day(3), 1, 0),
        (LAPSED, day(0), 0, 1),
        (TIED, day(1), 2, 2),
        (SHOPPERS, day(5), 0, 1),
        (SHOPPERS, day(2), 1, 0),
        (SHOPPERS, day(1), 1, 0),
    ]
    month = build(settings, "segments", 30)
    shoppers = next(r for r in month.sections[0].rows if r["segment_id"] == SHOPPERS)
    assert (shoppers["joins"], shoppers["leaves"]) == (3, 1)
    assert [r["day"] for r in month.sections[1].rows if r["segment_id"] == SPENDERS] == []
    quarter = build(settings, "segments", 90)
    assert [
        (r["day"], r["joins"]) for r in quarter.sections[1].rows if r["segment_id"] == SPENDERS
    ] == [(day(40), 1)]


def test_nudge_report_segments_prints_tables_and_json(settings, engine, monkeypatch, capsys):
    write(engine, "copy", [FIRST_BATCH, SECOND_BATCH])
    monkeypatch.setenv("NUDGE_DATABASE_URL", settings.database_url.get_secret_value())
    assert main(["report", "segments", "--days", "7"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Segments, last 7 days (as of ")
    assert lines[2].split() == ["segment", "members", "now", "joins", "leaves"]
    assert lines[3].split() == [SPENDERS, "1", "0", "0"]
    assert lines[6].split() == [SHOPPERS, "2", "2", "1"]
    assert lines[8].startswith("Segment joins and leaves per day, last 7 days")
    assert lines[11].split() == [LAPSED, day(3).isoformat(), "1", "0"]

    assert main(["report", "segments", "--days", "30", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["report"], document["window_days"]) == ("segments", 30)
    assert {r["segment_id"]: r["members"] for r in document["segments"]} == {
        SPENDERS: 1,
        LAPSED: 0,
        TIED: 1,
        SHOPPERS: 2,
    }
    assert {"segment_id": SHOPPERS, "day": day(20).isoformat(), "joins": 1, "leaves": 0} in (
        document["days"]
    )


# --- through the broker and the running sink ----------------------------------------------


@pytest.fixture
def kafka_settings(make_settings: Callable[..., Settings]) -> Settings:
    migrated = make_settings(sink_batch_size=50)
    upgrade(migrated)
    return migrated


def members_gauge(segment: str) -> float | None:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("nudge_segment_members", {"segment": segment})


async def test_the_sink_stores_changes_counts_them_and_sets_the_members_gauge(
    kafka_settings, monkeypatch
):
    monkeypatch.setattr(segment_sizes, "REFRESH_SECONDS", 0.2)
    segment = f"seg_{kafka_settings.topic_prefix.strip('.')}"  # this test's own series
    joins = [segment_change(u, segment, "joined", days_ago(1), f"{u}-1") for u in ("a", "b", "c")]
    c_leaves = segment_change("c", segment, "left", days_ago(0), "c-2", member_since=days_ago(1))
    stored_before = metric("nudge_sink_segment_changes_total", segment=segment, change="joined")
    async with running_sink(kafka_settings):
        await publish(kafka_settings, [*joins, joins[0]])  # a's join twice: one row
        await wait_until(lambda: members_gauge(segment) == 3, "three members on the gauge")
        await publish(kafka_settings, [c_leaves])
        await publish_raw(kafka_settings, SEGMENTS_CHANGES, [(b"d", b"{not json")])
        await wait_until(lambda: members_gauge(segment) == 2, "c left: two members")
        await wait_until(lambda: offsets_caught_up(kafka_settings), "offsets committed")

    changes = query(kafka_settings, "SELECT change_id FROM segment_changes")
    assert len(changes) == 4
    letters = query(kafka_settings, "SELECT topic, kind FROM dead_letters")
    assert letters == [
        {"topic": f"{kafka_settings.topic_prefix}segments.changes", "kind": "not_json"}
    ]
    joined = metric("nudge_sink_segment_changes_total", segment=segment, change="joined")
    left = metric("nudge_sink_segment_changes_total", segment=segment, change="left")
    assert (joined - stored_before, left) == (3, 1)
