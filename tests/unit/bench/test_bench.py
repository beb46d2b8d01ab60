"""The benchmark's pure parts: workload, measurement, result lines, ratios, report shape."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.events import Event, Transaction
from schemas.intake import decode_event
from schemas.records import INSIGHT_TRIGGER_IDS
from schemas.settings import Settings
from streams.bench.__main__ import main
from streams.bench.meter import Meter, parse_result, peak_rss_mib, result_line
from streams.bench.report import MODES, build_report, format_table, machine_info, ratios
from streams.bench.topics import delete_run_topics, run_prefix
from streams.bench.workload import HISTORY_DAYS_BACK, build_workload, compact_json
from streams.core.decisions.process import process
from streams.core.rendering import default_catalogue
from streams.core.state.record import UserState
from streams.core.triggers.catalogue import default_definitions

NOW = datetime(2026, 3, 18, 15, 30, tzinfo=UTC)
#: The worker's default evaluation horizon (``Settings.max_event_age_seconds``).
HORIZON = timedelta(days=2)


def _events(events: int = 2_000, users: int = 100, seed: int = 7) -> list[tuple[bytes, Event]]:
    workload = build_workload(events, users, now=NOW, seed=seed)
    return [(key, Event.model_validate_json(value)) for key, value in workload.messages]


# --- workload ----------------------------------------------------------------------------


def test_every_event_validates_and_is_keyed_by_its_user() -> None:
    for key, event in _events():
        assert key == event.user_id.encode()


def test_every_event_passes_the_workers_intake_unchanged() -> None:
    workload = build_workload(500, 25, now=NOW)
    for key, value in workload.messages:
        decoded, sanitised = decode_event(key, value, now=NOW)
        assert isinstance(decoded, Event)
        assert (sanitised.removed, sanitised.truncated) == (0, 0)


@pytest.mark.parametrize(("events", "users"), [(1, 1), (7, 3), (2_000, 100), (1_001, 100)])
def test_exactly_the_requested_events_and_users(events: int, users: int) -> None:
    workload = build_workload(events, users, now=NOW)
    assert len(workload.messages) == events
    assert sum(workload.counts.values()) == events
    assert len({key for key, _ in workload.messages}) == users


def test_mostly_debit_transactions_with_some_income_and_page_views() -> None:
    events = [event for _, event in _events(10_000, 500)]
    types = Counter(event.type for event in events)
    assert set(types) == {"transaction", "income_deposit", "page_view"}
    assert types["transaction"] > 0.7 * len(events)
    payloads = [event.payload for event in events]
    debits = [p for p in payloads if isinstance(p, Transaction) and p.direction == "debit"]
    assert len(debits) > 0.95 * types["transaction"]
    assert all(0 < debit.amount <= 4000 for debit in debits)


def test_recent_events_are_within_the_last_day_and_history_is_weekly() -> None:
    events = [event for _, event in _events()]
    old = [e for e in events if NOW - e.occurred_at > HORIZON]
    assert all(NOW - e.occurred_at <= timedelta(days=1) for e in events if e not in old)
    assert all(e.occurred_at < NOW for e in events)
    per_user = Counter(e.user_id for e in old)
    assert set(per_user.values()) == {len(HISTORY_DAYS_BACK)}
    assert len(per_user) == 100


def test_messages_are_in_event_time_order() -> None:
    times = [event.occurred_at for _, event in _events()]
    assert times == sorted(times)


def test_the_same_seed_gives_the_same_events() -> None:
    first = build_workload(300, 10, now=NOW, seed=3)
    assert build_workload(300, 10, now=NOW, seed=3) == first
    assert build_workload(300, 10, now=NOW, seed=4).messages != first.messages


def test_spikers_fire_spending_spike_and_nobody_else_does() -> None:
    workload = build_workload(4_000, 200, now=NOW)
    catalogue = default_catalogue()
    states: dict[str, UserState] = {}
    fired: list[tuple[str, str]] = []
    for _, value in workload.messages:
        event = Event.model_validate_json(value)
        state = states.setdefault(event.user_id, UserState())
        result = process(
            state, event, default_definitions(), catalogue,
            now=NOW, max_event_age_seconds=HORIZON.total_seconds(),
        )  # fmt: skip
        fired += [
            (d.trigger_id, d.user_id)
            for d in result.decisions
            if d.outcome.value == "fired" and d.trigger_id not in INSIGHT_TRIGGER_IDS
        ]
    assert workload.spikers > 0
    assert {trigger for trigger, _ in fired} == {"spending_spike"}
    assert len(fired) == len({user for _, user in fired}) == workload.spikers  # once each


@pytest.mark.parametrize(("events", "users"), [(10, 0), (5, 6), (0, 0)])
def test_impossible_sizes_are_refused(events: int, users: int) -> None:
    with pytest.raises(ValueError, match="users"):
        build_workload(events, users, now=NOW)


def test_compact_json_is_plain_json() -> None:
    document = {"a": [1, "b"], "c": {"d": None}}
    assert compact_json(document) == b'{"a":[1,"b"],"c":{"d":null}}'
    assert orjson.loads(compact_json(document)) == document


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        build_workload(10, 2, now=datetime(2026, 1, 1))  # noqa: DTZ001 - on purpose


# --- measurement and result lines --------------------------------------------------------


def test_meter_starts_once_and_is_done_at_the_target() -> None:
    meter = Meter(target=5)
    meter.begin()
    first = meter.first_at
    meter.add(3)
    meter.begin()
    assert meter.first_at == first
    assert not meter.done.is_set()
    meter.add(2)
    assert meter.done.is_set()


def test_meter_result_computes_throughput() -> None:
    meter = Meter(
        target=1_000, count=1_000, first_at=10.0, first_wall=100.5, done_at=12.5,
        cpu_first=3.0, cpu_done=4.25,
    )  # fmt: skip
    result = meter.result("aiokafka_loop", launched_at=99.0, produced=7)
    assert result["cpu_seconds"] == 1.25
    assert result["cpu_us_per_event"] == 1250.0
    assert result["cpu_share"] == 0.5
    assert result["mode"] == "aiokafka_loop"
    assert result["events"] == 1_000
    assert result["seconds"] == 2.5
    assert result["events_per_second"] == 400.0
    assert result["startup_seconds"] == 1.5
    assert result["produced"] == 7
    assert result["peak_rss_mib"] > 0


def test_meter_without_events_has_no_result() -> None:
    with pytest.raises(RuntimeError, match="incomplete"):
        Meter(target=1).result("pipeline", launched_at=0.0)


def test_result_line_is_one_json_line_found_among_other_output() -> None:
    result = {"mode": "pipeline", "events": 3, "seconds": 1.0, "events_per_second": 3.0}
    line = result_line(result)
    assert "\n" not in line
    assert orjson.loads(line) == result
    noise = 'starting\n{"level": "WARNING"}\n\x1b[?25l\x1b[?25h' + line + "\nbye\n"
    assert parse_result(noise) == result


@pytest.mark.parametrize("output", ["", "no json here", '{"mode": "pipeline"}', "{broken"])
def test_output_without_a_result_line_gives_none(output: str) -> None:
    assert parse_result(output) is None


def test_peak_rss_reads_linux_vmhwm(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmHWM:\t  204800 kB\nVmRSS:\t  1024 kB\n")
    assert peak_rss_mib(status) == 200.0
    assert peak_rss_mib(tmp_path / "missing") > 0  # falls back to getrusage


# --- ratios and report -------------------------------------------------------------------


def _result(mode: str, rate: float) -> dict[str, Any]:
    return {"mode": mode, "events": 100, "seconds": 100 / rate, "events_per_second": rate,
            "startup_seconds": 1.0, "peak_rss_mib": 100.0, "cpu_us_per_event": 50.0}  # fmt: skip


def test_ratios_divide_throughputs_of_the_same_run() -> None:
    results = {
        "pipeline": _result("pipeline", 6_000.0),
        "faust_passthrough": _result("faust_passthrough", 5_000.0),
        "aiokafka_loop": _result("aiokafka_loop", 250_000.0),
    }
    assert ratios(results) == {
        "pipeline / faust_passthrough": 1.2,
        "pipeline / aiokafka_loop": 0.024,
        "faust_passthrough / aiokafka_loop": 0.02,
    }


def test_ratios_of_a_failed_or_missing_mode_are_none() -> None:
    results = {
        "pipeline": {"error": "did not process all events within 600 s (killed)"},
        "faust_passthrough": _result("faust_passthrough", 5_000.0),
        "aiokafka_loop": {**_result("aiokafka_loop", 1.0), "events_per_second": 0.0},
    }
    assert ratios(results) == {
        "pipeline / faust_passthrough": None,
        "pipeline / aiokafka_loop": None,
        "faust_passthrough / aiokafka_loop": None,
    }
    assert ratios({}) == {}  # a pair whose modes did not run is left out


def test_report_shape() -> None:
    results = {mode: _result(mode, 1_000.0 * (i + 1)) for i, mode in enumerate(reversed(MODES))}
    results["faust_passthrough"] = {"error": "exited with code 1 before reporting a result"}
    report = build_report(
        parameters={"events": 100, "users": 10, "partitions": 4},
        sections={"preload": {"seconds": 0.5, "events_per_second": 200.0}},
        results=results,
        machine=machine_info(),
        started_at="2026-03-18T15:30:00+00:00",
    )
    assert set(report) == {
        "report_version", "started_at", "machine", "parameters", "preload", "results",
        "ratios", "failed",
    }  # fmt: skip
    assert list(report["results"]) == list(MODES)
    assert report["failed"] == {"faust_passthrough": "exited with code 1 before reporting a result"}
    assert report["ratios"]["pipeline / aiokafka_loop"] == 3.0
    assert {"cpu_count", "python", "platform"} <= set(report["machine"])
    orjson.dumps(report)  # serialisable as it is written
    table = format_table(report)
    assert all(mode in table for mode in MODES)
    assert "FAILED" in table
    assert "pipeline / faust_passthrough" in table


# --- command line and topics (no broker reached) ------------------------------------------


def test_run_prefix_is_unique_and_a_valid_topic_name() -> None:
    prefixes = {run_prefix(NOW) for _ in range(20)}
    assert len(prefixes) == 20
    assert all(re.fullmatch(r"bench-[a-z0-9.-]+\.", prefix) for prefix in prefixes)


async def test_cleanup_refuses_a_prefix_the_bench_did_not_make() -> None:
    with pytest.raises(ValueError, match="refusing"):
        await delete_run_topics(Settings(topic_prefix="prod."))


@pytest.mark.parametrize(
    "argv", [["--users", "0"], ["--events", "5", "--users", "6"], ["--partitions", "0"]]
)
def test_impossible_options_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2


def test_unknown_consumer_mode_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "kafka_streams", "--events", "1", "--launched-at", "0"])
    assert exited.value.code == 2  # a usage error, before anything is run
    assert "invalid choice: 'kafka_streams'" in capsys.readouterr().err
