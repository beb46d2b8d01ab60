"""The online models' benchmark part: its measures, its toggle, its report section."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from schemas.settings import Settings
from streams.bench.__main__ import main
from streams.bench.core_pass import CorePass
from streams.bench.online import (
    CASES,
    OnlineBenchOptions,
    core_pass,
    per_call_us,
    run_online_bench,
    workload_events,
)

NOW = datetime(2026, 3, 18, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_case_calls_its_model_on_many_states(name: str) -> None:
    call = CASES[name](random.Random(1))
    results = [call(i) for i in range(50)]
    if name == "send_time_best_hour":
        assert set(results) <= set(range(8, 21)) and len(set(results)) > 1
    elif name == "send_time_note_send_and_outcome":
        assert all(isinstance(hour, int) for hour in results)  # every open credited
    elif name == "anomaly_score_and_learn":
        assert all(isinstance(score, float) for score in results)  # warmed: past cold start
    elif name == "drift":
        # No bucket closes in 50 events; one of the next thousand closes one (a list of
        # the drifts found, maybe empty), and only one.
        assert results == [None] * 50
        closed = [r for r in (call(i) for i in range(50, 1_050)) if r is not None]
        assert len(closed) == 1 and isinstance(closed[0], list)
    else:
        assert all(isinstance(value, float) for value in results)


def test_per_call_us_times_every_run() -> None:
    seen: list[int] = []
    figures = per_call_us(seen.append, calls=10, runs=3)
    assert seen == list(range(10)) * 3
    assert len(figures["runs_us"]) == 3 and figures["us_per_call"] > 0


def test_the_core_pass_without_the_models_scores_no_debit() -> None:
    events = workload_events(OnlineBenchOptions(events=400, users=40), NOW)
    core = CorePass.from_settings(Settings())
    on = core_pass(events, core, NOW, models=True)
    off = core_pass(events, core, NOW, models=False)
    assert on["debits"] == off["debits"] > 0
    assert on["scored"] == 40 and off["scored"] == 0
    assert core_pass(events, core, NOW, models=True)["scored"] == 40  # the patch is undone


def test_the_online_section_is_added_to_the_report_keeping_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    out.write_bytes(orjson.dumps({"report_version": 2, "models": {"runs": []}}))
    options = OnlineBenchOptions(calls=200, runs=2, events=300, users=30, out=out)
    assert run_online_bench(options) == 0
    report = orjson.loads(out.read_bytes())
    assert report["models"] == {"runs": []}
    section = report["online"]
    assert set(section["calls"]) == set(CASES) >= {"anomaly_score_and_learn", "drift"}
    assert all(section["calls"][name]["us_per_call"] > 0 for name in CASES)
    core = section["core_pass"]
    assert core["events"] == 300 and core["debits"] > 0
    assert len(core["runs_us_per_event"]["on"]) == len(core["runs_us_per_event"]["off"]) == 2
    assert core["models_on"]["us_per_event"] > 0 and core["models_off"]["us_per_event"] > 0


@pytest.mark.parametrize("argv", [["--calls", "0"], ["--events", "5", "--users", "10"]])
def test_the_command_refuses_what_it_cannot_run(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["online", *argv])
    assert exited.value.code == 2
