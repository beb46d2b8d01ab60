"""Partitions moving between workers (one joins, then leaves) lose and double nothing."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, COMMS_COMMANDS
from streams.runtime.lag import group_lag
from streams.simulation.population import expected_firings, make_population
from streams.simulation.simulated_publisher import produce
from tests.integration.harness import NudgeProcess, read_until, wait_for_assignment

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
async def test_a_worker_joining_and_leaving_mid_stream_loses_and_doubles_nothing(
    make_settings: Callable[..., Settings], tmp_path: Path, store: str
) -> None:
    settings = make_settings(partitions=4, store=store)
    first = NudgeProcess(settings, "worker", tmp_path / "first.log").start()
    # Each worker keeps its own table files, as on separate machines: RocksDB locks a
    # partition's database, and the one who gives a partition up may still hold it.
    own_files = make_settings(partitions=4, store=store, data_dir=str(tmp_path / "second"))
    second = NudgeProcess(own_files, "worker", tmp_path / "second.log")
    try:
        # About 14 s of events. The second worker joins once the first owns everything,
        # takes partitions (and their state) mid-stream, and leaves before the end, so
        # partitions move twice under load.
        producing = asyncio.create_task(produce(settings, users=40, rate=2000, seed=11))
        await wait_for_assignment(first)
        second.start()
        await wait_for_assignment(second)
        assert not producing.done(), "the hand-over should happen while events still flow"
        report = await producing
        assert second.stop() == 0
        expected = {
            (user, trigger, channel)
            for trigger, users in report.expected.items()
            for user in users
            for channel in ("sms", "email")
        }
        assert expected, "the population should contain users who fire"
        try:
            records = await read_until(
                settings,
                COMMS_COMMANDS,
                lambda rs: expected <= {_firing(r) for r in rs},
                timeout=120.0,
                settle=3.0,
            )
        except AssertionError as unmet:
            raise AssertionError(await _explain(settings, first, expected)) from unmet
    finally:
        second.stop()
        first.stop()
    commands = [json.loads(r.value) for r in records]
    assert {_firing(r) for r in records} == expected
    # A partition handed over mid-batch may be reprocessed: the same command may be
    # published again, but always with the same id, never as a second, different one.
    unique = {c["command_id"]: c for c in commands}.values()
    ids_per_firing = Counter((c["user_id"], c["trigger_id"], c["channel"]) for c in unique)
    assert set(ids_per_firing.values()) == {1}
    assert report.expected == expected_firings(make_population(40, seed=11))


async def _explain(
    settings: Settings, first: NudgeProcess, expected: set[tuple[str, str, str]]
) -> str:
    """Say what a failed run left behind: which firings, the lag, the first worker's log."""
    records = await read_until(settings, COMMS_COMMANDS, lambda _: True, timeout=10.0)
    missing = sorted(expected - {_firing(r) for r in records})
    lag = await group_lag(
        settings, settings.app_id, [BEHAVIOR_EVENTS.full_name(settings.topic_prefix)]
    )
    log = first.log_path.read_text(errors="replace").splitlines()[-40:]
    return "\n".join(
        [
            f"missing firings: {missing}",
            f"first worker running: {first.running()}; uncommitted input events: {lag}",
            "first worker's log (last 40 lines):",
            *log,
        ]
    )


def _firing(record) -> tuple[str, str, str]:
    command = json.loads(record.value)
    return (command["user_id"], command["trigger_id"], command["channel"])
