"""Drift through the real broker: a trigger firing ten times as often shows on /metrics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.events import Event
from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS
from tests.integration.harness import (
    NudgeProcess,
    caught_up,
    free_port,
    publish,
    scrape,
    wait_until,
)
from tests.integration.scenarios import as_messages, card_balance
from tests.unit.factories import event

pytestmark = pytest.mark.integration

BUCKET = 20
SIGNAL = "trigger_rate:near_credit_limit"
DETECTED = f'nudge_drift_detected_total{{signal="{SIGNAL}"}}'


def buckets(tag: str, count: int, firings: int, now: datetime) -> list[Event]:
    """``count`` buckets of ``BUCKET`` fresh events, ``firings`` of each a card near its
    limit (a new user each: near_credit_limit fires) and the rest page views."""
    events = []
    for b in range(count):
        for i in range(BUCKET):
            user = f"{tag}-{b}-{i}"
            if i < firings:
                events.append(card_balance(user, now - timedelta(minutes=2)))
            else:
                page = {"type": "page_view", "path": "/"}
                events.append(event(user, now - timedelta(minutes=2), page))
    return events


async def test_a_trigger_firing_ten_times_as_often_is_a_drift_on_the_metrics(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    port = free_port()
    settings = make_settings(metrics_port=port, drift_bucket_events=BUCKET)
    now = datetime.now(UTC)
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    try:
        # 5 % of events fire for 30 buckets: the detector learns the level, finds nothing.
        await publish(settings, BEHAVIOR_EVENTS, as_messages(buckets("before", 30, 1, now)))
        await caught_up(settings, BEHAVIOR_EVENTS)
        samples = scrape(port)
        assert samples[DETECTED] == 0
        assert samples[f'nudge_drift_level{{signal="{SIGNAL}"}}'] == pytest.approx(0.05, abs=0.02)
        # Then 50 %: ten times as often.
        await publish(settings, BEHAVIOR_EVENTS, as_messages(buckets("after", 15, 10, now)))
        await wait_until(lambda: scrape(port).get(DETECTED, 0) >= 1, "a drift on /metrics")
        await caught_up(settings, BEHAVIOR_EVENTS)
        samples = scrape(port)
    finally:
        worker.stop()
    assert samples[DETECTED] == 1  # one step, one drift
    assert samples['nudge_drift_detected_total{signal="anomaly_score"}'] == 0
    assert samples[f'nudge_drift_level{{signal="{SIGNAL}"}}'] == pytest.approx(0.5, abs=0.1)
    (logged,) = [e for e in worker.log_entries() if e.get("message") == "drift detected"]
    assert logged["signal"] == SIGNAL and logged["level"] == "WARNING"
    assert logged["before"] == pytest.approx(0.05, abs=0.02)
    assert logged["after"] == pytest.approx(0.5, abs=0.1)
