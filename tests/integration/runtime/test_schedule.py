"""Time-based triggers in a running worker: its own timer, a clock moved by a file.

Users are published with histories ending now, when none of the time-based triggers
holds yet; the worker's clock (``NUDGE_CLOCK_FILE``) then moves a day ahead, and its timer
must fire exactly the ones that became due, for exactly those users. A restarted worker
recovers the judged episodes from the changelog and fires nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.events import Event
from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, COMMS_COMMANDS, TRIGGER_DECISIONS
from streams.core.triggers.catalogue import default_definitions
from tests.integration.harness import NudgeProcess, caught_up, publish, read_until, wait_until
from tests.integration.scenarios import as_messages, ordered
from tests.unit.factories import event, profile

pytestmark = pytest.mark.integration

TIME_BASED = {d.id for d in default_definitions() if d.type == "time_based"}


def sessions(user: str, now: datetime, last: timedelta) -> list[Event]:
    """Two app sessions a week for five weeks, the latest ``last`` before ``now``.

    Two a week is below app_usage_decline's usual-use floor (3), so only inactivity can
    fire it; a feature used yesterday keeps feature_unused quiet.
    """
    payload = {"type": "app_session", "duration_seconds": 80.0}
    times = [now - last - timedelta(days=3.5 * i) for i in range(10)]
    used = event(user, now - timedelta(days=1), {"type": "feature_used", "feature": "budgets"})
    return [
        profile(user, now - timedelta(days=40), first_name=user.title()),
        *(event(user, at, payload) for at in times),
        used,
    ]


def application(user: str, at: datetime, *, completed: bool) -> list[Event]:
    start: dict[str, Any] = {
        "type": "application_start",
        "application_id": "a-1",
        "product": "mortgage",
    }
    events = [event(user, at, start)]
    if completed:
        events.append(
            event(user, at + timedelta(hours=2), {**start, "type": "application_complete"})
        )
    return events


def birthday_in(user: str, day: datetime, days: int, now: datetime) -> Event:
    born = (day.date() + timedelta(days=days)).replace(year=1991)
    return profile(user, now - timedelta(days=3), birthday=born.isoformat())


async def test_the_timer_fires_what_became_due_once_and_not_again_after_a_restart(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    clock = tmp_path / "clock"
    settings = make_settings(
        clock_file=str(clock), schedule_interval_seconds=0.5,
        quiet_hours_start=0, quiet_hours_end=0,  # no quiet hours: the hour the test runs is any
    )  # fmt: skip
    now = datetime.now(UTC)
    # A day and two hours on: the daily schedules (run first at the worker's start) have
    # come round again, whatever the hour.
    tomorrow = now + timedelta(days=1, hours=2)
    histories = [
        sessions("lapsing", now, last=timedelta(days=13, hours=12)),  # 14 days tomorrow
        sessions("regular", now, last=timedelta(hours=2)),
        application("applicant", now - timedelta(hours=12), completed=False),
        application("finisher", now - timedelta(hours=12), completed=True),
        [birthday_in("birthday", tomorrow, 7, now)],  # 8 or 9 days away today
        [birthday_in("later", tomorrow, 8, now)],
    ]
    log = tmp_path / "worker.log"
    worker = NudgeProcess(settings, "worker", log).start()
    try:
        await publish(settings, BEHAVIOR_EVENTS, as_messages(ordered(*histories)))
        await caught_up(settings, BEHAVIOR_EVENTS)
        # Nothing is due today: the timer judges every time-based trigger and fires none.
        await wait_until(lambda: full_passes(worker) >= 1, "a timer pass over every schedule")
        today = await read_until(settings, TRIGGER_DECISIONS, lambda rs: True, settle=1.0)
        assert [r for r in today if json.loads(r.value)["trigger_id"] in TIME_BASED] == []
        clock.write_text(tomorrow.isoformat())
        records = await read_until(
            settings, TRIGGER_DECISIONS, lambda rs: len(timed(rs)) >= 3, settle=3.0
        )
        worker.stop()
        passes = full_passes(worker)
        worker = NudgeProcess(settings, "worker", log).start()
        # The new worker recovers the episodes, runs every schedule at once, fires nothing.
        await wait_until(lambda: full_passes(worker) > passes, "the restarted worker's timer")
        again = await read_until(settings, TRIGGER_DECISIONS, lambda rs: True, settle=1.0)
        commands = await read_until(settings, COMMS_COMMANDS, lambda rs: True, settle=1.0)
    finally:
        worker.stop()
    fired = {(d["user_id"], d["trigger_id"]) for d in timed(records)}
    assert fired == {
        ("lapsing", "app_usage_decline"),
        ("applicant", "application_incomplete"),
        ("birthday", "birthday_approaching"),
    }
    decisions = timed(records)
    assert all(d["outcome"] == "fired" and d["source_event_id"] is None for d in decisions)

    # Not one more after the restart (reads interleave partitions: compare as sets).
    def ids(found: list[dict[str, Any]]) -> list[str]:
        return sorted(d["decision_id"] for d in found)

    assert ids(timed(again)) == ids(decisions)
    sent = [json.loads(r.value) for r in commands]
    by_decision = {d["decision_id"]: d["command_ids"] for d in decisions}
    for decision_id, command_ids in by_decision.items():
        assert sorted(c["command_id"] for c in sent if c["decision_id"] == decision_id) == sorted(
            command_ids
        )
    assert len(sent) == len({c["command_id"] for c in sent})


def full_passes(worker: NudgeProcess) -> int:
    """Count the timer passes in the worker's log that judged every time-based trigger."""
    return sum(
        1
        for entry in worker.log_entries()
        if entry.get("message") == "timer pass" and TIME_BASED <= set(entry.get("evaluated", ()))
    )


def timed(records: list[Any]) -> list[dict[str, Any]]:
    values = [json.loads(r.value) for r in records]
    return [d for d in values if d["trigger_id"] in TIME_BASED]
