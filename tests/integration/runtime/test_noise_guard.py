"""spending_spike's 2-sigma guard through a running worker: same rise, different spread."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, TRIGGER_DECISIONS
from tests.integration.harness import NudgeProcess, caught_up, publish, read_until
from tests.integration.scenarios import as_messages, ordered
from tests.unit.core.triggers.noisy_spenders import spender

pytestmark = pytest.mark.integration


async def test_a_noisy_spender_is_not_flagged_where_a_steady_one_with_the_same_rise_is(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    rise_at = datetime.now(UTC) - timedelta(hours=1)
    events = ordered(spender("steady", rise_at, noisy=False), spender("noisy", rise_at, noisy=True))
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    try:
        await publish(settings, BEHAVIOR_EVENTS, as_messages(events))
        await caught_up(settings, BEHAVIOR_EVENTS)
        records = await read_until(
            settings, TRIGGER_DECISIONS, lambda rs: len(spikes(rs)) >= 1, settle=3.0
        )
    finally:
        worker.stop()
    (decision,) = spikes(records)
    assert (decision["user_id"], decision["outcome"]) == ("steady", "fired")
    assert decision["features"]["spend_week_change_pct"] == 40.0
    assert decision["features"]["spend_week_zscore"] == 40.0


def spikes(records: list) -> list[dict]:
    values = [json.loads(r.value) for r in records]
    return [d for d in values if d["trigger_id"] == "spending_spike"]
