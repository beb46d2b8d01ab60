"""An income that stops is told by the worker's timer at month close, once.

The worker's clock (``NUDGE_CLOCK_FILE``) is four days into a month. One user was paid
$3000 on the 1st of three months, then nothing in the month just closed, and no event
since: no event can judge that month, so the timer must, once, and a restarted worker
must not tell it again. Another user, paid as usual, is judged by a fresh event and
told nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.ids import decision_id
from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, COMMS_COMMANDS, TRIGGER_DECISIONS
from tests.integration.harness import NudgeProcess, caught_up, publish, read_until, wait_until
from tests.integration.scenarios import as_messages, ordered
from tests.unit.factories import income, profile, transaction

pytestmark = pytest.mark.integration


def first_of(moment: datetime, months_back: int) -> datetime:
    """09:00 UTC on the 1st of the month ``months_back`` before ``moment``'s."""
    index = moment.year * 12 + moment.month - 1 - months_back
    return datetime(index // 12, index % 12 + 1, 1, 9, tzinfo=UTC)


def paid(user: str, clock: datetime, months: range) -> list[Any]:
    return [income(user, first_of(clock, back), "3000.00") for back in months]


async def test_an_income_that_stops_is_told_at_month_close_once_even_after_a_restart(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    clock_file = tmp_path / "clock"
    settings = make_settings(
        partitions=1, clock_file=str(clock_file), schedule_interval_seconds=0.5,
        quiet_hours_start=0, quiet_hours_end=0,  # no quiet hours: the commands leave at once
    )  # fmt: skip
    # Four days into next month: past the two days the timer leaves a closed month's pay.
    clock = first_of(datetime.now(UTC), -1) + timedelta(days=3, hours=3)
    clock_file.write_text(clock.isoformat())
    closed = first_of(clock, 1)
    stopped = [
        profile("stopped", first_of(clock, 4) - timedelta(days=2), first_name="Ada",
                consent={"sms": True, "email": True}),
        *paid("stopped", clock, range(4, 1, -1)),  # paid three months, then not
        transaction("stopped", closed + timedelta(days=9), "42.00"),  # then quiet
    ]  # fmt: skip
    steady = [
        *paid("steady", clock, range(4, 0, -1)),
        transaction("steady", clock - timedelta(hours=3), "12.00"),  # fresh: judges by event
    ]
    log = tmp_path / "worker.log"
    worker = NudgeProcess(settings, "worker", log).start()
    try:
        await publish(settings, BEHAVIOR_EVENTS, as_messages(ordered(stopped, steady)))
        await caught_up(settings, BEHAVIOR_EVENTS)
        decisions = await read_until(
            settings, TRIGGER_DECISIONS, lambda rs: bool(income_drops(rs)), settle=2.0
        )
        worker.stop()
        judged = passes_judging(worker)
        worker = NudgeProcess(settings, "worker", log).start()
        await wait_until(lambda: passes_judging(worker) > judged, "the restarted worker's timer")
        again = await read_until(settings, TRIGGER_DECISIONS, lambda rs: True, settle=1.0)
        commands = await read_until(settings, COMMS_COMMANDS, lambda rs: True, settle=1.0)
    finally:
        worker.stop()
    (decision,) = income_drops(decisions)
    month = f"month:{closed:%Y-%m}"
    assert decision["decision_id"] == decision_id("income_drop", "stopped", month)
    assert (decision["user_id"], decision["outcome"]) == ("stopped", "fired")
    assert decision["source_event_id"] is None  # the timer's, not an event's
    assert decision["features"]["income_drop_pct"] == 100.0
    assert decision["features"]["income_closed_month"] == 0.0
    assert income_drops(again) == [decision]  # the restarted worker told nothing more
    sent = [json.loads(r.value) for r in commands]
    assert sorted(c["channel"] for c in sent if c["trigger_id"] == "income_drop") == [
        "email",
        "sms",
    ]


def income_drops(records: list[Any]) -> list[dict[str, Any]]:
    values = [json.loads(r.value) for r in records]
    return [d for d in values if d["trigger_id"] == "income_drop"]


def passes_judging(worker: NudgeProcess) -> int:
    """Count the timer passes in the worker's log that judged income_drop."""
    return sum(
        1
        for entry in worker.log_entries()
        if entry.get("message") == "timer pass" and "income_drop" in entry.get("evaluated", ())
    )
