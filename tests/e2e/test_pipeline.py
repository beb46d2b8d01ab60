"""The command line end to end: ``nudge worker`` and ``nudge sink`` as real processes,
events in through the broker, rows out in PostgreSQL."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.events import EVENT_TYPES
from schemas.export import contract_files
from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS
from tests.integration.harness import NudgeProcess, publish, rows_when
from tests.integration.scenarios import as_messages, income_dropper, ordered, spiker, steady_spender

pytestmark = pytest.mark.e2e


async def test_events_become_commands_and_rows(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    url = settings.database_url.get_secret_value()
    migrate = subprocess.run(
        [sys.executable, "-m", "streams.cli", "db", "upgrade"],
        env=NudgeProcess(settings, "db", tmp_path / "x.log").environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    now = datetime.now(UTC)
    events = ordered(
        steady_spender("steady-9", now), spiker("spiker-9", now), income_dropper("dropper-9", now)
    )
    garbage = (b"spiker-9", b"\x00\x01 not an event")
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    sink = NudgeProcess(settings, "sink", tmp_path / "sink.log").start()
    try:
        await publish(settings, BEHAVIOR_EVENTS, [garbage, *as_messages(events)])
        communications = await rows_when(
            url,
            "SELECT user_id, trigger_id, channel, body FROM communications ORDER BY 1, 2, 3",
            lambda rows: len(rows) >= 4,
        )
        letters = await rows_when(url, "SELECT kind, value FROM dead_letters", bool)
        decisions = await rows_when(
            url, "SELECT user_id, trigger_id, outcome FROM trigger_events", lambda r: len(r) >= 2
        )
    finally:
        assert sink.stop() == 0
        assert worker.stop() == 0
    assert [row[:3] for row in communications] == [
        ("dropper-9", "income_drop", "email"),
        ("dropper-9", "income_drop", "sms"),
        ("spiker-9", "spending_spike", "email"),
        ("spiker-9", "spending_spike", "sms"),
    ]
    assert "Hi Spiker" in communications[-1][3]
    assert letters == [("not_json", base64.b64encode(garbage[1]).decode())]
    assert sorted(decisions) == [
        ("dropper-9", "income_drop", "fired"),
        ("spiker-9", "spending_spike", "fired"),
    ]


def test_schemas_export_writes_the_contract(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "schemas", "export", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    written = sorted(Path(line).name for line in result.stdout.split())
    # Exactly the published contract (docs/contracts/), whatever topics it has grown.
    assert written == sorted(contract_files())
    assert {"asyncapi.json", "topics.json", "event.schema.json"} <= set(written)
    for name, text in contract_files().items():
        assert (tmp_path / name).read_text(encoding="utf-8") == text, name
    event_schema = json.loads((tmp_path / "event.schema.json").read_text())
    mapping = event_schema["properties"]["payload"]["discriminator"]["mapping"]
    assert sorted(mapping) == sorted(EVENT_TYPES)
    assert set(event_schema["required"]) >= {"event_id", "user_id", "occurred_at", "source"}
    change_schema = json.loads((tmp_path / "segment_change.schema.json").read_text())
    assert set(change_schema["required"]) >= {"change_id", "user_id", "segment_id", "change"}
    assert change_schema["$defs"]["SegmentChangeKind"]["enum"] == ["joined", "left"]
    analytics = json.loads((tmp_path / "user_analytics.schema.json").read_text())
    assert set(analytics["required"]) >= {"snapshot_id", "user_id", "as_of", "segments"}
    assert analytics["properties"]["intent_score"]["maximum"] == 100
    step = json.loads((tmp_path / "funnel_step.schema.json").read_text())
    assert step["properties"]["kind"]["enum"] == ["reached", "completed", "dropped"]
    converted = json.loads((tmp_path / "experiment_conversion.schema.json").read_text())
    assert set(converted["required"]) >= {"message_id", "experiment_id", "variant", "metric"}
