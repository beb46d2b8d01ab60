"""The parent process: pre-load once, run each mode in its own process, report, clean up."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka.errors import KafkaError

from schemas.settings import Settings
from streams.bench import workload as mix
from streams.bench.core_pass import CorePass, reference_fold
from streams.bench.final_state import (
    changelog_topic,
    differing_users,
    read_final_states,
    states_digest,
)
from streams.bench.latency import LatencyOptions, run_latency
from streams.bench.meter import parse_result
from streams.bench.quix_venv import QUIX_VERSION, quix_python
from streams.bench.report import MODES, build_report, format_table, machine_info
from streams.bench.scale import run_scale
from streams.bench.topics import create_topics, delete_run_topics, preload, run_prefix
from streams.runtime.processes import settings_env

#: After printing its result a consumer stops cleanly; past this it is killed instead.
SHUTDOWN_GRACE_SECONDS = 30.0
#: How often the parent looks at a running consumer (it idles otherwise).
POLL_SECONDS = 0.2
#: Lines of a failed consumer's log shown in the error.
LOG_TAIL_LINES = 15
#: The parts of a run, in order: the modes on one pre-loaded topic, then 1 and 2 workers
#: on the same topic, then the real worker at a steady rate on its own topics.
PARTS = ("throughput", "scale", "latency")
#: Optional peer modes: name -> the mode it adds.
PEERS = {"quix": "quix_core"}
#: Users named in the report when final states differ from the reference.
DIFFERING_SHOWN = 5


class BenchError(RuntimeError):
    """A mode did not finish, or finished without a result."""


@dataclass(frozen=True, slots=True)
class BenchOptions:
    """What to run.

    Attributes:
        events: Events pre-loaded and processed by each mode.
        users: Distinct users (message keys).
        partitions: Partitions of the input topic (and of every user-keyed topic).
        seed: Seed of the workload generator.
        timeout_seconds: Longest one mode may take, start-up included.
        out: Where the JSON report goes.
        peers: Optional peers to add (``quix``: the ``quix_core`` mode, in its own
            virtualenv).
        parts: Which of ``PARTS`` to run.
        latency: The latency part's options.
    """

    events: int = 200_000
    users: int = 10_000
    partitions: int = 4
    seed: int = 7
    timeout_seconds: float = 600.0
    out: Path = Path("reports/bench.json")
    peers: tuple[str, ...] = ()
    parts: tuple[str, ...] = PARTS
    latency: LatencyOptions = field(default_factory=LatencyOptions)


def run_bench(options: BenchOptions) -> int:
    """Run the whole benchmark; return the exit code (1 if a mode failed)."""
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    sections: dict[str, Any] = {}
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="nudge-bench-") as scratch:
        settings = bench_settings(Settings(), options, Path(scratch))
        if {"throughput", "scale"} & set(options.parts):
            print(f"bench: topic prefix {settings.topic_prefix}", file=sys.stderr)
            try:
                sections["preload"], messages = prepare(settings, options)
                if "throughput" in options.parts:
                    results = run_throughput(settings, options, Path(scratch), sections)
                    sections["final_state"] = final_state(settings, messages)
                if "scale" in options.parts:
                    sections["scale"] = run_scale(
                        settings, options.events, Path(scratch), options.timeout_seconds
                    )
            finally:
                clean_up(settings)
        if "latency" in options.parts:
            sections["latency"] = run_latency(
                bench_settings(Settings(), options, Path(scratch)), options.latency, Path(scratch)
            )
    report = build_report(
        parameters=parameters(options, settings),
        results=results,
        sections=sections,
        machine=machine_info(),
        started_at=started_at,
    )
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    print(format_table(report))
    print(f"\nreport written to {options.out}")
    for mode in report["failed"]:
        print(f"bench: {mode} failed: {report['failed'][mode]}", file=sys.stderr)
    return 1 if report["failed"] else 0


def run_throughput(
    settings: Settings, options: BenchOptions, scratch: Path, sections: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Run each mode (and each peer asked for) in turn on the pre-loaded topic."""
    commands: dict[str, list[str]] = {}
    if "quix" in options.peers:
        peer = quix_python()
        sections["peers"] = {"quix": {"quixstreams": QUIX_VERSION, "virtualenv": peer.detail}}
        if peer.python is None:
            print(f"bench: quix_core left out: {peer.detail}", file=sys.stderr)
        else:
            sections["peers"]["quix"]["python"] = str(peer.python)
            commands[PEERS["quix"]] = [str(peer.python), "-m", "streams.bench.quix_core"]
    modes = [*MODES, *commands]
    own = [sys.executable, "-m", "streams.bench", "run"]
    results = {
        mode: run_mode_process(settings, mode, options, scratch, commands.get(mode, [*own, mode]))
        for mode in modes
    }
    if PEERS["quix"] in results:
        # Same core, same events: the peer must emit as many commands as the pipeline.
        theirs = results[PEERS["quix"]].get("commands")
        ours = results["pipeline"].get("commands")
        sections["peers"]["quix"]["commands_match_pipeline"] = theirs is not None and theirs == ours
    return results


def final_state(settings: Settings, messages: Sequence[tuple[bytes, bytes]]) -> dict[str, Any]:
    """Digest the pipeline's final table and compare it with the sequential reference."""
    topic = changelog_topic(f"{settings.topic_prefix}pipeline")
    try:
        states = asyncio.run(read_final_states(settings, topic))
    except (KafkaError, OSError, RuntimeError) as exc:
        return {"error": f"could not read {topic}: {exc!r}"}
    reference = reference_fold(messages, CorePass.from_settings(settings), datetime.now(UTC))
    differing = differing_users(states, reference)
    return {
        "users": len(states),
        "digest": states_digest(states),
        "reference_digest": states_digest(reference),
        "matches_reference": not differing,
        "differing_users": len(differing),
        "differing_examples": differing[:DIFFERING_SHOWN],
        "compared_without": "seen, partition",
    }


def clean_up(settings: Settings) -> None:
    """Delete the run's topics; report, without raising, if the broker refuses."""
    try:
        deleted = asyncio.run(delete_run_topics(settings))
    except (KafkaError, OSError) as exc:
        print(f"bench: could not delete topics {settings.topic_prefix}*: {exc!r}", file=sys.stderr)
        return
    print(f"bench: deleted {len(deleted)} topics", file=sys.stderr)


def bench_settings(base: Settings, options: BenchOptions, scratch: Path) -> Settings:
    """Return the run's settings: a fresh topic prefix, memory store, no web or metrics."""
    data_dir = scratch / "data"
    data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    return base.model_copy(
        update={
            "topic_prefix": run_prefix(),
            "partitions": options.partitions,
            "store": "memory://",
            "data_dir": str(data_dir),
            "web_port": 0,
            "metrics_port": 0,
            "log_level": "WARNING",
            # The workloads carry no consent events: every user counts as consenting until
            # they withdraw (the check still runs on every match).
            "category_consent": "withdrawal_only",
        }
    )


def parameters(options: BenchOptions, settings: Settings) -> dict[str, Any]:
    """Return the run's parameters for the report."""
    return {
        "events": options.events,
        "users": options.users,
        "partitions": options.partitions,
        "seed": options.seed,
        "timeout_seconds": options.timeout_seconds,
        "topic_prefix": settings.topic_prefix,
        "workload": {
            "page_view_share": mix.PAGE_VIEW_SHARE,
            "income_share": mix.INCOME_SHARE,
            "credit_share_of_transactions": mix.CREDIT_SHARE,
            "spiker_share": mix.SPIKER_SHARE,
            "history_days_back": list(mix.HISTORY_DAYS_BACK),
        },
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()},
    }


def prepare(
    settings: Settings, options: BenchOptions
) -> tuple[dict[str, Any], list[tuple[bytes, bytes]]]:
    """Create the run's topics and pre-load the workload once.

    Returns:
        The pre-load's figures, and the messages pre-loaded.
    """
    built = time.perf_counter()
    workload = mix.build_workload(
        options.events, options.users, now=datetime.now(UTC), seed=options.seed
    )
    generate_seconds = time.perf_counter() - built
    asyncio.run(create_topics(settings))
    seconds = asyncio.run(preload(settings, workload.messages))
    size = sum(len(key) + len(value) for key, value in workload.messages)
    print(f"bench: pre-loaded {len(workload.messages)} events in {seconds:.1f} s", file=sys.stderr)
    return {
        "events": len(workload.messages),
        "bytes": size,
        "generate_seconds": round(generate_seconds, 3),
        "seconds": round(seconds, 3),
        "events_per_second": round(len(workload.messages) / seconds, 1),
        "events_by_type": workload.counts,
        "spiking_users": workload.spikers,
    }, workload.messages


def run_mode_process(
    settings: Settings, mode: str, options: BenchOptions, scratch: Path, program: list[str]
) -> dict[str, Any]:
    """Run one mode in its own process; return its result, or ``{"error": ...}``.

    Args:
        settings: The run's settings; the mode's app id is the prefix and its name.
        mode: The mode's name.
        options: Events and timeout.
        scratch: Where its output and log go.
        program: The command up to its options (interpreter, module, mode).
    """
    print(f"bench: running {mode} ...", file=sys.stderr)
    child = settings.model_copy(update={"app_id": f"{settings.topic_prefix}{mode}"})
    command = [*program, "--events", str(options.events), "--launched-at", repr(time.time())]
    out_path, log_path = scratch / f"{mode}.out", scratch / f"{mode}.log"
    started = time.monotonic()
    with out_path.open("wb") as out, log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command, env=settings_env(child), stdout=out, stderr=log
        )
        try:
            result = await_result(process, out_path, options.timeout_seconds)
        except BenchError as exc:
            error = f"{exc}; last log lines:\n{tail(log_path)}"
            print(f"bench: {mode}: {error}", file=sys.stderr)
            return {"error": str(exc), "log_tail": tail(log_path)}
    result["process_seconds"] = round(time.monotonic() - started, 3)
    return result


def await_result(
    process: subprocess.Popen[bytes], out_path: Path, timeout_seconds: float
) -> dict[str, Any]:
    """Wait for a consumer's result line, then for its exit.

    Raises:
        BenchError: No result within ``timeout_seconds``, or the process exited without one.
    """
    deadline = time.monotonic() + timeout_seconds
    while (result := parse_result(out_path.read_text(errors="replace"))) is None:
        if process.poll() is not None:
            msg = f"exited with code {process.returncode} before reporting a result"
            raise BenchError(msg)
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            msg = f"did not process all events within {timeout_seconds:g} s (killed)"
            raise BenchError(msg)
        time.sleep(POLL_SECONDS)
    try:
        result["exit_code"] = process.wait(SHUTDOWN_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        result["exit_code"] = process.wait()
        result["note"] = f"killed: still running {SHUTDOWN_GRACE_SECONDS:g} s after reporting"
    return result


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Return the last ``lines`` lines of a log file."""
    text: Sequence[str] = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])
