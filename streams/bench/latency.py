"""Latency: the real worker, timer on, at a steady rate; event -> command from Kafka times.

A fresh topic prefix; the real ``nudge worker`` (its own process, memory store, metrics
on a free port, the timer every ``schedule_interval_seconds``) first reads a pre-loaded
population (``streams.bench.latency_workload``). Once it has committed all of it, events
are produced at ``rate`` a second for ``seconds``, each stamped (Kafka timestamp) when
sent. Each communication command that names one of them as ``source_event_id`` gives one
latency: the command's Kafka timestamp (set by the worker's producer when it sends)
minus the event's. The worker's own ``nudge_decision_latency_seconds`` histogram (event
time to processing time, which the stream sets to the send time) is scraped before and
after the stream, and the difference gives its p99 estimate, to compare.

Quiet hours are off in this run (``quiet_hours_start == quiet_hours_end``): a command
held for the morning would measure the clock, not the worker.
"""

from __future__ import annotations

import asyncio
import random
import socket
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, COMMS_COMMANDS
from streams.bench import latency_workload as stream
from streams.bench.final_state import partitions_of
from streams.bench.histogram import Histogram, scrape_histogram, scrape_value
from streams.bench.topics import delete_run_topics, publish, run_prefix
from streams.runtime.kafka_admin import ensure_topics
from streams.runtime.lag import group_lag
from streams.runtime.processes import NudgeProcess

#: Longest the worker may take to read the pre-load, and to finish after the stream.
CATCH_UP_SECONDS = 300.0
#: After the last event is committed, keep reading commands this long.
SETTLE_SECONDS = 2.0
#: The worker's decision-latency histogram and its timer's pass histogram.
DECISION_LATENCY = "nudge_decision_latency_seconds"
TIMER_PASSES = "nudge_scheduler_tick_seconds"
CPU_SECONDS = "process_cpu_seconds_total"


@dataclass(frozen=True, slots=True)
class LatencyOptions:
    """The latency run.

    Attributes:
        users: Users pre-loaded (three history events each): what a timer pass reads.
        rate: Events a second in the stream.
        seconds: How long the stream runs.
        schedule_interval_seconds: The worker's timer interval (the default is 60 s;
            shorter, so several passes fall within the stream).
        seed: Seed of the events.
        spike_every: One event in this many fires ``spending_spike``.
    """

    users: int = 20_000
    rate: int = 1000
    seconds: float = 60.0
    schedule_interval_seconds: float = 10.0
    seed: int = 11
    spike_every: int = stream.SPIKE_EVERY


def run_latency(base: Settings, options: LatencyOptions, scratch: Path) -> dict[str, Any]:
    """Run the latency measurement; return its section of the report (``error`` if failed)."""
    settings = base.model_copy(
        update={
            "topic_prefix": run_prefix().rstrip(".") + "-latency.",
            "app_id": "",
            "metrics_port": free_port(),
            "schedule_interval_seconds": options.schedule_interval_seconds,
            "quiet_hours_start": 0,
            "quiet_hours_end": 0,
            "log_level": "INFO",
        }
    )
    settings = settings.model_copy(update={"app_id": f"{settings.topic_prefix}worker"})
    print(f"bench: latency run, topic prefix {settings.topic_prefix}", file=sys.stderr)
    worker = NudgeProcess(settings, "worker", scratch / "latency-worker.log")
    try:
        return asyncio.run(measure(settings, options, worker))
    except (RuntimeError, OSError, TimeoutError) as exc:
        return {"error": f"{exc!r}", "log_tail": worker.log_text()[-2000:]}
    finally:
        worker.stop()
        try:
            asyncio.run(delete_run_topics(settings))
        except (RuntimeError, OSError, ValueError) as exc:
            print(f"bench: latency topics not deleted: {exc!r}", file=sys.stderr)


async def measure(
    settings: Settings, options: LatencyOptions, worker: NudgeProcess
) -> dict[str, Any]:
    """Pre-load, start the worker, wait for it, stream, and compute the figures."""
    await ensure_topics(settings)
    people = stream.population(options.users, datetime.now(UTC), options.seed)
    topic = BEHAVIOR_EVENTS.full_name(settings.topic_prefix)
    await publish(settings, [(topic, key, value) for key, value in people])
    started = time.monotonic()
    worker.start()
    await committed(settings, worker, CATCH_UP_SECONDS)
    catch_up = time.monotonic() - started
    metrics_url = f"http://127.0.0.1:{settings.metrics_port}/metrics"
    before = scrape(metrics_url)
    reader = CommandReader(settings)
    await reader.start()
    try:
        sent = await produce_steady(settings, options)
        await committed(settings, worker, CATCH_UP_SECONDS)
        await asyncio.sleep(SETTLE_SECONDS)
        commands = await reader.read()
    finally:
        await reader.stop()
    after = scrape(metrics_url)
    return summarise(
        options,
        sent=sent,
        commands=commands,
        before=before,
        after=after,
        preloaded=len(people),
        catch_up=catch_up,
    )


async def committed(settings: Settings, worker: NudgeProcess, timeout: float) -> None:
    """Wait until the worker's group has committed every event published so far."""
    topic = BEHAVIOR_EVENTS.full_name(settings.topic_prefix)
    deadline = time.monotonic() + timeout
    while await group_lag(settings, settings.app_id, [topic]) > 0:
        if not worker.running():
            msg = "the worker exited"
            raise RuntimeError(msg)
        if time.monotonic() > deadline:
            msg = f"the worker did not commit every event within {timeout:g} s"
            raise TimeoutError(msg)
        await asyncio.sleep(0.5)


async def produce_steady(settings: Settings, options: LatencyOptions) -> dict[str, int]:
    """Produce ``rate`` events a second for ``seconds``; return event id -> Kafka timestamp."""
    producer = AIOKafkaProducer(**settings.kafka_client_options(), acks="all")
    await producer.start()
    topic = BEHAVIOR_EVENTS.full_name(settings.topic_prefix)
    rng = random.Random(options.seed)  # noqa: S311 - test data
    sent: dict[str, int] = {}
    total = int(options.rate * options.seconds)
    start = time.monotonic()
    try:
        for number in range(total):
            delay = start + number / options.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = datetime.now(UTC)
            event_id, key, value = stream.steady_event(
                number, options.users, now, options.seed, rng, spike_every=options.spike_every
            )
            stamp = int(now.timestamp() * 1000)
            await producer.send(topic, value=value, key=key, timestamp_ms=stamp)
            sent[event_id] = stamp
        await producer.flush()
    finally:
        await producer.stop()
    return sent


class CommandReader:
    """Reads ``comms.commands`` from where it ended before the stream began."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = COMMS_COMMANDS.full_name(settings.topic_prefix)
        self.consumer = AIOKafkaConsumer(
            **settings.kafka_client_options(), enable_auto_commit=False
        )
        self.records: list[tuple[str | None, int]] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Assign every partition at its current end and read in the background."""
        assigned = await partitions_of(self.settings, self.topic)
        await self.consumer.start()
        self.consumer.assign(assigned)
        await self.consumer.seek_to_end(*assigned)
        for tp in assigned:  # resolve the end now, not at the first fetch
            await self.consumer.position(tp)
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    source = orjson.loads(record.value).get("source_event_id")
                    self.records.append((source, record.timestamp))

    async def read(self) -> list[tuple[str | None, int]]:
        """Return ``(source event id, Kafka timestamp)`` of every command read so far."""
        return list(self.records)

    async def stop(self) -> None:
        """Stop reading."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.consumer.stop()


def summarise(
    options: LatencyOptions,
    *,
    sent: dict[str, int],
    commands: list[tuple[str | None, int]],
    before: str,
    after: str,
    preloaded: int,
    catch_up: float,
) -> dict[str, Any]:
    """Return the section: latencies from Kafka times, the histogram's view, the timer."""
    latencies = sorted(stamp - sent[source] for source, stamp in commands if source in sent)
    histogram = scrape_histogram(after, DECISION_LATENCY) - scrape_histogram(
        before, DECISION_LATENCY
    )
    passes = scrape_histogram(after, TIMER_PASSES) - scrape_histogram(before, TIMER_PASSES)
    cpu = scrape_value(after, CPU_SECONDS) - scrape_value(before, CPU_SECONDS)
    return {
        "rate": options.rate,
        "seconds": options.seconds,
        "spike_every": options.spike_every,
        "events": len(sent),
        "population_users": options.users,
        "preloaded_events": preloaded,
        "catch_up_seconds": round(catch_up, 2),
        "commands_matched": len(latencies),
        "commands_other": len(commands) - len(latencies),
        "latency_ms": percentiles(latencies),
        "histogram": histogram_view(histogram),
        "timer": {
            "interval_seconds": options.schedule_interval_seconds,
            "passes": passes.count,
            "pass_seconds_total": round(passes.total, 3),
            "pass_seconds_p99_estimate": passes.quantile(0.99),
        },
        "worker_cpu_seconds": round(cpu, 3),
        "worker_cpu_us_per_event": round(cpu / len(sent) * 1e6, 1) if sent else None,
        "quiet_hours": "off",
    }


def percentiles(values: list[int]) -> dict[str, float | None]:
    """Return p50, p95, p99, max and mean of sorted ``values`` (milliseconds)."""
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None, "mean": None}

    def rank(q: float) -> float:
        return float(values[min(len(values) - 1, int(q * len(values)))])

    return {
        "p50": rank(0.50),
        "p95": rank(0.95),
        "p99": rank(0.99),
        "max": float(values[-1]),
        "mean": round(sum(values) / len(values), 1),
    }


def histogram_view(histogram: Histogram) -> dict[str, Any]:
    """Return the decision-latency histogram's count, p99 estimate and bucket of p99."""
    estimate = histogram.quantile(0.99)
    return {
        "count": histogram.count,
        "p99_estimate_ms": None if estimate is None else round(estimate * 1000, 1),
        "p99_bucket_le_seconds": histogram.bucket_of(0.99),
        "share_within_100ms": histogram.share_within(0.1),
    }


def scrape(url: str) -> str:
    """Return the text of a ``/metrics`` page."""
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own worker
        return str(response.read().decode())


def free_port() -> int:
    """Return a TCP port free on the loopback interface right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
