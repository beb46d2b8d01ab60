"""``nudge users forget`` against a running worker and sink, a real broker and database.

A user (``ada``) has a history, a fired spending spike whose email is held by quiet hours,
and a dead letter; another user (``bob``) has a history too. After ``forget``:

- the worker's changelog ends ``ada``'s key with a tombstone, and ``alerts.profiles`` and
  ``users.profiles`` have one for it;
- no row of any table names ``ada`` (bob's stay), and ``erasures`` holds one row with no
  personal data;
- the held email is never sent, even when the morning comes;
- a new event of ``ada`` starts a fresh record: one event counted.

Run with each store: with RocksDB the new event is read long after the tombstone left
the overlay, so a key left in the database would show as more than one event.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.pool import NullPool

from schemas.settings import Settings
from schemas.topics import (
    ALERTS_PROFILES,
    BEHAVIOR_EVENTS,
    COMMS_COMMANDS,
    TRIGGER_DECISIONS,
    USERS_PROFILES,
)
from sinks.erasure import user_tables
from sinks.messages import DEAD_LETTERS
from streams.bench.final_state import changelog_topic, partitions_of
from streams.core.state.record import UserState
from streams.runtime.processes import settings_env
from tests.integration.harness import (
    NudgeProcess,
    caught_up,
    publish,
    read_until,
    rows_when,
    wait_until,
)
from tests.integration.runtime.test_send_policy import night_zone
from tests.integration.scenarios import as_messages, spend, spiker, steady_spender
from tests.unit.factories import profile

pytestmark = pytest.mark.integration

USER, OTHER = "ada", "bob"


async def records_of(settings: Settings, topic: str, key: bytes) -> list[ConsumerRecord]:
    """Every record of ``topic`` with ``key``, in offset order, up to the topic's end now."""
    partitions = await partitions_of(settings, topic)
    consumer = AIOKafkaConsumer(**settings.kafka_client_options(), enable_auto_commit=False)
    await consumer.start()
    found: list[ConsumerRecord] = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                found.extend(r for r in batch if r.key == key)
    finally:
        await consumer.stop()
    return sorted(found, key=lambda r: r.offset)


def timer_passes(worker: NudgeProcess) -> int:
    """Count the timer passes that judged a schedule (the only ones logged)."""
    return sum(1 for entry in worker.log_entries() if entry.get("message") == "timer pass")


async def assert_tombstones(settings: Settings) -> None:
    """The user's key ends with a tombstone on the changelog and the compacted topics."""
    changes = await records_of(settings, changelog_topic(settings.app_id), USER.encode())
    assert changes and changes[-1].value is None
    for spec in (ALERTS_PROFILES, USERS_PROFILES):
        topic = spec.full_name(settings.topic_prefix)
        tombstones = await records_of(settings, topic, USER.encode())
        assert tombstones and tombstones[-1].value is None, spec.name


def assert_nothing_names_the_user(engine: Engine) -> None:
    """No row names the user; the other user's rows are there; the erasure names no one."""
    with engine.connect() as connection:
        for table in user_tables():
            named = select(func.count()).select_from(table).where(table.c.user_id == USER)
            assert connection.execute(named).scalar_one() == 0, table.name
        letters = connection.execute(select(func.count()).select_from(DEAD_LETTERS))
        assert letters.scalar_one() == 0
        others = text("SELECT count(*) FROM user_days WHERE user_id = :u")
        assert connection.execute(others, {"u": OTHER}).scalar_one() > 0
        # The erasure's id is random hex, which may spell "ada" by chance: the rest of the
        # row is what must not name the user.
        (erasure,) = connection.execute(
            text("SELECT (to_jsonb(e) - 'erasure_id')::text FROM erasures e")
        ).all()
    assert "erasure_id" not in erasure[0] and USER not in erasure[0]


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
async def test_forget_erases_the_user_everywhere_and_a_new_event_starts_afresh(
    make_settings: Callable[..., Settings], tmp_path: Path, store: str
) -> None:
    clock = tmp_path / "clock"
    settings = make_settings(
        clock_file=str(clock), schedule_interval_seconds=0.5,
        quiet_hours_start=21, quiet_hours_end=8, store=store,
    )  # fmt: skip
    env = settings_env(settings)
    migrate = [sys.executable, "-m", "streams.cli", "db", "upgrade"]
    subprocess.run(migrate, env=env, check=True, capture_output=True)
    url = settings.database_url.get_secret_value()
    now = datetime.now(UTC)
    zone, offset = night_zone(now)
    history = spiker(USER, now)
    located = profile(USER, history[0].occurred_at, timezone=zone)
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    sink = NudgeProcess(settings, "sink", tmp_path / "sink.log").start()
    engine = create_engine(url, poolclass=NullPool)
    try:
        await publish(settings, BEHAVIOR_EVENTS, [
            *as_messages([located, *history, *steady_spender(OTHER, now)]),
            (USER.encode(), b"{ not json"),  # a dead letter keyed by the user
        ])  # fmt: skip
        await caught_up(settings, BEHAVIOR_EVENTS)
        decisions = await read_until(settings, TRIGGER_DECISIONS, lambda rs: len(rs) >= 1)
        assert any(r.key == USER.encode() for r in decisions)
        held = await read_until(settings, COMMS_COMMANDS, lambda rs: True, settle=1.0)
        assert [r for r in held if r.key == USER.encode()] == []  # held until the morning
        await rows_when(url, "SELECT 1 FROM trigger_events WHERE user_id = 'ada'", bool)
        await rows_when(url, "SELECT 1 FROM dead_letters", bool)

        forget = [sys.executable, "-m", "streams.cli", "users", "forget", USER, "--timeout", "60"]
        done = await asyncio.to_thread(subprocess.run, forget, env=env, capture_output=True,
                                       text=True)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "database:" in done.stdout and "erasure recorded" in done.stdout

        await assert_tombstones(settings)
        assert_nothing_names_the_user(engine)

        # The morning comes (a day on, past the held email's send_at): it is never sent.
        # The timer logs a pass that judged a schedule (the daily ones come round), then
        # ticks every half second; a release would be on the topic within the settle.
        passes = timer_passes(worker)
        morning = now + timedelta(days=1)
        clock.write_text(morning.isoformat())
        await wait_until(lambda: timer_passes(worker) > passes, "a timer pass in the morning")
        sent = await read_until(settings, COMMS_COMMANDS, lambda rs: True, settle=3.0)
        assert [r for r in sent if r.key == USER.encode()] == []

        # A new event of the user starts a fresh record.
        await publish(settings, BEHAVIOR_EVENTS, as_messages(
            [spend(USER, morning - timedelta(minutes=1), "12.00", "ada-after")]
        ))  # fmt: skip
        await caught_up(settings, BEHAVIOR_EVENTS)

        async def fresh() -> bool:
            found = await records_of(settings, changelog_topic(settings.app_id), USER.encode())
            return found[-1].value is not None

        await wait_until(fresh, "the user's fresh record on the changelog")
        latest = await records_of(settings, changelog_topic(settings.app_id), USER.encode())
        record = UserState.from_bytes(latest[-1].value)
        assert sum(record.counts.values()) == 1 and record.pending == []
    finally:
        engine.dispose()
        sink.stop()
        worker.stop()
