"""The drift watch without Kafka: what it counts, and a drift as metrics and one log line."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from models.drift import DriftMonitor
from schemas.events import Event
from schemas.records import Outcome, SuppressionReason, TriggerDecision
from streams.core.decisions.result import Result
from streams.runtime.drift_watch import DriftWatch
from tests.unit.factories import event
from tests.unit.runtime.agents.stand_ins import NOW, Clock, stage
from tests.unit.runtime.agents.test_ingest import batch_of


def decision(trigger: str, outcome: Outcome = Outcome.FIRED) -> TriggerDecision:
    return TriggerDecision(
        decision_id=str(uuid.uuid4()),
        user_id="someone",
        trigger_id=trigger,
        outcome=outcome,
        reason=None if outcome is Outcome.FIRED else SuppressionReason.COOLDOWN,
        detail="",
        source_event_id=None,
        event_type="transaction",
        occurred_at=NOW,
        features={},
        command_ids=[],
    )


def detected(signal: str) -> float | None:
    return REGISTRY.get_sample_value("nudge_drift_detected_total", {"signal": signal})


def level(signal: str) -> float | None:
    return REGISTRY.get_sample_value("nudge_drift_level", {"signal": signal})


def test_only_firings_of_events_the_triggers_were_evaluated_on_count() -> None:
    watch = DriftWatch(10)
    fired, suppressed = decision("watch_fired"), decision("watch_held", Outcome.SUPPRESSED)
    for _ in range(10):  # duplicates and events past the horizon: no bucket closes
        watch.watch(Result(applied=False, decisions=[fired]))
        watch.watch(Result(evaluated=False, decisions=[fired], anomaly_score=0.5))
    assert watch.monitor.levels() == {}
    watch.watch(Result(decisions=[fired, suppressed]))
    for _ in range(9):
        watch.watch(Result())
    assert watch.monitor.levels() == {"trigger_rate:watch_fired": pytest.approx(0.1)}
    assert level("trigger_rate:watch_fired") == pytest.approx(0.1)
    assert detected("trigger_rate:watch_fired") == 0  # born at zero with its signal
    assert detected("trigger_rate:watch_held") is None


def test_a_drift_counts_sets_the_level_and_logs_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = DriftWatch(10)
    signal = "trigger_rate:watch_step"
    step = decision("watch_step")

    def bucket(firings: int) -> None:
        for i in range(10):
            watch.watch(Result(decisions=[step] if i < firings else []))

    for _ in range(30):
        bucket(1)
    assert detected(signal) == 0
    with caplog.at_level(logging.WARNING, logger="streams.runtime.drift_watch"):
        for _ in range(10):
            bucket(9)
    assert detected(signal) == 1
    assert level(signal) == pytest.approx(0.9)
    (record,) = caplog.records
    assert record.getMessage() == "drift detected"
    assert record.__dict__["signal"] == signal
    assert record.__dict__["before"] == pytest.approx(0.1)
    assert record.__dict__["after"] == pytest.approx(0.9)
    assert "someone" not in str(record.__dict__)  # the decisions' user is not logged


def test_a_bug_in_the_watch_does_not_reach_the_event(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def observe(self, *args: object) -> None:
            raise ZeroDivisionError

    watch = DriftWatch(10)
    watch.monitor = Broken()  # type: ignore[assignment]
    with caplog.at_level(logging.ERROR, logger="streams.runtime.drift_watch"):
        watch.watch(Result())
    assert "drift watch raised" in caplog.text


def card_near_limit(user: str) -> Event:
    payload = {
        "type": "balance_snapshot",
        "account_kind": "credit_card",
        "balance": "900.00",
        "credit_limit": "1000.00",
    }
    return event(user, NOW - timedelta(minutes=5), payload)


def test_the_ingest_stage_feeds_the_watch_after_each_event() -> None:
    ingest = stage(Clock())
    ingest.drift = DriftWatch(10)
    views = [
        event(f"viewer-{i}", NOW - timedelta(minutes=5), {"type": "page_view", "path": "/"})
        for i in range(8)
    ]
    old = event("old-viewer", NOW - timedelta(days=30), {"type": "page_view", "path": "/"})
    batch: list[Event | bytes] = [card_near_limit("card-1"), card_near_limit("card-2"), *views, old]
    ingest.handle(batch_of(batch))
    assert ingest.drift.monitor.levels() == {"trigger_rate:near_credit_limit": 0.2}
    ingest.handle(batch_of(batch))  # the same events again: duplicates, not counted
    assert ingest.drift.monitor.to_state()["signals"] == {"trigger_rate:near_credit_limit": [2.0]}


def test_a_restored_monitor_exports_its_levels_and_counts_no_drift() -> None:
    signal = "trigger_rate:watch_restored"
    stepped = [1.0] * 100 + [9.0] * 100  # its history holds a step, already learnt
    state = {"version": 1, "bucket_events": 10, "signals": {signal: stepped}}
    watch = DriftWatch(10)
    watch.restore(DriftMonitor.from_state(state, 10))
    assert level(signal) == pytest.approx(0.9)
    assert detected(signal) == 0
