"""Users' analytics on the real PostgreSQL: score history, the latest per user, the report.

Most tests write through the sink's own batch writer (no Kafka), on both write paths; the
last one goes through the broker and the running sink, for the gauges and dead letters.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine

from schemas.settings import Settings
from schemas.topics import USERS_ANALYTICS
from schemas.user_analytics import UserAnalytics
from sinks import user_figures
from sinks.migrate import upgrade
from sinks.reports.build import build
from sinks.rows import ROUTES, ConsumedMessage, Row, message_row
from sinks.writer import BatchWriter
from streams.cli.main import main
from tests.integration.harness import wait_until
from tests.integration.sink_harness import (
    offsets_caught_up,
    publish,
    publish_raw,
    query,
    running_sink,
    user_snapshot,
)

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def row(model: BaseModel | bytes, offset: int) -> Row:
    value = model if isinstance(model, bytes) else model.model_dump_json().encode()
    source = ConsumedMessage("p.users.analytics", 0, offset, b"k", value)
    return message_row(source, ROUTES[USERS_ANALYTICS], NOW)


#: Ana: exploring three days ago, high intent yesterday (sent twice), then a snapshot from
#: five days ago arrives late: she stays high intent. Dee: two snapshots of one instant, the
#: second one (qualified interest) arrived last. Ben is active in the week, Eve in the month
#: only, Cy (no pattern) in the quarter only. Scores sit on band edges: 20, 40, 60, 80, 100
#: belong to the band above; 19.99 and 79.9 below.
ANA_EXPLORING = user_snapshot("ana", ago(3), "a1", "exploring", (30, 30, 30, 30))
ANA_HIGH = user_snapshot(
    "ana", ago(1), "a2", "high_intent", (85, 60, 100, 19.99), segments=("big_spenders", "shoppers")
)
ANA_LATE_OLD = user_snapshot("ana", ago(5), "a0", "at_risk", (5, 5, 5, 5))
BEN = user_snapshot("ben", ago(2), "b1", "researching", (20, 40, 0, 55))
DEE_FIRST = user_snapshot("dee", ago(3), "d1", "researching", (1, 1, 1, 1))
DEE_SECOND = user_snapshot("dee", ago(3), "d2", "qualified_interest", (79.9, 10, 45, 80))
EVE = user_snapshot("eve", ago(10), "e1", "at_risk", (10, 10, 10, 10))
CY = user_snapshot("cy", ago(40), "c1", None, (0, 0, 0, 0))

FIRST_BATCH = [ANA_EXPLORING, ANA_HIGH, CY, DEE_FIRST, DEE_SECOND, ANA_HIGH]
SECOND_BATCH = [ANA_HIGH, ANA_LATE_OLD, BEN, EVE]


def write(engine: Engine, method: str, batches: list[list[UserAnalytics]]) -> list[Any]:
    writer = BatchWriter(engine, method)  # type: ignore[arg-type]
    offset = 0
    results = []
    for batch in batches:
        rows = []
        for snapshot in batch:
            rows.append(row(snapshot, offset))
            offset += 1
        results.append(writer.write(rows, NOW))
    return results


def latest(settings: Settings) -> dict[str, dict[str, Any]]:
    return {r["user_id"]: r for r in query(settings, "SELECT * FROM user_analytics")}


@pytest.mark.parametrize("method", ["copy", "insert"])
def test_every_snapshot_is_stored_once_and_the_latest_is_the_newest(settings, engine, method):
    first, second = write(engine, method, [FIRST_BATCH, SECOND_BATCH])
    # ANA_HIGH three times: once a row, a duplicate in each batch.
    assert (first.inserted["score_history"], first.duplicates["score_history"]) == (5, 1)
    assert (second.inserted["score_history"], second.duplicates["score_history"]) == (3, 1)

    history = {r["snapshot_id"]: r for r in query(settings, "SELECT * FROM score_history")}
    assert len(history) == 8
    stored = history[ANA_HIGH.snapshot_id]
    assert {k: stored[k] for k in ("user_id", "as_of", "pattern", "segments")} == {
        "user_id": "ana",
        "as_of": ANA_HIGH.as_of,
        "pattern": "high_intent",
        "segments": ["big_spenders", "shoppers"],
    }
    assert (stored["intent_score"], stored["conversion_probability"]) == (100.0, 19.99)
    assert (stored["pages_per_session"], stored["days_active_14d"]) == (None, 2)
    assert stored["recorded_at"].tzinfo and history[CY.snapshot_id]["pattern"] is None

    now = latest(settings)
    assert {user: r["snapshot_id"] for user, r in now.items()} == {
        "ana": ANA_HIGH.snapshot_id,  # not the older snapshot that arrived after it
        "ben": BEN.snapshot_id,
        "cy": CY.snapshot_id,
        "dee": DEE_SECOND.snapshot_id,  # same as_of: the one that arrived last
        "eve": EVE.snapshot_id,
    }
    assert now["ana"]["engagement_score"] == 85.0 and now["ana"]["segments"] == [
        "big_spenders",
        "shoppers",
    ]


def test_a_replay_changes_nothing_and_one_user_is_one_index_probe(settings, engine):
    write(engine, "copy", [FIRST_BATCH, SECOND_BATCH])
    before = query(settings, "SELECT * FROM score_history ORDER BY snapshot_id")
    (again,) = write(engine, "insert", [SECOND_BATCH + FIRST_BATCH])
    assert again.new == 0 and again.duplicates["score_history"] == 10
    assert query(settings, "SELECT * FROM score_history ORDER BY snapshot_id") == before
    assert latest(settings)["ana"]["snapshot_id"] == ANA_HIGH.snapshot_id

    plan = query(
        settings,
        "EXPLAIN (FORMAT JSON) SELECT * FROM user_analytics WHERE user_id = 'ana'",
    )
    text = json.dumps(plan)
    # The user's filter reaches the index, and the view's order needs no sort.
    assert "ix_score_history_user_id_as_of_arrival" in text and '"Sort"' not in text


def test_an_unusable_snapshot_is_a_dead_letter(settings, engine):
    naive = json.loads(BEN.model_dump_json()) | {"as_of": "2025-03-14T09:30:00"}
    too_high = json.loads(BEN.model_dump_json()) | {"intent_score": 101}
    rows = [row(json.dumps(naive).encode(), 1), row(json.dumps(too_high).encode(), 2)]
    rows.append(row(b"\xff\xfe not json", 3))
    assert [r.rejected for r in rows] == [True, True, True]
    result = BatchWriter(engine).write(rows, NOW)
    assert dict(result.inserted) == {"dead_letters": 3}
    letters = query(settings, 'SELECT "offset", kind, error FROM dead_letters')
    by_offset = {letter["offset"]: letter for letter in letters}
    assert by_offset[1]["error"] == "as_of: Input should have timezone info"
    assert by_offset[2]["kind"] == "invalid" and by_offset[3]["kind"] == "not_json"
    assert query(settings, "SELECT * FROM score_history") == []


def figures(report: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {section.key: [tuple(r.values()) for r in section.rows] for section in report.sections}


def test_the_report_counts_active_users_by_pattern_and_score_band(settings, engine):
    write(engine, "copy", [FIRST_BATCH, SECOND_BATCH])
    week = figures(build(settings, "users", 7))
    assert week["patterns"] == [
        # pattern, users, then average engagement, interest, intent, conversion
        ("high_intent", 1, 85.0, 60.0, 100.0, 20.0),
        ("qualified_interest", 1, 79.9, 10.0, 45.0, 80.0),
        ("researching", 1, 20.0, 40.0, 0.0, 55.0),
    ]
    assert week["scores"] == [
        # band, then users by engagement, interest, intent, conversion
        ("0-20", 0, 1, 1, 1),
        ("20-40", 1, 0, 0, 0),
        ("40-60", 0, 1, 1, 1),
        ("60-80", 1, 1, 0, 0),
        ("80-100", 1, 0, 1, 1),
    ]
    assert "users" not in week
    month = figures(build(settings, "users", 30))
    assert [(p, n) for p, n, *_ in month["patterns"]] == [
        ("at_risk", 1),
        ("high_intent", 1),
        ("qualified_interest", 1),
        ("researching", 1),
    ]
    quarter = figures(build(settings, "users", 90))
    assert [(p, n) for p, n, *_ in quarter["patterns"]][-1] == ("none", 1)
    assert sum(row[1] for row in quarter["scores"]) == 5

    high = build(settings, "users", 7, "high_intent")
    assert figures(high)["patterns"] == [("high_intent", 1, 85.0, 60.0, 100.0, 20.0)]
    assert [r[1:] for r in figures(high)["scores"]] == [
        (0, 0, 0, 1),
        (0, 0, 0, 0),
        (0, 0, 0, 0),
        (0, 1, 0, 0),
        (1, 0, 1, 0),
    ]
    (ana,) = high.sections[2].rows
    assert ana == {
        "user_id": "ana",
        "engagement": 85.0,
        "interest": 60.0,
        "intent": 100.0,
        "conversion": 19.99,
        "segments": ["big_spenders", "shoppers"],
        "last_activity_at": ANA_HIGH.last_activity_at,
    }
    # The late at_risk snapshot is not Ana's pattern now; nobody active is at risk this week.
    assert build(settings, "users", 7, "at_risk").sections[2].rows == []
    nobody = build(settings, "users", 90, "none").sections[2].rows
    assert [r["user_id"] for r in nobody] == ["cy"]


def test_the_users_list_keeps_the_ten_most_recently_active(settings, engine):
    many = [user_snapshot(f"u{n:02d}", ago(n / 10), f"x{n}", "exploring") for n in range(12)]
    write(engine, "insert", [many])
    listed = build(settings, "users", 7, "exploring").sections[2].rows
    assert [r["user_id"] for r in listed] == [f"u{n:02d}" for n in range(10)]
    assert figures(build(settings, "users", 7, "exploring"))["patterns"][0][:2] == (
        "exploring",
        12,
    )


def test_nudge_report_users_prints_tables_and_json(settings, engine, monkeypatch, capsys):
    write(engine, "copy", [FIRST_BATCH, SECOND_BATCH])
    monkeypatch.setenv("NUDGE_DATABASE_URL", settings.database_url.get_secret_value())
    assert main(["report", "users", "--days", "7"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Active users by pattern, last 7 days (as of ")
    assert lines[2].split() == [
        "pattern", "users", "avg", "engagement", "avg", "interest", "avg", "intent", "avg",
        "conversion",
    ]  # fmt: skip
    assert lines[3].split() == ["high_intent", "1", "85.0", "60.0", "100.0", "20.0"]
    assert lines[7].startswith("Active users by score band, last 7 days")
    assert lines[9].split() == ["band", "engagement", "interest", "intent", "conversion"]
    assert lines[10].split() == ["0-20", "0", "1", "1", "1"]
    assert len(lines) == 15  # no users listed without --pattern

    assert main(["report", "users", "--pattern", "high_intent", "--days", "7"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-4].startswith("Most recently active users (up to 10), last 7 days")
    stamp = ANA_HIGH.as_of.strftime("%Y-%m-%d %H:%M")
    assert lines[-1].split() == [
        "ana", "85.0", "60.0", "100.0", "20.0", "big_spenders,", "shoppers", *stamp.split(),
    ]  # fmt: skip

    assert main(["report", "users", "--days", "30", "--pattern", "at_risk", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["report"], document["window_days"], document["pattern"]) == (
        "users",
        30,
        "at_risk",
    )
    assert document["patterns"] == [
        {
            "pattern": "at_risk",
            "users": 1,
            "engagement": 10.0,
            "interest": 10.0,
            "intent": 10.0,
            "conversion": 10.0,
        }
    ]
    assert document["scores"][0] == {
        "band": "0-20",
        "engagement": 1,
        "interest": 1,
        "intent": 1,
        "conversion": 1,
    }
    (eve,) = document["users"]
    assert eve["user_id"] == "eve" and eve["segments"] == []
    assert datetime.fromisoformat(eve["last_activity_at"]) == EVE.last_activity_at


def test_the_figures_the_gauges_read(settings, engine):
    assert user_figures.read_figures(engine) == user_figures.UserFigures({}, {})
    write(engine, "insert", [FIRST_BATCH, SECOND_BATCH])
    read = user_figures.read_figures(engine)
    assert read.users_by_pattern == {
        "high_intent": 1,
        "qualified_interest": 1,
        "researching": 1,
        "at_risk": 1,
        "none": 1,
    }
    # Every user's latest snapshot, whenever it was: Cy's 40-day-old one too.
    assert read.average_scores == pytest.approx(
        {
            "engagement": (85 + 20 + 0 + 79.9 + 10) / 5,
            "interest": (60 + 40 + 0 + 10 + 10) / 5,
            "intent": (100 + 0 + 0 + 45 + 10) / 5,
            "conversion": (19.99 + 55 + 0 + 80 + 10) / 5,
        }
    )


# --- through the broker and the running sink ----------------------------------------------


@pytest.fixture
def kafka_settings(make_settings: Callable[..., Settings]) -> Settings:
    migrated = make_settings(sink_batch_size=50)
    upgrade(migrated)
    return migrated


def gauge(name: str, **labels: str) -> float | None:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels)


def shows(patterns: Mapping[str, float], engagement: float) -> Callable[[], bool]:
    def holds() -> bool:
        shown = {p: gauge("nudge_users_by_pattern", pattern=p) for p in patterns}
        average = gauge("nudge_average_score", score="engagement")
        return shown == patterns and average == pytest.approx(engagement)

    return holds


async def test_the_sink_stores_snapshots_and_sets_the_users_gauges(kafka_settings, monkeypatch):
    monkeypatch.setattr(user_figures, "REFRESH_SECONDS", 0.2)
    first = [ANA_EXPLORING, BEN, ANA_EXPLORING]  # Ana's twice: one row
    async with running_sink(kafka_settings):
        await publish(kafka_settings, first)
        expected = {"exploring": 1, "researching": 1, "high_intent": 0, "at_risk": 0}
        await wait_until(shows(expected, (30 + 20) / 2), "both users on the gauges")
        await publish(kafka_settings, [ANA_HIGH, ANA_LATE_OLD])  # the older one comes last
        await publish_raw(kafka_settings, USERS_ANALYTICS, [(b"zed", b"{not json")])
        expected = {"exploring": 0, "researching": 1, "high_intent": 1, "at_risk": 0}
        await wait_until(shows(expected, (85 + 20) / 2), "Ana now high intent")
        await wait_until(lambda: offsets_caught_up(kafka_settings), "offsets committed")

    assert len(query(kafka_settings, "SELECT snapshot_id FROM score_history")) == 4
    assert shows(expected, (85 + 20) / 2)()  # the late older snapshot changed nothing
    letters = query(kafka_settings, "SELECT topic, kind FROM dead_letters")
    assert letters == [
        {"topic": f"{kafka_settings.topic_prefix}users.analytics", "kind": "not_json"}
    ]
