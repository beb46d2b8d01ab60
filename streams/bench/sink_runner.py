"""The sink benchmark: the real ``nudge sink`` from the start of pre-loaded topics to the end.

``python -m streams.bench sink`` pre-loads the worker's output messages once
(``streams.bench.sink_workload``), then runs the sink once per write method and round,
interleaved (``insert``, ``copy``, ``insert``, ``copy`` ...) so both meet the same load of
a shared machine. Each run gets a fresh, migrated database and its own consumer group, so
it reads every message from the start and every message is a new row; it stops once all
rows are stored, and the database is counted against what the sink says it stored.

The figures (``streams.bench.sink_probe``) go into the ``sink`` section of the report:
rows per second, CPU per row, batch size and peak RSS of each run, and per round the ratio
of ``copy`` to ``insert`` measured in that round.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql
from pydantic import SecretStr
from sqlalchemy.engine import URL, make_url

from schemas.settings import Settings
from streams.bench.report import machine_info, write_report_section
from streams.bench.runner import clean_up
from streams.bench.sink_probe import Sample, measure, next_sample_in, peak_rss_of, read_sample
from streams.bench.sink_workload import build_sink_workload
from streams.bench.topics import publish, run_prefix
from streams.runtime.kafka_admin import ensure_topics
from streams.runtime.processes import NudgeProcess, settings_env

#: The write methods compared (``NUDGE_SINK_WRITE``), in the order each round runs them.
METHODS: tuple[Literal["insert", "copy"], ...] = ("insert", "copy")


class SinkBenchError(RuntimeError):
    """A sink run did not store every row, or stored something else."""


@dataclass(frozen=True, slots=True)
class SinkOptions:
    """What to run.

    Attributes:
        rows: Messages pre-loaded; each is one row.
        users: Distinct users (message keys).
        partitions: Partitions of every topic.
        batch_size: ``NUDGE_SINK_BATCH_SIZE`` of the sink.
        rounds: How many times each method runs (interleaved).
        seed: Seed of the workload.
        timeout_seconds: Longest one run may take, start-up included.
        out: The report; its ``sink`` section is replaced, the rest kept.
    """

    rows: int = 100_000
    users: int = 10_000
    partitions: int = 4
    batch_size: int = 500
    rounds: int = 2
    seed: int = 7
    timeout_seconds: float = 600.0
    out: Path = Path("reports/bench.json")


def run_sink_bench(options: SinkOptions) -> int:
    """Run the sink benchmark and write its section of the report; return the exit code."""
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    base = Settings()
    settings = base.model_copy(
        update={
            "topic_prefix": run_prefix(),
            "partitions": options.partitions,
            "log_level": "WARNING",
            "sink_batch_size": options.batch_size,
        }
    )
    print(f"bench sink: topic prefix {settings.topic_prefix}", file=sys.stderr)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="nudge-bench-sink-") as scratch:
        try:
            preload = prepare(settings, options)
            for round_ in range(options.rounds):
                for method in METHODS:
                    runs.append(run_once(settings, method, round_, options, Path(scratch)))
        finally:
            clean_up(settings)
    section = {
        "started_at": started_at,
        "machine": machine_info(),
        "parameters": {**_plain(options), "topic_prefix": settings.topic_prefix},
        "preload": preload,
        "runs": runs,
        "ratios": round_ratios(runs),
    }
    write_section(options.out, section)
    print(format_runs(section))
    print(f"\nreport written to {options.out} (section 'sink')")
    failed = [run for run in runs if "error" in run]
    return 1 if failed else 0


def prepare(settings: Settings, options: SinkOptions) -> dict[str, Any]:
    """Create the topics and pre-load the output messages once; return the figures."""
    built = time.perf_counter()
    workload = build_sink_workload(
        options.rows, options.users, now=datetime.now(UTC), seed=options.seed
    )
    generate_seconds = time.perf_counter() - built
    asyncio.run(ensure_topics(settings))
    messages = [
        (spec.full_name(settings.topic_prefix), key, value)
        for spec, key, value in workload.messages
    ]
    seconds = asyncio.run(publish(settings, messages))
    print(f"bench sink: pre-loaded {len(messages)} messages in {seconds:.1f} s", file=sys.stderr)
    return {
        "rows": len(messages),
        "bytes": sum(len(key) + len(value) for _, key, value in messages),
        "generate_seconds": round(generate_seconds, 3),
        "seconds": round(seconds, 3),
        "messages_by_topic": workload.counts,
    }


def run_once(
    settings: Settings,
    method: Literal["insert", "copy"],
    round_: int,
    options: SinkOptions,
    scratch: Path,
) -> dict[str, Any]:
    """Run one sink with ``method`` on a fresh database; return its figures or its error."""
    name = f"bench_{method}_{round_}_{uuid.uuid4().hex[:8]}"
    print(f"bench sink: round {round_ + 1}, {method} ...", file=sys.stderr)
    child = settings.model_copy(
        update={
            "app_id": f"{settings.topic_prefix}sink-{method}-{round_}",
            "database_url": SecretStr(database_url(settings, name)),
            "sink_write": method,
            "sink_metrics_port": free_port(),
        }
    )
    create_database(settings, name)
    try:
        migrate(child)
        result = watch(child, options.rows, scratch / f"{name}.log", options.timeout_seconds)
        check_rows(child, result["inserted"], options.rows)
    except SinkBenchError as exc:
        print(f"bench sink: {method}: {exc}", file=sys.stderr)
        return {"method": method, "round": round_ + 1, "error": str(exc)}
    finally:
        drop_database(settings, name)
    return {"method": method, "round": round_ + 1, **result}


def watch(settings: Settings, rows: int, log_path: Path, timeout_seconds: float) -> dict[str, Any]:
    """Start ``nudge sink``, sample it until ``rows`` rows are stored, stop it; return figures.

    Raises:
        SinkBenchError: Not done within the run's time, or the sink exited.
    """
    process = NudgeProcess(settings, "sink", log_path).start()
    deadline = time.monotonic() + timeout_seconds
    idle: Sample | None = None
    try:
        while True:
            if not process.running():
                msg = f"the sink exited early; log:\n{process.log_text()[-2000:]}"
                raise SinkBenchError(msg)
            if time.monotonic() > deadline:
                msg = f"not all {rows} rows stored in time (last sample: {idle})"
                raise SinkBenchError(msg)
            sample = read_sample(settings.sink_metrics_port, settings.bind_address)
            if sample is not None and sample.messages == 0:
                idle = sample
            elif sample is not None and idle is not None and sample.stored >= rows:
                assert process.process is not None  # noqa: S101 - started above
                return measure(idle, sample, rows, peak_rss_of(process.process.pid))
            time.sleep(next_sample_in(sample, rows))
    finally:
        process.stop()


def check_rows(settings: Settings, inserted: dict[str, int], rows: int) -> None:
    """Count the rows in the database: as many as the sink says, ``rows`` in all.

    Raises:
        SinkBenchError: The database holds another number.
    """
    counted: dict[str, int] = {}
    with psycopg.connect(_libpq(settings.database_url.get_secret_value())) as connection:
        for table in inserted:
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            row = connection.execute(query).fetchone()
            counted[table] = int(row[0]) if row else 0
    if counted != inserted or sum(counted.values()) != rows:
        msg = f"the database holds {counted}, the sink counted {inserted}, expected {rows} rows"
        raise SinkBenchError(msg)


def migrate(settings: Settings) -> None:
    """Migrate the run's database with ``nudge db upgrade`` (the bench does not import sinks)."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "streams.cli", "db", "upgrade"],
        env=settings_env(settings),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        msg = f"nudge db upgrade failed: {done.stderr.decode(errors='replace')[-2000:]}"
        raise SinkBenchError(msg)


def database_url(settings: Settings, name: str) -> str:
    """Return the SQLAlchemy URL of database ``name`` on the configured server."""
    url = make_url(settings.database_url.get_secret_value()).set(database=name)
    return url.render_as_string(hide_password=False)


def create_database(settings: Settings, name: str) -> None:
    """Create an empty database ``name`` on the configured server."""
    with psycopg.connect(_admin_url(settings), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(settings: Settings, name: str) -> None:
    """Drop database ``name`` (its sink has stopped; ``FORCE`` ends any session left)."""
    with psycopg.connect(_admin_url(settings), autocommit=True) as connection:
        query = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        connection.execute(query)


def _admin_url(settings: Settings) -> str:
    url = make_url(settings.database_url.get_secret_value()).set(database="postgres")
    return _libpq(url)


def _libpq(url: str | URL) -> str:
    """Return a libpq URL for psycopg from a SQLAlchemy one (``postgresql+psycopg://``)."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def free_port() -> int:
    """Return a loopback port free now, for the sink's ``/metrics``."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def round_ratios(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return, per round, ``copy`` over ``insert``: rows per second and CPU per row."""
    ratios = []
    by_round: dict[int, dict[str, dict[str, Any]]] = {}
    for run in runs:
        by_round.setdefault(run["round"], {})[run["method"]] = run
    for round_, methods in sorted(by_round.items()):
        copy, insert = methods.get("copy", {}), methods.get("insert", {})
        ratios.append(
            {
                "round": round_,
                "rows_per_second copy / insert": _ratio(copy, insert, "rows_per_second"),
                "cpu_us_per_row copy / insert": _ratio(copy, insert, "cpu_us_per_row"),
            }
        )
    return ratios


def _ratio(top: dict[str, Any], bottom: dict[str, Any], key: str) -> float | None:
    a, b = top.get(key), bottom.get(key)
    if isinstance(a, int | float) and isinstance(b, int | float) and b > 0:
        return round(a / b, 3)
    return None


def write_section(out: Path, section: dict[str, Any]) -> None:
    """Put ``section`` under ``sink`` in the report at ``out``, keeping everything else."""
    write_report_section(out, "sink", section)


def format_runs(section: dict[str, Any]) -> str:
    """Return a short human table of the sink runs and their ratios."""
    header = f"{'method':<8} {'round':>5} {'rows':>8} {'seconds':>8} {'rows/s':>9} " \
             f"{'CPU us/row':>10} {'batch':>6} {'RSS MiB':>8}"  # fmt: skip
    lines = [header, "-" * len(header)]
    for run in section["runs"]:
        if "error" in run:
            lines.append(f"{run['method']:<8} {run['round']:>5} FAILED: {run['error'][:200]}")
            continue
        lines.append(
            f"{run['method']:<8} {run['round']:>5} {run['rows']:>8} {run['seconds']:>8.2f} "
            f"{run['rows_per_second']:>9,.0f} {run['cpu_us_per_row']:>10.1f} "
            f"{run['mean_batch_size'] or 0:>6.0f} {run['peak_rss_mib'] or 0:>8.0f}"
        )
    lines.append("")
    for ratio in section["ratios"]:
        lines.append(
            f"round {ratio['round']}: rows/s copy / insert "
            f"{ratio['rows_per_second copy / insert']}, CPU/row copy / insert "
            f"{ratio['cpu_us_per_row copy / insert']}"
        )
    return "\n".join(lines)


def _plain(options: SinkOptions) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()}
