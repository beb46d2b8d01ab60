"""Trigger definitions change under a running worker: no restart, effective at once."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, TRIGGER_DECISIONS
from streams.cli.definitions import publish as publish_definitions
from streams.core.triggers.catalogue import default_definitions
from tests.integration.harness import NudgeProcess, caught_up, publish, read_until, wait_until
from tests.integration.scenarios import as_messages, spend, steady_spender

pytestmark = pytest.mark.integration


async def logged(worker: NudgeProcess, message: str, trigger: str | None, after: int) -> int:
    """Wait until the worker logs ``message`` (for ``trigger``) past line ``after``."""
    found: list[int] = []

    def seen() -> bool:
        entries = worker.log_entries()
        for number, entry in enumerate(entries[after:], start=after):
            if entry.get("message") == message and trigger in (None, entry.get("trigger")):
                found.append(number + 1)
                return True
        return False

    await wait_until(seen, f"{worker.log_path.name} to log {message!r} for {trigger}")
    return found[0]


async def test_threshold_changes_and_pauses_take_effect_without_a_restart(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    spike = next(d for d in default_definitions() if d.id == "spending_spike")
    now = datetime.now(UTC)
    user = "tuned-1"
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    try:
        seen = await logged(worker, "trigger definitions loaded", None, 0)
        strict = spike.model_copy(update={"thresholds": {**spike.thresholds, "spike_percent": 500}})
        await publish_definitions(settings, [strict])
        seen = await logged(worker, "trigger definition changed", "spending_spike", seen)
        first = spend(user, now - timedelta(minutes=30), "400.00", "spike-under-strict")
        await publish(settings, BEHAVIOR_EVENTS, as_messages([*steady_spender(user, now), first]))
        await caught_up(settings, BEHAVIOR_EVENTS)

        loose = spike.model_copy(update={"thresholds": {**spike.thresholds, "spike_percent": 50}})
        await publish_definitions(settings, [loose])
        seen = await logged(worker, "trigger definition changed", "spending_spike", seen)
        second = spend(user, now - timedelta(minutes=20), "10.00", "spike-under-loose")
        await publish(settings, BEHAVIOR_EVENTS, as_messages([second]))
        await read_until(settings, TRIGGER_DECISIONS, lambda rs: len(rs) >= 1)

        await publish_definitions(settings, [loose.model_copy(update={"status": "paused"})])
        await logged(worker, "trigger definition changed", "spending_spike", seen)
        third = spend(user, now - timedelta(minutes=10), "10.00", "spike-while-paused")
        await publish(settings, BEHAVIOR_EVENTS, as_messages([third]))
        await caught_up(settings, BEHAVIOR_EVENTS)
        decisions = await read_until(settings, TRIGGER_DECISIONS, lambda rs: True, settle=1.0)
    finally:
        worker.stop()
    records = [json.loads(r.value) for r in decisions]
    # Under 500 % nothing matched; under 50 % the next debit fired, quoting the new
    # threshold; paused, the trigger was not even evaluated (not even as a cooldown).
    assert [(d["source_event_id"], d["outcome"]) for d in records] == [
        ("spike-under-loose", "fired")
    ]
    assert "≥ 50%" in records[0]["detail"]
