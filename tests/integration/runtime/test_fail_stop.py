"""Issue 8: a batch that cannot be finished is not committed, and the worker ends.

Before, Faust's ``take_events`` acknowledged such a batch in a ``finally``: its offsets
were committed unprocessed, the agent was restarted and the worker looked healthy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, COMMS_COMMANDS
from streams.runtime.failstop import EXIT_FAIL_STOP
from streams.runtime.lag import group_lag
from streams.runtime.processes import NudgeProcess, settings_env
from tests.integration.harness import caught_up, publish, read_until
from tests.integration.scenarios import as_messages, ordered, spiker, steady_spender

pytestmark = pytest.mark.integration


async def test_a_failed_batch_is_read_again_after_the_fail_stop(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    now = datetime.now(UTC)
    events = ordered(spiker("spiker-f", now), steady_spender("steady-f", now))
    await publish(settings, BEHAVIOR_EVENTS, as_messages(events))
    log_path = tmp_path / "faulty.log"
    with log_path.open("wb") as log:
        faulty = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "tests.integration.runtime.faulty_worker",
             str(tmp_path / "failed-once"), "spiker-f-spike"],
            env=settings_env(settings), stdout=log, stderr=subprocess.STDOUT, timeout=120,
        )  # fmt: skip
    text = log_path.read_text()
    assert faulty.returncode == EXIT_FAIL_STOP, text[-3000:]
    fail_stops = [json.loads(line) for line in text.splitlines() if '"fail-stop:' in line]
    assert [entry["error"] for entry in fail_stops] == ["BufferError"]
    topic = BEHAVIOR_EVENTS.full_name(settings.topic_prefix)
    # The batch holding the spike was not committed: at least the spike is still to read.
    assert await group_lag(settings, settings.app_id, [topic]) >= 1

    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    try:
        records = await read_until(settings, COMMS_COMMANDS, lambda rs: len(rs) >= 2, settle=2.0)
        await caught_up(settings, BEHAVIOR_EVENTS)
    finally:
        worker.stop()
    commands = [json.loads(r.value) for r in records]
    assert {(c["user_id"], c["trigger_id"]) for c in commands} == {("spiker-f", "spending_spike")}
    assert {c["source_event_id"] for c in commands} == {"spiker-f-spike"}
