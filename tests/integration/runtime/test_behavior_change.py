"""A behaviour change is judged by the worker's timer and lands in PostgreSQL.

Through the real broker and database: the worker's clock (``NUDGE_CLOCK_FILE``) is a
Wednesday. "fading" had seven app sessions and about ten page views a week for four weeks,
then one session in the week just closed; "busy" logged in five times a week, then
fifteen times; "steady" kept on as usual. The timer records a ``behavior_change`` decision
for each change (the activity, direction and size), once (a restarted worker judges the
week again and tells nothing more), and the sink writes them to ``trigger_events`` and the
``behavior_changes`` view, which ``nudge report behavior`` counts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.events import Event
from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, TRIGGER_DECISIONS
from sinks.migrate import upgrade
from sinks.reports.build import build
from tests.integration.harness import NudgeProcess, caught_up, publish, read_until, wait_until
from tests.integration.scenarios import as_messages, ordered
from tests.integration.sink_harness import offsets_caught_up, query, running_sink
from tests.unit.factories import event, profile

pytestmark = pytest.mark.integration

SESSION = {"type": "app_session", "duration_seconds": 90.0}
PAGE = {"type": "page_view", "path": "/budget"}


def daily(user: str, monday: datetime, days: range, payload: dict, per_day: int = 1) -> list[Event]:
    return [
        event(user, monday + timedelta(days=d, hours=2 * n), payload)
        for d in days
        for n in range(per_day)
    ]


async def test_behavior_changes_are_told_once_and_stored(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    clock_file = tmp_path / "clock"
    settings = make_settings(
        partitions=2, clock_file=str(clock_file), schedule_interval_seconds=0.5
    )
    today = datetime.now(UTC).date()
    this_monday = datetime.combine(today - timedelta(days=today.weekday()), time(8), tzinfo=UTC)
    clock = this_monday + timedelta(days=2, hours=4)  # a Wednesday, past the week's grace
    clock_file.write_text(clock.isoformat())
    judged = this_monday - timedelta(weeks=1)  # the Monday of the week judged
    start = judged - timedelta(weeks=4)
    fading = [
        profile("fading", start - timedelta(days=1), first_name="Ada"),
        *daily("fading", start, range(28), SESSION),
        *daily("fading", start, range(28), PAGE),
        *daily("fading", start, range(28, 29), SESSION),  # one session in the judged week
        *daily("fading", start, range(28, 31), PAGE),  # and three page views
    ]
    busy = [
        profile("busy", start - timedelta(days=1), first_name="Bo"),
        *daily("busy", start, range(0, 28, 7), {"type": "login"}, per_day=5),
        *daily("busy", start, range(28, 29), {"type": "login"}, per_day=15),
    ]
    steady = [
        profile("steady", start - timedelta(days=1), first_name="Cy"),
        *daily("steady", start, range(35), SESSION),
    ]
    # A fresh event of each user, in the week in progress: no partition looks like a replay
    # of old events (the timer waits while one does).
    fresh = [event(user, clock - timedelta(hours=1), PAGE) for user in ("fading", "busy", "steady")]
    upgrade(settings)
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    try:
        async with running_sink(settings):
            await publish(
                settings, BEHAVIOR_EVENTS, as_messages(ordered(fading, busy, steady, fresh))
            )
            await caught_up(settings, BEHAVIOR_EVENTS)
            records = await read_until(
                settings, TRIGGER_DECISIONS, lambda rs: len(changes(rs)) >= 3, settle=2.0
            )
            # A restarted worker judges the same week again, and tells nothing more.
            worker.stop()
            worker = NudgeProcess(settings, "worker", tmp_path / "restarted.log").start()
            await wait_until(lambda: judging(worker), "the restarted worker's timer")
            again = await read_until(settings, TRIGGER_DECISIONS, lambda rs: True, settle=1.0)
            await wait_until(lambda: offsets_caught_up(settings), "the sink to commit")
            stored = query(
                settings,
                "SELECT user_id, activity, direction, change_pct, week_start, week_count,"
                " baseline_per_week FROM behavior_changes ORDER BY user_id, activity",
            )
            report = build(settings, "behavior", days=7)
    finally:
        worker.stop()
    told = sorted(
        (d["user_id"], d["behavior_change"]["activity"], d["behavior_change"]["direction"])
        for d in changes(records)
    )
    assert told == [
        ("busy", "logins", "rise"),
        ("fading", "page_views", "fall"),
        ("fading", "sessions", "fall"),
    ]
    assert all(d["outcome"] == "fired" and d["command_ids"] == [] for d in changes(records))
    assert changes(again) == changes(records)
    assert [tuple(row.values()) for row in stored] == [
        ("busy", "logins", "rise", 200.0, judged.date(), 15, 5.0),
        ("fading", "page_views", "fall", -57.14, judged.date(), 3, 7.0),
        ("fading", "sessions", "fall", -85.71, judged.date(), 1, 7.0),
    ]
    (section,) = report.sections  # nudge report behavior
    assert [
        (r["activity"], r["direction"], r["changes"], r["users"], float(r["mean_change_pct"]))
        for r in section.rows
    ] == [("logins", "rise", 1, 1, 200.0), ("page_views", "fall", 1, 1, -57.1),
          ("sessions", "fall", 1, 1, -85.7)]  # fmt: skip


def judging(worker: NudgeProcess) -> bool:
    """Whether a timer pass of ``worker`` judged behaviour change (it logs each pass)."""
    return any(
        entry.get("message") == "timer pass" and "behavior_change" in entry.get("evaluated", ())
        for entry in worker.log_entries()
    )


def changes(records: list[Any]) -> list[dict[str, Any]]:
    values = [json.loads(r.value) for r in records]
    return [d for d in values if d["trigger_id"] == "behavior_change"]
