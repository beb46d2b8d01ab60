"""The three consumers the benchmark compares; each runs alone in its own process.

* ``pipeline``: the real Nudge worker app from ``streams.runtime.app.create_app`` (memory store).
  The ingest stage's ``handle`` is wrapped, in this process only, to count the events of
  each batch it has processed.
* ``faust_passthrough``: a default bare ``faust.App`` (raw serializers, web off) whose one
  agent forwards every key and value with ``await topic.send(...)``, the plain way an
  agent produces (it waits until the message is handed to the producer, not for the ack).
* ``aiokafka_loop``: a plain aiokafka consumer -> producer loop: parse the JSON, add the
  debit amount to a per-user running sum, produce an alert when the sum reaches a limit.
* ``pipeline_worker``: the real Nudge worker app, as ``pipeline``, for the scale runs:
  it has no target (the parent stops the group once its lag is zero) and prints a status
  line (``streams.bench.meter.BatchClock``) every ``STATUS_SECONDS``.

Every mode reads the run's ``behavior.events`` topic from the earliest offset with its own
consumer group (its app id), stops itself after ``target`` events, and prints one result
line (``streams.bench.meter``) on standard output.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import faust
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS
from streams.bench.meter import BatchClock, Meter, result_line
from streams.bench.topics import output_topic
from streams.runtime import metrics
from streams.runtime.agents.ingest import IngestStage
from streams.runtime.app import create_app
from streams.runtime.definitions_feed import DefinitionsFeed
from streams.runtime.kafka_admin import faust_credentials
from streams.runtime.logs import configure_logging, logging_config

#: Consumers log warnings and errors only; their standard error goes to a log file.
LOG_LEVEL = "WARNING"
#: The aiokafka loop produces an alert each time a user's running debit sum reaches this.
ALERT_CENTS = 500_00
#: Longest a fetch waits for records before the loop checks again.
FETCH_TIMEOUT_MS = 500
#: How often a scale run's worker prints its status line.
STATUS_SECONDS = 0.5
#: How often a gated worker looks for its gate file.
GATE_POLL_SECONDS = 0.05


class Counts(Protocol):
    """What counts processed batches: a ``Meter`` or a ``BatchClock``."""

    def begin(self) -> None:
        """Note the first event."""

    def add(self, events: int) -> None:
        """Count processed events."""


def run_mode(
    mode: str, settings: Settings, target: int, launched_at: float, gate: Path | None = None
) -> None:
    """Run one mode until ``target`` events are processed; print its result line.

    ``gate``: for ``pipeline_worker``, a file whose existence lets it process events.

    Raises:
        ValueError: Unknown mode.
    """
    if mode == "pipeline":
        run_pipeline(settings, target, launched_at)
    elif mode == "faust_passthrough":
        run_passthrough(settings, target, launched_at)
    elif mode == "pipeline_worker":
        run_pipeline_worker(settings, gate)
    elif mode == "aiokafka_loop":
        configure_logging(LOG_LEVEL)
        result = asyncio.run(aiokafka_loop(settings, target, launched_at))
        print(result_line(result), flush=True)
    else:
        msg = f"unknown mode {mode!r}"
        raise ValueError(msg)


def run_pipeline(settings: Settings, target: int, launched_at: float) -> None:
    """Run the real Nudge app, counting the events its ingest stage processes."""
    meter = Meter(target)
    observe_ingest(meter)
    app = create_app(settings)
    run_faust(app, meter, "pipeline", launched_at, pipeline_outputs)


def run_pipeline_worker(settings: Settings, gate: Path | None) -> None:
    """Run the real Nudge app until stopped, printing its status every ``STATUS_SECONDS``.

    It takes no batch until ``gate`` exists: the parent creates it once every worker
    of the group has joined, so that all of them start together.
    """
    clock = BatchClock()
    observe_ingest(clock)
    if gate is not None:
        hold_definitions(gate)
    app = create_app(settings)

    async def report_status() -> None:
        print("\n" + result_line(clock.status()), flush=True)

    app.timer(STATUS_SECONDS, name="bench.status")(report_status)
    start_worker(app)


def observe_ingest(meter: Counts) -> None:
    """Wrap ``IngestStage.run_batch`` (in this process) to count each processed batch."""
    run_batch = IngestStage.run_batch

    async def counted(self: IngestStage, batch: Sequence[Any]) -> None:
        meter.begin()
        await run_batch(self, batch)
        meter.add(len(batch))

    IngestStage.run_batch = counted  # type: ignore[method-assign]


def hold_definitions(gate: Path) -> None:
    """Keep the trigger definitions from loading (in this process) until ``gate`` exists.

    The worker takes no batch before they load, and holds none meanwhile: a batch taken
    and held would keep a rebalance waiting for its acknowledgement (Faust's revocation
    waits for the messages in hand), and the gate opens only once the group is stable.
    """
    run = DefinitionsFeed.run

    async def gated(self: DefinitionsFeed) -> None:
        while not gate.exists():
            await asyncio.sleep(GATE_POLL_SECONDS)
        await run(self)

    DefinitionsFeed.run = gated  # type: ignore[method-assign]


def pipeline_outputs() -> dict[str, Any]:
    """Return what the pipeline emitted, from its own Prometheus counters."""
    return {
        "decisions_fired": int(counter_total(metrics.DECISIONS, outcome="fired")),
        "decisions_suppressed": int(counter_total(metrics.DECISIONS, outcome="suppressed")),
        "commands": int(counter_total(metrics.COMMANDS)),
        "state_writes": int(counter_total(metrics.STATE_WRITES)),
        "stale_events": int(counter_total(metrics.EVENTS_STALE)),
        "invalid_events": int(counter_total(metrics.EVENTS_INVALID)),
    }


def counter_total(counter: Any, **labels: str) -> float:
    """Return a counter's total over the label values matching ``labels``."""
    total = 0.0
    for family in counter.collect():
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            if all(sample.labels.get(name) == value for name, value in labels.items()):
                total += sample.value
    return total


def run_passthrough(settings: Settings, target: int, launched_at: float) -> None:
    """Run a default bare Faust app whose agent forwards every event to a topic."""
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap.split(",")],
        broker_credentials=faust_credentials(settings),
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        # Not a tuning knob: only keeps Faust's local files out of the working directory.
        datadir=settings.data_dir,
    )
    meter = Meter(target)
    out = app.topic(output_topic(settings, "faust_passthrough"))

    async def forward(stream: Any) -> None:
        async for key, value in stream.items():
            meter.begin()
            await out.send(key=key, value=value)
            meter.add(1)

    app.agent(app.topic(BEHAVIOR_EVENTS.full_name(settings.topic_prefix)), name="bench.forward")(
        forward
    )
    run_faust(app, meter, "faust_passthrough", launched_at, lambda: {"produced": meter.count})


def run_faust(
    app: Any, meter: Meter, mode: str, launched_at: float, outputs: Callable[[], dict[str, Any]]
) -> None:
    """Run a Faust worker for ``app``; once ``meter`` is done, flush, report and stop.

    The worker is stopped by SIGTERM to itself, the same clean path as in production.
    """

    async def finish() -> None:
        await meter.done.wait()
        await drain(app)
        meter.finish()
        # A line of its own: the worker's spinner may have left terminal escapes on stdout.
        print("\n" + result_line(meter.result(mode, launched_at, **outputs())), flush=True)
        os.kill(os.getpid(), signal.SIGTERM)

    app.task(finish)
    start_worker(app)


def start_worker(app: Any) -> None:
    """Run a Faust worker for ``app`` until it is stopped (logs at ``LOG_LEVEL``)."""
    worker = faust.Worker(
        app,
        loglevel=LOG_LEVEL,
        quiet=True,
        logging_config=logging_config(LOG_LEVEL),
        redirect_stdouts=False,
    )
    worker.execute_from_commandline()


async def drain(app: Any) -> None:
    """Wait until Faust's producer buffer is empty and every message is sent."""
    producer = app.producer
    # The buffer's flush gives up after 0.1 s without progress; go on until it is empty.
    while producer.buffer.size:
        await producer.buffer.flush()
    await producer.flush()


async def aiokafka_loop(settings: Settings, target: int, launched_at: float) -> dict[str, Any]:
    """Consume with aiokafka, keep per-user debit sums, produce alerts; return the result."""
    options = settings.kafka_client_options()
    consumer = AIOKafkaConsumer(
        BEHAVIOR_EVENTS.full_name(settings.topic_prefix),
        group_id=settings.app_id,
        auto_offset_reset="earliest",
        **options,
    )
    producer = AIOKafkaProducer(**options)
    await consumer.start()
    await producer.start()
    try:
        meter = Meter(target)
        produced = await sum_and_alert(
            consumer, producer, output_topic(settings, "aiokafka_loop"), meter
        )
        await producer.flush()
        meter.finish()
        return meter.result("aiokafka_loop", launched_at, produced=produced)
    finally:
        await consumer.stop()
        await producer.stop()


async def sum_and_alert(
    consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, out: str, meter: Meter
) -> int:
    """Process records until ``meter`` reaches its target; return the alerts produced."""
    totals: dict[bytes, int] = {}
    produced = 0
    while meter.count < meter.target:
        batches = await consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS)
        for records in batches.values():
            meter.begin()
            for record in records:
                document = orjson.loads(record.value)
                payload = document["payload"]
                if payload["type"] != "transaction" or payload.get("direction") == "credit":
                    continue
                total = totals.get(record.key, 0) + round(float(payload["amount"]) * 100)
                if total >= ALERT_CENTS:
                    alert = {"user_id": document["user_id"], "total_cents": total,
                             "event_id": document["event_id"]}  # fmt: skip
                    await producer.send(out, key=record.key, value=orjson.dumps(alert))
                    produced += 1
                    total = 0
                totals[record.key] = total
            meter.add(len(records))
    return produced
