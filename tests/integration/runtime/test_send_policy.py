"""The shared send policy in a running worker: opt-outs from comms.outcomes, quiet hours."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, COMMS_COMMANDS, COMMS_OUTCOMES, TRIGGER_DECISIONS
from tests.integration.harness import NudgeProcess, caught_up, publish, read_until
from tests.integration.scenarios import as_messages, spiker
from tests.unit.factories import event, profile

pytestmark = pytest.mark.integration


def night_zone(now: datetime) -> tuple[str, int]:
    """A fixed-offset zone where it is 23:00-23:59 now, and its offset in hours."""
    offset = (23 - now.hour) % 24
    offset = offset - 24 if offset > 14 else offset  # Etc zones span -12..+14
    # Etc/GMT signs are inverted: Etc/GMT-9 is nine hours ahead of UTC.
    return (f"Etc/GMT{-offset:+d}" if offset else "Etc/UTC"), offset


async def test_an_opt_out_and_quiet_hours_shape_what_is_sent(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """The spike fires at night in the user's zone: its email waits for the morning.

    The worker's clock is a file (``NUDGE_CLOCK_FILE``); moving it to the morning makes
    the worker's own timer send the held email.
    """
    clock = tmp_path / "clock"
    settings = make_settings(
        clock_file=str(clock),
        schedule_interval_seconds=0.5,
        quiet_hours_start=21,
        quiet_hours_end=8,
    )
    now = datetime.now(UTC)
    zone, offset = night_zone(now)
    user = "night-owl"
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    try:
        opt_out = event(user, now - timedelta(hours=3), {
            "type": "comms_outcome", "command_id": "earlier-sms",
            "outcome": "opted_out", "channel": "sms",
        })  # fmt: skip
        await publish(settings, COMMS_OUTCOMES, as_messages([opt_out]))
        # Outcomes and events are different topics: let the opt-out land first.
        await caught_up(settings, COMMS_OUTCOMES)
        history = spiker(user, now)
        located = profile(user, history[0].occurred_at, timezone=zone)
        await publish(settings, BEHAVIOR_EVENTS, as_messages([located, *history]))
        decisions = await read_until(settings, TRIGGER_DECISIONS, lambda rs: len(rs) >= 1)
        (decision,) = [json.loads(r.value) for r in decisions]
        # Held, not sent: nothing on the commands topic while it is night for the user.
        held = await read_until(settings, COMMS_COMMANDS, lambda rs: True, settle=2.0)
        assert held == []
        spike_at = datetime.fromisoformat(decision["occurred_at"])
        local = spike_at + timedelta(hours=offset)
        morning = datetime(local.year, local.month, local.day, 8, tzinfo=UTC) + timedelta(days=1)
        morning -= timedelta(hours=offset)
        clock.write_text((morning + timedelta(seconds=1)).isoformat())
        records = await read_until(settings, COMMS_COMMANDS, lambda rs: len(rs) >= 1, settle=2.0)
    finally:
        worker.stop()
    assert decision["outcome"] == "fired" and "quiet hours" in decision["detail"]
    commands = [json.loads(r.value) for r in records]
    assert [c["channel"] for c in commands] == ["email"]  # SMS was opted out
    assert [c["command_id"] for c in commands] == decision["command_ids"]
    assert datetime.fromisoformat(commands[0]["send_at"]) == morning
