"""Pattern rules applied under a running worker: no restart, effective on the next batch.

A lead's first page view labels them ``exploring`` (the shipped default). New rules are
published on the definitions topic, as ``nudge patterns apply`` does: any visit now makes
a lead ``researching``, with a sentence of the new file. The lead's next page view is
labelled by them, and the change is a ``pattern_change`` decision quoting it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, TRIGGER_DECISIONS
from streams.cli.analytics import _publish
from tests.integration.harness import NudgeProcess, caught_up, publish, read_until
from tests.integration.runtime.test_hot_reload import logged
from tests.integration.scenarios import as_messages
from tests.unit.factories import event

pytestmark = pytest.mark.integration

RULES = {
    "version": 2,
    "rules": [
        {"label": "researching", "insight": "came back for a second look",
         "when": {"feature": "sessions_7d", "gte": 2}},
        {"label": "exploring", "insight": "exploring"},
    ],
}  # fmt: skip


async def test_new_pattern_rules_take_effect_without_a_restart(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    now = datetime.now(UTC)
    page = {"type": "page_view", "path": "/"}
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    try:
        seen = await logged(worker, "trigger definitions loaded", None, 0)
        first = event("lead-1", now - timedelta(hours=3), page)
        await publish(settings, BEHAVIOR_EVENTS, as_messages([first]))
        await caught_up(settings, BEHAVIOR_EVENTS)
        await _publish(settings, b"analytics:patterns", json.dumps(RULES).encode())
        await logged(worker, "trigger definition changed", "analytics:patterns", seen)
        second = event("lead-1", now - timedelta(hours=1), page)  # a second visit
        await publish(settings, BEHAVIOR_EVENTS, as_messages([second]))
        records = await read_until(settings, TRIGGER_DECISIONS, lambda rs: len(rs) >= 1, settle=1.0)
    finally:
        worker.stop()
    (decision,) = [json.loads(r.value) for r in records]
    assert decision["trigger_id"] == "pattern_change"
    assert decision["source_event_id"] == second.event_id
    assert decision["pattern_change"] == {
        "from_label": "exploring",
        "to_label": "researching",
        "insight": "came back for a second look",
    }
