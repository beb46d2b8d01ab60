"""The sink benchmark's pure parts: its workload, its measurement, its report section."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

from schemas.commands import SendCommunication, StartIntervention
from schemas.events import CommsOutcome, Event
from schemas.intake import decode_event
from schemas.records import TriggerDecision
from schemas.topics import (
    COMMS_COMMANDS,
    COMMS_OUTCOMES,
    INTERVENTIONS_COMMANDS,
    TRIGGER_DECISIONS,
    TopicSpec,
)
from streams.bench.sink_probe import Sample, measure, next_sample_in
from streams.bench.sink_runner import round_ratios, write_section
from streams.bench.sink_workload import build_sink_workload

NOW = datetime(2026, 3, 18, 15, 30, tzinfo=UTC)
MODELS: dict[TopicSpec, type[BaseModel]] = {
    TRIGGER_DECISIONS: TriggerDecision,
    COMMS_COMMANDS: SendCommunication,
    INTERVENTIONS_COMMANDS: StartIntervention,
}


def test_the_workload_is_exactly_the_rows_asked_all_valid_with_unique_ids():
    workload = build_sink_workload(3_000, 200, now=NOW, seed=3)
    assert len(workload.messages) == 3_000
    assert sum(workload.counts.values()) == 3_000
    ids: Counter[str] = Counter()
    for spec, key, value in workload.messages:
        if spec is COMMS_OUTCOMES:
            event, _ = decode_event(key, value, now=NOW)  # the sink's own intake
            assert isinstance(event, Event), event
            assert isinstance(event.payload, CommsOutcome)
            ids[f"outcome:{event.user_id}:{event.event_id}"] += 1
            continue
        model: Any = MODELS[spec].model_validate_json(value)
        assert key == model.user_id.encode()
        ids[str(getattr(model, "decision_id" if spec is TRIGGER_DECISIONS else "command_id"))] += 1
    assert max(ids.values()) == 1  # every message is one new row
    # The mix: decisions first, then commands, some interventions and outcomes.
    counts = workload.counts
    assert counts["trigger.decisions"] > counts["comms.commands"] > counts["interventions.commands"]
    assert counts["comms.outcomes"] > 0


def test_the_workload_is_reproducible():
    one = build_sink_workload(500, 50, now=NOW, seed=1)
    assert one == build_sink_workload(500, 50, now=NOW, seed=1)
    assert one != build_sink_workload(500, 50, now=NOW, seed=2)


def sample(at: float, stored: float, cpu: float, batches: float) -> Sample:
    return Sample(
        at=at,
        messages=stored,
        stored=stored,
        inserted={"trigger_events": stored},
        cpu_seconds=cpu,
        rss_bytes=100 * 2**20,
        batches=batches,
        batch_rows=batches * 500,
        write_seconds=batches * 0.01,
    )


def test_measure_reports_rate_and_cpu_per_row_between_two_samples():
    figures = measure(sample(10.0, 0, 1.5, 0), sample(14.0, 20_000, 3.5, 40), 20_000, 150.0)
    assert figures["rows_per_second"] == pytest.approx(5_000)
    assert figures["cpu_us_per_row"] == pytest.approx(100.0)
    assert figures["cpu_share"] == pytest.approx(0.5)
    assert figures["mean_batch_size"] == pytest.approx(500)
    assert figures["peak_rss_mib"] == 150.0


def test_ratios_are_per_round_copy_over_insert():
    runs = [
        {"method": "insert", "round": 1, "rows_per_second": 5_000.0, "cpu_us_per_row": 150.0},
        {"method": "copy", "round": 1, "rows_per_second": 25_000.0, "cpu_us_per_row": 30.0},
        {"method": "insert", "round": 2, "error": "boom"},
        {"method": "copy", "round": 2, "rows_per_second": 20_000.0, "cpu_us_per_row": 35.0},
    ]
    assert round_ratios(runs) == [
        {
            "round": 1,
            "rows_per_second copy / insert": 5.0,
            "cpu_us_per_row copy / insert": 0.2,
        },
        {"round": 2, "rows_per_second copy / insert": None, "cpu_us_per_row copy / insert": None},
    ]


def test_the_sink_section_is_added_to_the_report_keeping_the_rest(tmp_path):
    out = tmp_path / "bench.json"
    out.write_bytes(orjson.dumps({"report_version": 1, "results": {"pipeline": {}}}))
    write_section(out, {"runs": []})
    write_section(out, {"runs": [1]})
    assert orjson.loads(out.read_bytes()) == {
        "report_version": 1,
        "results": {"pipeline": {}},
        "sink": {"runs": [1]},
    }


def test_reads_are_fast_at_both_ends_and_slow_in_between():
    fast, slow = next_sample_in(None, 100), next_sample_in(sample(1.0, 50, 1.0, 1), 100)
    assert fast < slow
    assert next_sample_in(sample(1.0, 0, 1.0, 0), 100) == fast  # idle: the start is near
    assert next_sample_in(sample(1.0, 95, 1.0, 1), 100) == fast  # the end is near
