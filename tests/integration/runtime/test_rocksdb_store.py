"""The worker with ``NUDGE_STORE=rocksdb://``: state kept on disk, per partition.

The restart after SIGKILL is ``test_worker.py``'s restart test, parametrized over the
store; here what only RocksDB has: records written from a batch (no Faust event
context), read back by the next batch and by the timer, and partitions moving between
workers that each keep their own RocksDB files.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.settings import Settings
from schemas.topics import (
    ALERTS_PROFILES,
    BEHAVIOR_EVENTS,
    COMMS_COMMANDS,
    EXPERIMENTS_ASSIGNMENTS,
    TRIGGER_DECISIONS,
)
from streams.runtime.definitions_feed import publish_entries
from streams.simulation.simulated_publisher import produce
from tests.integration.harness import (
    NudgeProcess,
    publish,
    read_until,
    wait_for_assignment,
    wait_until,
)
from tests.integration.scenarios import SPIKE_COPY, as_messages, spend, spiker

pytestmark = pytest.mark.integration


def _pairs(records: list) -> set[tuple[str, str, str]]:
    commands = [json.loads(r.value) for r in records]
    return {(c["user_id"], c["trigger_id"], c["channel"]) for c in commands}


async def test_a_spiker_fires_with_the_rocksdb_store(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(store="rocksdb://")
    now = datetime.now(UTC)
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    try:
        # The baseline is 36 days of history folded over many batches: it exists only if
        # each batch's writes reached RocksDB and the next batch read them back.
        await publish(settings, BEHAVIOR_EVENTS, as_messages(spiker("spiker-r", now)))
        expected = {("spiker-r", "spending_spike", "sms"), ("spiker-r", "spending_spike", "email")}
        records = await read_until(
            settings, COMMS_COMMANDS, lambda rs: expected <= _pairs(rs), settle=2.0
        )
        # A second spike within the cooldown is suppressed: the firing itself was stored.
        again = spend("spiker-r", now, "300.00", "spiker-r-again")
        await publish(settings, BEHAVIOR_EVENTS, as_messages([again]))
        decisions = await read_until(
            settings,
            TRIGGER_DECISIONS,
            lambda rs: any(json.loads(r.value)["source_event_id"] == "spiker-r-again" for r in rs),
        )
    finally:
        assert worker.stop() == 0
    assert _pairs(records) == expected
    verdicts = [
        (d["trigger_id"], d["outcome"], d["reason"])
        for d in map(json.loads, (r.value for r in decisions))
        if d["source_event_id"] == "spiker-r-again"
    ]
    assert verdicts == [("spending_spike", "suppressed", "cooldown")]
    assert "AssertionError" not in worker.log_text()
    assert Counter(json.loads(r.value)["command_id"] for r in records).most_common(1)[0][1] == 1


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
async def test_a_sigkill_mid_stream_loses_and_doubles_nothing(
    make_settings: Callable[..., Settings], tmp_path: Path, store: str
) -> None:
    """Killed while records are on their way to the changelog (and RocksDB), restarted.

    The memory store failed this once in three runs before a batch's outputs were
    acknowledged ahead of its records: a record that reached the changelog before the
    commands it decided marked their events as seen, and the replay dropped them.
    """
    settings = make_settings(partitions=4, store=store)
    # An experiment on the spikes (both arms send): its assignments must survive too.
    await publish_entries(settings, [(b"experiment:spike_copy", json.dumps(SPIKE_COPY).encode())])
    first = NudgeProcess(settings, "worker", tmp_path / "first.log").start()
    second = NudgeProcess(settings, "worker", tmp_path / "second.log")
    try:
        producing = asyncio.create_task(produce(settings, users=40, rate=2000, seed=12))
        await wait_for_assignment(first)
        await wait_until(
            lambda: any(
                e.get("message") == "trigger definitions loaded" for e in first.log_entries()
            ),
            "the first worker to process",
        )
        await asyncio.sleep(2.0)  # mid-stream: batches of writes in flight
        assert not producing.done(), "the kill should land while events still flow"
        first.kill()
        second.start()
        report = await producing
        expected = {
            (user, trigger, channel)
            for trigger, users in report.expected.items()
            for user in users
            for channel in ("sms", "email")
        }
        records = await read_until(
            settings,
            COMMS_COMMANDS,
            lambda rs: expected <= _pairs(rs),
            timeout=120.0,
            settle=3.0,
        )
        spikers = report.expected["spending_spike"]
        assigned = await read_until(
            settings,
            EXPERIMENTS_ASSIGNMENTS,
            lambda rs: spikers <= {json.loads(r.value)["user_id"] for r in rs},
            timeout=30.0,
            settle=1.0,
        )
        profiled = await read_until(
            settings, ALERTS_PROFILES, lambda rs: bool(rs), timeout=30.0, settle=1.0
        )
    finally:
        second.stop()
        first.stop()
    assert _pairs(records) == expected
    # One assignment per user, ever: a copy sent again after the kill repeats its id and
    # its arm (the sink keeps it once); every spiker has one.
    arms = {
        (a["message_id"], a["user_id"], a["variant"])
        for a in map(json.loads, (r.value for r in assigned))
    }
    assert len({m for m, _, _ in arms}) == len(arms) == len({u for _, u, _ in arms})
    assert spikers <= {u for _, u, _ in arms}
    unique = {json.loads(r.value)["command_id"]: json.loads(r.value) for r in records}.values()
    per_firing = Counter((c["user_id"], c["trigger_id"], c["channel"]) for c in unique)
    assert set(per_firing.values()) == {1}
    # Alert profiles: one per cause, repeated after the kill with the same id and content,
    # never a second profile of a user at the same number of debits.
    profiles: dict[str, dict[str, Any]] = {}
    for raw in profiled:
        profile = json.loads(raw.value)
        assert profiles.setdefault(profile["profile_id"], profile) == profile
    at_count = Counter(
        (p["user_id"], p["features"]["transaction_count"]) for p in profiles.values()
    )
    assert set(at_count.values()) == {1}
    assert len({p["user_id"] for p in profiles.values()}) >= len(spikers)
