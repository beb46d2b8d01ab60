"""The sink under faults: a database outage, malformed messages, a stop mid-batch.

Real failures only: the outage refuses and cuts the sink's database connections on the
real PostgreSQL server; malformed messages are real bytes on the real topics.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from schemas.ids import dead_letter_id
from schemas.settings import Settings
from schemas.topics import COMMS_COMMANDS, TRIGGER_DECISIONS
from sinks.migrate import upgrade
from sinks.worker import run_sink
from tests.integration.harness import wait_until
from tests.integration.sink_harness import (
    TIMEOUT,
    committed,
    communication,
    counts,
    counts_are,
    decision,
    intervention,
    metric,
    offsets_caught_up,
    publish,
    publish_raw,
    rows,
    running_sink,
    taken,
)

pytestmark = pytest.mark.integration

TABLES = ("trigger_events", "communications", "interventions", "dead_letters")


def table_counts(
    decisions: int = 0, comms: int = 0, interventions: int = 0, dead: int = 0
) -> dict[str, int]:
    return dict(zip(TABLES, (decisions, comms, interventions, dead), strict=True))


def set_database_open(settings: Settings, *, open_: bool) -> None:
    """Let the sink's database accept connections again, or refuse them and cut the live ones."""
    url = make_url(settings.database_url.get_secret_value())
    admin = create_engine(
        url.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            name = connection.dialect.identifier_preparer.quote(str(url.database))
            connection.execute(
                text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {str(open_).lower()}")
            )
            if not open_:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = :name"
                    ),
                    {"name": url.database},
                )
    finally:
        admin.dispose()


def duplicates() -> float:
    return sum(metric("nudge_sink_duplicates_total", table=table) for table in TABLES)


async def test_a_database_outage_holds_the_batch_and_loses_or_doubles_nothing(make_settings):
    settings = make_settings(sink_batch_size=5, sink_retry_max_seconds=1.0)
    upgrade(settings)
    before = [decision("ana", n) for n in range(3)]
    during: list[Any] = [
        *(decision("ben", n) for n in range(4)),
        *(communication("ben", n) for n in range(4)),
        *(intervention("ben", n) for n in range(4)),
    ]
    async with running_sink(settings):
        await publish(settings, before)
        await wait_until(
            lambda: counts_are(settings, table_counts(decisions=3)), "rows before the outage"
        )
        await wait_until(lambda: offsets_caught_up(settings), "offsets before the outage")
        offsets_before, taken_before = await committed(settings), taken(settings)
        errors_before, duplicates_before = metric("nudge_sink_write_errors_total"), duplicates()

        await asyncio.to_thread(set_database_open, settings, open_=False)
        try:
            await publish(settings, during)
            await wait_until(
                lambda: metric("nudge_sink_write_errors_total") >= errors_before + 2,
                "two failed writes",
            )
            # The sink holds the batch in its writer and the one it filled meanwhile (two
            # of 5), fetches nothing more, and commits nothing meanwhile.
            assert 0 < taken(settings) - taken_before <= 2 * 5
            assert await committed(settings) == offsets_before
        finally:
            await asyncio.to_thread(set_database_open, settings, open_=True)

        expected = table_counts(decisions=7, comms=4, interventions=4)
        await wait_until(lambda: counts_are(settings, expected), "every row after the outage")
        await wait_until(lambda: offsets_caught_up(settings), "offsets after the outage")

    assert taken(settings) - taken_before == len(during)
    assert duplicates() == duplicates_before  # nothing was written twice, either
    decisions = await rows(settings, "trigger_events", "decision_id")
    assert set(decisions) == {d.decision_id for d in (*before, *during[:4])}
    comms = await rows(settings, "communications", "command_id")
    assert {c["body"] for c in comms.values()} == {
        f"Hi ben, spending is up {20 + n}%." for n in range(4)
    }


async def test_malformed_messages_become_dead_letters_and_later_ones_still_land(make_settings):
    settings = make_settings()
    upgrade(settings)
    decisions_topic = TRIGGER_DECISIONS.full_name(settings.topic_prefix)
    comms_topic = COMMS_COMMANDS.full_name(settings.topic_prefix)
    # Valid JSON, but send_at has no time zone; and the body holds personal data.
    naive = communication("ana", 1).model_dump(mode="json") | {
        "send_at": "2025-03-14T10:30:00",
        "body": "Call Ana on 555-0100",
    }
    naive_bytes = json.dumps(naive).encode()
    async with running_sink(settings):
        (not_json,) = await publish_raw(settings, TRIGGER_DECISIONS, [(b"ana", b"{not json")])
        (invalid,) = await publish_raw(settings, COMMS_COMMANDS, [(b"ana", naive_bytes)])
        later: list[Any] = [decision("ana", 2), communication("ana", 2)]
        await publish(settings, later)
        await wait_until(
            lambda: counts_are(settings, table_counts(1, 1, 0, 2)), "rows and dead letters"
        )
        await wait_until(lambda: offsets_caught_up(settings), "offsets past the bad messages")

    dead = await rows(settings, "dead_letters", "dead_letter_id")
    first = dead[dead_letter_id(decisions_topic, not_json.partition, not_json.offset)]
    assert (first["topic"], first["partition"], first["offset"]) == (
        decisions_topic,
        not_json.partition,
        not_json.offset,
    )
    assert first["kind"] == "not_json" and first["error"].startswith("(root): Invalid JSON")
    assert (
        base64.b64decode(first["value"]) == b"{not json"
        and base64.b64decode(first["key"]) == b"ana"
    )
    second = dead[dead_letter_id(comms_topic, invalid.partition, invalid.offset)]
    assert second["kind"] == "invalid"
    assert second["error"] == "send_at: Input should have timezone info"
    assert base64.b64decode(second["value"]) == naive_bytes
    assert "555" not in second["error"] and "Ana" not in second["error"]
    assert metric("nudge_sink_invalid_messages_total", topic=decisions_topic) == 1
    assert metric("nudge_sink_invalid_messages_total", topic=comms_topic) == 1
    assert set(await rows(settings, "communications", "command_id")) == {later[1].command_id}


async def test_stopping_writes_and_commits_the_pending_batch(
    make_settings: Callable[..., Settings],
):
    # A batch that would wait two minutes: only the stop can make it be written now.
    settings = make_settings(sink_batch_size=1000, sink_batch_timeout_seconds=120.0)
    upgrade(settings)
    messages = [decision("ana", n) for n in range(4)]
    stop = asyncio.Event()
    task = asyncio.create_task(run_sink(settings, stop=stop))
    try:
        await publish(settings, messages)
        await wait_until(lambda: taken(settings) == len(messages), "the sink to take every message")
        assert await counts(settings) == table_counts()
        assert await committed(settings) == {}
    finally:
        stop.set()
        await asyncio.wait_for(task, TIMEOUT)
    assert await counts(settings) == table_counts(decisions=4)
    assert await offsets_caught_up(settings)
