"""Live segments through the broker and PostgreSQL: applied while running, joined on an
event, left and joined by the timer with no event, targeted by a trigger.

Two segments are applied under a running worker (as ``nudge segments apply`` does):
``browsers`` (two page views within a day) and ``idle`` (nothing within a day); and a
trigger that targets ``browsers``. ``lead-1`` views two pages: it joins ``browsers`` on
the second, and the trigger, judged after the segments, fires for it there; ``lead-2``
views one and is excluded. Then the worker's clock moves two days on: with no event, its
timer takes ``lead-1`` out of ``browsers`` and puts both leads in ``idle``. Every change
is a message on ``segments.changes`` and a row in PostgreSQL, whose membership view says
who is in which segment now.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, COMMS_COMMANDS, SEGMENTS_CHANGES, TRIGGER_DECISIONS
from schemas.triggers import TriggerDefinition
from streams.cli.analytics import publish_entries as publish_segments
from streams.cli.definitions import publish as publish_definitions
from streams.core.state.analytics import segment_key
from tests.integration.harness import NudgeProcess, caught_up, publish, read_until, rows_when
from tests.integration.runtime.test_hot_reload import logged
from tests.integration.scenarios import as_messages
from tests.unit.factories import event

pytestmark = pytest.mark.integration

SEGMENTS: list[dict[str, Any]] = [
    {"id": "browsers", "name": "Browsers",
     "when": {"count": "page_view", "at_least": 2, "within": "1d"}},
    {"id": "idle", "name": "Idle", "when": {"not": {"seen": "any", "within": "1d"}}},
]  # fmt: skip
OFFER = TriggerDefinition.model_validate({
    "id": "browser_offer", "name": "Browser offer", "type": "behavioral",
    "category": "lead_journey", "evaluate_on": {"events": ["page_view"]},
    "condition": {"feature": "sessions_7d", "gte": 0},
    "channels": [{"channel": "email", "template": "high_intent_follow_up.email"}],
    "target": {"segments": ["browsers"]},
})  # fmt: skip
PAGE = {"type": "page_view", "path": "/"}


def _changes(records: list) -> list[tuple[str, str, str]]:
    found = [json.loads(r.value) for r in records]
    return sorted((c["user_id"], c["segment_id"], c["change"]) for c in found)


async def test_segments_join_and_leave_on_events_and_on_the_timer(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    clock = tmp_path / "clock"
    now = datetime.now(UTC).replace(microsecond=0)
    clock.write_text(now.isoformat())
    settings = make_settings(clock_file=str(clock), schedule_interval_seconds=0.5)
    migrate = NudgeProcess(settings, "db", tmp_path / "db.log")
    subprocess.run(
        [sys.executable, "-m", "streams.cli", "db", "upgrade"],
        env=migrate.environment(), check=True, capture_output=True,
    )  # fmt: skip
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    sink = NudgeProcess(settings, "sink", tmp_path / "sink.log").start()
    try:
        seen = await logged(worker, "trigger definitions loaded", None, 0)
        # A hostile entry beside them (a criteria tree far too deep, and not JSON
        # under another key) is refused; the worker goes on with the good ones.
        deep: dict[str, Any] = {"seen": "any", "within": "1d"}
        for _ in range(40):
            deep = {"not": deep}
        hostile = [
            (segment_key("deep"), json.dumps({"id": "deep", "name": "x", "when": deep}).encode()),
            (segment_key("junk"), b"\xff not json"),
        ]
        await publish_segments(
            settings,
            [*hostile, *((segment_key(s["id"]), json.dumps(s).encode()) for s in SEGMENTS)],
        )
        await publish_definitions(settings, [OFFER])
        await logged(worker, "trigger definition changed", "browser_offer", seen)
        events = [
            event("lead-1", now - timedelta(hours=3), PAGE),
            event("lead-2", now - timedelta(hours=3), PAGE),
            event("lead-1", now - timedelta(hours=2), PAGE),
        ]
        await publish(settings, BEHAVIOR_EVENTS, as_messages(events))
        await caught_up(settings, BEHAVIOR_EVENTS)
        joined = await read_until(settings, SEGMENTS_CHANGES, lambda rs: len(rs) >= 1, settle=2.0)
        assert _changes(joined) == [("lead-1", "browsers", "joined")]
        (first,) = [json.loads(r.value) for r in joined]
        assert first["source_event_id"] == events[2].event_id
        assert first["reason"] == "at least 2 page_view within 1d"

        clock.write_text((now + timedelta(days=2)).isoformat())
        records = await read_until(settings, SEGMENTS_CHANGES, lambda rs: len(rs) >= 4, settle=3.0)
        decisions = await read_until(settings, TRIGGER_DECISIONS, lambda rs: True, settle=1.0)
        commands = await read_until(settings, COMMS_COMMANDS, lambda rs: True, settle=1.0)
        members = await rows_when(
            settings.database_url.get_secret_value(),
            "SELECT user_id, segment_id FROM segment_members ORDER BY user_id, segment_id",
            lambda rows: len(rows) == 2,
        )
        history = await rows_when(
            settings.database_url.get_secret_value(),
            "SELECT user_id, segment_id, change FROM segment_changes ORDER BY 1, 2, 3",
            lambda rows: len(rows) == 4,
        )
    finally:
        sink.stop()
        worker.stop()
    assert _changes(records) == [
        ("lead-1", "browsers", "joined"),
        ("lead-1", "browsers", "left"),
        ("lead-1", "idle", "joined"),
        ("lead-2", "idle", "joined"),
    ]
    by_timer = [json.loads(r.value) for r in records[1:]]
    assert all(c["source_event_id"] is None for c in by_timer)
    left = next(c for c in by_timer if c["change"] == "left")
    assert left["reason"] == "no longer: at least 2 page_view within 1d"
    assert members == [("lead-1", "idle"), ("lead-2", "idle")]
    assert [tuple(r) for r in history] == [
        ("lead-1", "browsers", "joined"),
        ("lead-1", "browsers", "left"),
        ("lead-1", "idle", "joined"),
        ("lead-2", "idle", "joined"),
    ]
    offers = sorted(
        (d["user_id"], d["outcome"], d["reason"])
        for d in (json.loads(r.value) for r in decisions)
        if d["trigger_id"] == "browser_offer"
    )
    assert offers == [
        ("lead-1", "fired", None),
        ("lead-1", "suppressed", "excluded"),
        ("lead-2", "suppressed", "excluded"),
    ]
    assert [json.loads(r.value)["user_id"] for r in commands] == ["lead-1"]
    refused = [e for e in worker.log_entries() if e.get("message") == "analytics data refused"]
    assert {e["key"] for e in refused} >= {"segment:deep", "segment:junk"}
