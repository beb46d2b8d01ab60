"""The bench's newer pure parts: the core pass, final states, histograms, latency, scale."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from schemas.events import Event
from schemas.intake import decode_event
from schemas.settings import Settings
from streams.bench import latency_workload
from streams.bench.core_pass import (
    CorePass,
    reference_fold,
)
from streams.bench.final_state import differing_users, semantic, states_digest
from streams.bench.histogram import scrape_histogram
from streams.bench.latency import percentiles
from streams.bench.meter import BatchClock, parse_status, result_line
from streams.bench.scale import summarise
from streams.core.state.record import UserState

NOW = datetime(2026, 3, 18, 15, 30, tzinfo=UTC)


def test_states_differ_by_content_not_by_the_dedup_window_or_partition() -> None:
    one = UserState(counts={"transaction": 2}, seen={1: 5, 2: 5}, partition=1)
    same = UserState(counts={"transaction": 2}, seen={2: 9}, partition=0)
    other = UserState(counts={"transaction": 3})
    assert "seen" not in semantic(one)
    assert differing_users({b"u": one}, {b"u": same}) == []
    assert states_digest({b"u": one}) == states_digest({b"u": same})
    assert differing_users({b"u": one}, {b"u": other}) == ["u"]
    assert differing_users({b"u": one}, {}) == ["u"]
    assert states_digest({b"u": one}) != states_digest({b"u": other})


def test_a_spike_of_the_latency_stream_fires_commands_for_a_preloaded_user() -> None:
    core = CorePass.from_settings(
        Settings(quiet_hours_start=0, quiet_hours_end=0, category_consent="withdrawal_only")
    )
    states = reference_fold(latency_workload.population(3, NOW, seed=1), core, NOW)
    assert len(states) == 3
    _, key, value = latency_workload.steady_event(0, 3, NOW, 1, random.Random(1))
    event, _ = decode_event(key, value, now=NOW)
    assert isinstance(event, Event)
    result = core.step(states[key], event, NOW)
    assert "spending_spike" in {c.trigger_id for c in result.commands}
    assert all(c.source_event_id == event.event_id for c in result.commands)


METRICS = """\
# TYPE nudge_decision_latency_seconds histogram
nudge_decision_latency_seconds_bucket{le="0.05",trigger="a"} 50.0
nudge_decision_latency_seconds_bucket{le="0.1",trigger="a"} 90.0
nudge_decision_latency_seconds_bucket{le="+Inf",trigger="a"} 100.0
nudge_decision_latency_seconds_count{trigger="a"} 100.0
nudge_decision_latency_seconds_sum{trigger="a"} 6.0
nudge_decision_latency_seconds_bucket{le="0.05",trigger="b"} 0.0
nudge_decision_latency_seconds_bucket{le="0.1",trigger="b"} 0.0
nudge_decision_latency_seconds_bucket{le="+Inf",trigger="b"} 0.0
nudge_decision_latency_seconds_count{trigger="b"} 0.0
nudge_decision_latency_seconds_sum{trigger="b"} 0.0
"""


def test_histogram_quantiles_as_prometheus_estimates_them() -> None:
    histogram = scrape_histogram(METRICS, "nudge_decision_latency_seconds")
    assert histogram.count == 100
    assert histogram.quantile(0.5) == 0.05
    assert histogram.quantile(0.7) == pytest.approx(0.075)
    assert histogram.quantile(0.99) == 0.1  # in +Inf: the highest finite bound
    assert histogram.bucket_of(0.7) == 0.1
    assert histogram.share_within(0.1) == 0.9
    assert (histogram - histogram).quantile(0.99) is None


def test_percentiles_of_latencies() -> None:
    values = list(range(1, 101))
    assert percentiles(values)["p50"] == 51
    assert percentiles(values)["p99"] == 100
    assert percentiles([])["p99"] is None


def test_scale_sums_workers_over_the_groups_span() -> None:
    clock = BatchClock()
    clock.begin()
    clock.add(10)
    status = parse_status("noise\n" + result_line(clock.status()) + "\n")
    assert status is not None and status["count"] == 10
    workers = [
        {"count": 600, "first_wall": 10.0, "last_wall": 20.0, "cpu_first": 1.0,
         "cpu_last": 6.0, "peak_rss_mib": 100.0},
        {"count": 400, "first_wall": 11.0, "last_wall": 19.0, "cpu_first": 1.0,
         "cpu_last": 4.0, "peak_rss_mib": 90.0},
    ]  # fmt: skip
    run = summarise(2, 1000, [*workers, None], launched=5.0)
    assert run["events_per_second"] == 100.0
    assert run["cpu_us_per_event"] == 8000.0
    assert run["events_processed"] == 1000
    assert [w["startup_seconds"] for w in run["per_worker"]] == [5.0, 6.0]
