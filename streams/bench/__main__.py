"""Command line: ``python -m streams.bench [options]``, ``sink``/``models``/``online``, ``run``.

``sink`` is the sink's benchmark (``streams.bench.sink_runner``); ``models`` the alert
recommender's (``streams.bench.recommender``: no broker, no database); ``online`` the
online models' cost per event (``streams.bench.online``: no broker, no database); ``run``
is how the parent starts each consumer.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from schemas.settings import Settings
from streams.bench.latency import LatencyOptions
from streams.bench.report import MODES
from streams.bench.runner import PARTS, PEERS, BenchOptions, run_bench
from streams.bench.sink_runner import SinkOptions, run_sink_bench


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, the sink's (``sink``), or (``run MODE``) one of its consumers."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["run"]:
        return run_consumer(args[1:])
    if args[:1] == ["sink"]:
        return run_sink(args[1:])
    if args[:1] == ["models"]:
        return run_models(args[1:])
    if args[:1] == ["online"]:
        return run_online(args[1:])
    defaults = BenchOptions()
    parser = argparse.ArgumentParser(prog="python -m streams.bench", description=__doc__)
    parser.add_argument("--out", type=Path, default=defaults.out, help="JSON report path")
    parser.add_argument("--events", type=int, default=defaults.events, help="events to process")
    parser.add_argument("--users", type=int, default=defaults.users, help="distinct users")
    parser.add_argument(
        "--partitions", type=int, default=defaults.partitions, help="input partitions"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="workload seed")
    parser.add_argument(
        "--timeout", type=float, default=defaults.timeout_seconds, help="seconds allowed per mode"
    )
    add_part_options(parser, defaults)
    parsed = parser.parse_args(args)
    if not 1 <= parsed.users <= parsed.events or parsed.partitions < 1:
        parser.error("need 1 <= --users <= --events and --partitions >= 1")
    parts, peers = names(parsed.parts), names(parsed.peers)
    if not set(parts) <= set(PARTS) or not set(peers) <= set(PEERS):
        parser.error(f"--parts: some of {', '.join(PARTS)}; --peers: some of {', '.join(PEERS)}")
    options = BenchOptions(
        events=parsed.events,
        users=parsed.users,
        partitions=parsed.partitions,
        seed=parsed.seed,
        timeout_seconds=parsed.timeout,
        out=parsed.out,
        parts=parts,
        peers=peers,
        latency=LatencyOptions(
            users=parsed.latency_users,
            rate=parsed.latency_rate,
            seconds=parsed.latency_seconds,
            schedule_interval_seconds=parsed.latency_schedule,
            spike_every=parsed.latency_spike_every,
        ),
    )
    return run_bench(options)


def add_part_options(parser: argparse.ArgumentParser, defaults: BenchOptions) -> None:
    """Add the options choosing the parts and peers, and the latency run's."""
    latency = defaults.latency
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}"
    )
    parser.add_argument(
        "--peers", default="", help="comma-separated optional peers: quix (Quix Streams app)"
    )
    parser.add_argument("--latency-users", type=int, default=latency.users, help="users pre-loaded")
    parser.add_argument("--latency-rate", type=int, default=latency.rate, help="events a second")
    parser.add_argument(
        "--latency-seconds", type=float, default=latency.seconds, help="seconds of events"
    )
    parser.add_argument(
        "--latency-spike-every",
        type=int,
        default=latency.spike_every,
        help="one event in this many fires spending_spike",
    )
    parser.add_argument(
        "--latency-schedule",
        type=float,
        default=latency.schedule_interval_seconds,
        help="the worker's timer interval, seconds",
    )


def names(text: str) -> tuple[str, ...]:
    """Return the names of a comma-separated option, without blanks."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def run_sink(args: Sequence[str]) -> int:
    """Run the sink benchmark: each write method in turn, on the same pre-loaded messages."""
    defaults = SinkOptions()
    parser = argparse.ArgumentParser(
        prog="python -m streams.bench sink", description=run_sink.__doc__
    )
    parser.add_argument("--out", type=Path, default=defaults.out, help="JSON report path")
    parser.add_argument("--rows", type=int, default=defaults.rows, help="messages (rows)")
    parser.add_argument("--users", type=int, default=defaults.users, help="distinct users")
    parser.add_argument("--partitions", type=int, default=defaults.partitions, help="partitions")
    parser.add_argument(
        "--batch-size", type=int, default=defaults.batch_size, help="NUDGE_SINK_BATCH_SIZE"
    )
    parser.add_argument(
        "--rounds", type=int, default=defaults.rounds, help="runs of each method, interleaved"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="workload seed")
    parser.add_argument(
        "--timeout", type=float, default=defaults.timeout_seconds, help="seconds allowed per run"
    )
    parsed = parser.parse_args(args)
    if min(parsed.rows, parsed.users, parsed.partitions, parsed.batch_size, parsed.rounds) < 1:
        parser.error("--rows, --users, --partitions, --batch-size and --rounds must be >= 1")
    options = SinkOptions(
        rows=parsed.rows,
        users=parsed.users,
        partitions=parsed.partitions,
        batch_size=parsed.batch_size,
        rounds=parsed.rounds,
        seed=parsed.seed,
        timeout_seconds=parsed.timeout,
        out=parsed.out,
    )
    return run_sink_bench(options)


def run_models(args: Sequence[str]) -> int:
    """Run the alert recommender's benchmark: training time, prediction latency, model size."""
    # Imported here: scikit-learn is not needed by the other parts.
    from streams.bench.recommender import ModelBenchOptions, run_models_bench

    defaults = ModelBenchOptions()
    parser = argparse.ArgumentParser(
        prog="python -m streams.bench models", description=run_models.__doc__
    )
    parser.add_argument("--out", type=Path, default=defaults.out, help="JSON report path")
    parser.add_argument(
        "--sizes",
        default=",".join(str(size) for size in defaults.sizes),
        help="comma-separated numbers of users to train on, one run each",
    )
    parser.add_argument(
        "--predictions", type=int, default=defaults.predictions, help="users predicted, one by one"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="synthetic users' seed")
    parsed = parser.parse_args(args)
    try:
        sizes = tuple(int(size) for size in names(parsed.sizes))
    except ValueError:
        parser.error("--sizes: comma-separated whole numbers")
    if not sizes or min(sizes) < 50 or parsed.predictions < 1:
        parser.error("--sizes: each at least 50 users; --predictions at least 1")
    options = ModelBenchOptions(
        sizes=sizes, predictions=parsed.predictions, seed=parsed.seed, out=parsed.out
    )
    return run_models_bench(options)


def run_online(args: Sequence[str]) -> int:
    """Run the online models' benchmark: each model's cost per call, the core pass on and off."""
    from streams.bench.online import OnlineBenchOptions, run_online_bench

    defaults = OnlineBenchOptions()
    parser = argparse.ArgumentParser(
        prog="python -m streams.bench online", description=run_online.__doc__
    )
    parser.add_argument("--out", type=Path, default=defaults.out, help="JSON report path")
    parser.add_argument("--calls", type=int, default=defaults.calls, help="calls a run, per model")
    parser.add_argument("--runs", type=int, default=defaults.runs, help="runs; the median counts")
    parser.add_argument(
        "--events", type=int, default=defaults.events, help="workload events of the core pass"
    )
    parser.add_argument("--users", type=int, default=defaults.users, help="workload users")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="inputs' seed")
    parsed = parser.parse_args(args)
    if min(parsed.calls, parsed.runs, parsed.users) < 1 or parsed.events < parsed.users:
        parser.error("--calls, --runs, --users at least 1; --events at least --users")
    options = OnlineBenchOptions(
        calls=parsed.calls, runs=parsed.runs, events=parsed.events, users=parsed.users,
        seed=parsed.seed, out=parsed.out,
    )  # fmt: skip
    return run_online_bench(options)


def run_consumer(args: Sequence[str]) -> int:
    """Run one mode in this process (started by the parent; settings from ``NUDGE_*``)."""
    parser = argparse.ArgumentParser(prog="python -m streams.bench run")
    parser.add_argument("mode", choices=(*MODES, "pipeline_worker"))
    parser.add_argument("--events", type=int, required=True, help="stop after this many")
    parser.add_argument("--launched-at", type=float, required=True, help="parent's time.time()")
    parser.add_argument("--gate", type=Path, help="pipeline_worker: process once this exists")
    parsed = parser.parse_args(args)
    # Imported here: the parent process needs neither Faust nor the worker's modules.
    from streams.bench.consumers import run_mode

    run_mode(parsed.mode, Settings(), parsed.events, parsed.launched_at, parsed.gate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
