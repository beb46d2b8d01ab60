"""The sink worker: Nudge's topics -> PostgreSQL, offsets committed after the rows.

Loop: ``add`` messages to the pending batch until it is full or old enough, then hand
it to the writer, which writes it in one transaction (in a thread) and commits its
offsets, while the loop fills the next batch: decoding overlaps the database's work. One
batch is in the writer at a time, so batches are written and committed in order. While
the database is down the same batch is retried with exponential back-off and every
partition is paused, so nothing more is fetched (back-pressure): nothing is lost,
because offsets move only after the database commit, and nothing is duplicated, because
rows are inserted idempotently on the message id. An unusable message becomes a
``dead_letters`` row; a message with nothing to store (an input event the worker
rejects, another event type on ``comms.outcomes``) only moves the offsets. After batches
that stored segment changes, users' analytics, experiment assignments or conversions, alert
recommendations or alert actions, the loop has the figures of their gauges read again in
the background (``sinks.refresh``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from wsgiref.simple_server import WSGIServer

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import start_http_server
from sqlalchemy.exc import SQLAlchemyError

from schemas.settings import SettingError, Settings
from sinks import metrics
from sinks.batch import PendingBatch, StoredRows
from sinks.experiment_figures import ExperimentFiguresRefresh
from sinks.recommendation_figures import RecommendationFiguresRefresh
from sinks.refresh import Refresh
from sinks.rows import ROUTES, ConsumedMessage, Row, topic_routes
from sinks.segment_sizes import SEGMENT_CHANGES_TABLE, SegmentSizes
from sinks.user_figures import UserFiguresRefresh
from sinks.writer import ROW_ERRORS, BatchWriter, WriteResult, create_sink_engine

log = logging.getLogger(__name__)

#: First wait after a failed write, in seconds; doubles up to ``sink_retry_max_seconds``.
FIRST_RETRY_SECONDS = 0.5
#: Longest single poll, in seconds: how quickly the loop notices ``stop``.
POLL_SECONDS = 0.5


class Sink:
    """Moves messages from one consumer into the database, batch by batch.

    Args:
        settings: Batch size and timeout, retry cap, topic prefix.
        consumer: A started consumer in the sink's group, subscribed to the output topics.
        writer: Writes a batch in one transaction.
        stop: Set to finish: the pending batch is written and committed, then ``run`` returns.
        gauges: Read their gauges' figures again after batches that stored new rows in
            their tables (segment sizes, users' and experiments' figures); none: nothing
            read.
    """

    def __init__(
        self,
        settings: Settings,
        consumer: AIOKafkaConsumer,
        writer: BatchWriter,
        stop: asyncio.Event,
        gauges: Sequence[Refresh[Any]] = (),
    ) -> None:
        self._settings = settings
        self._gauges = tuple(gauges)
        self._consumer = consumer
        self._writer = writer
        self._stop = stop
        self._routes = topic_routes(settings.topic_prefix)
        self._stored = StoredRows()
        self._batch = self._new_batch()
        self._writing: tuple[PendingBatch, asyncio.Task[bool]] | None = None
        """The batch in the writer and its write (True once written and committed)."""
        self._lock = asyncio.Lock()
        self._paused = False

    def _new_batch(self) -> PendingBatch:
        return PendingBatch(
            self._settings.sink_batch_size,
            self._settings.sink_batch_timeout_seconds,
            self._stored,
        )

    async def run(self) -> None:
        """Consume and write until ``stop`` is set, then write what is pending."""
        while not self._stop.is_set():
            await self._fill()
            if self._batch.due():
                await self._hand_to_writer()
            for gauge in self._gauges:
                gauge.refresh_if_due()
        await self.flush()
        for gauge in self._gauges:
            await gauge.wait()

    async def _hand_to_writer(self) -> None:
        """Start writing the pending batch once the one before it is written; refill.

        Waits for the batch in the writer first (retrying it while the database is down),
        so batches commit in order and at most two are held.
        """
        if not await self._settle():
            return  # stopping with the batch in the writer unwritten: read again later
        batch, self._batch = self._batch, self._new_batch()
        self._writing = (batch, asyncio.create_task(self._write_in_background(batch)))

    async def _write_in_background(self, batch: PendingBatch) -> bool:
        async with self._lock:
            return await self._write_locked(batch)

    async def _settle(self) -> bool:
        """Wait for the batch in the writer; retry it until written; False if stopping first.

        A batch given up on stays in the writer: no later batch is written (and its
        offsets committed past it) until this one is, not even by ``flush`` on stopping.
        """
        if self._writing is None:
            return True
        batch, task = self._writing
        if await task or await self._retry(batch):
            self._writing = None
            return True
        return False

    async def _fill(self) -> None:
        timeout = min(self._batch.time_left(), POLL_SECONDS)
        records = await self._consumer.getmany(
            timeout_ms=int(timeout * 1000), max_records=max(self._batch.room, 1)
        )
        now = datetime.now(UTC)  # one clock reading for the messages fetched together
        for partition, partition_records in records.items():
            metrics.MESSAGES.labels(partition.topic).inc(len(partition_records))
            for record in partition_records:
                self.add(record, now)

    def add(self, record: ConsumerRecord, now: datetime) -> None:
        """Convert one consumed message to its rows and add them to the pending batch.

        Args:
            record: The message (counted in ``nudge_sink_messages_total`` by the caller).
            now: Timezone-aware time it was fetched: the intake's clock, a dead letter's time.
        """
        source = ConsumedMessage(
            record.topic, record.partition, record.offset, record.key, record.value
        )
        route = self._routes[source.topic]
        if route.shared_row is not None:
            held = route.shared_row(source)
            if held is not None and self._batch.holds(held):
                self._batch.fold(source)  # its row is in the batch: no need to decode it
                return
        rows = route.rows(source, now)
        if not rows:
            self._batch.skip(source)
            return
        for row in rows:
            if row.rejected:
                _count_rejected(row)
            self._batch.add(row)

    async def flush(self) -> None:
        """Write the batch in the writer, then the pending one, committing each in order.

        Retries while the database is down. Returns without committing if ``stop`` is set
        while the database is still down: the batch's messages are read again by whoever
        consumes the partitions next.
        """
        if await self._settle():
            await self._retry(self._batch)

    async def _retry(self, batch: PendingBatch) -> bool:
        """Write ``batch`` and commit, retrying with back-off; False if stopped first."""
        delay = FIRST_RETRY_SECONDS
        while not await self.write(batch):
            if self._stop.is_set():
                log.warning(
                    "stopping with an unwritten batch; it will be consumed again",
                    extra={"messages": len(batch)},
                )
                return False
            await self._back_off(delay)
            delay = min(delay * 2, self._settings.sink_retry_max_seconds)
        self._resume()
        return True

    async def write(self, batch: PendingBatch | None = None) -> bool:
        """Write a batch (the pending one by default) once and commit; False if it failed."""
        async with self._lock:
            return await self._write_locked(self._batch if batch is None else batch)

    async def _write_locked(self, batch: PendingBatch) -> bool:
        if not batch:
            return True
        rows = list(batch.rows)
        if not rows:  # only skipped messages: nothing to write, the offsets still move
            await self._commit(batch)
            batch.clear()
            return True
        started = time.monotonic()
        try:
            result = await asyncio.to_thread(self._writer.write, rows, datetime.now(UTC))
        except ROW_ERRORS:
            raise  # The writer turns refused rows into dead letters; one escaping is a bug.
        except SQLAlchemyError as exc:
            metrics.WRITE_ERRORS.inc()
            self._stored.forget()
            log.warning(
                "database write failed; retrying the same batch",
                extra={"error": _describe(exc), "messages": len(rows)},
            )
            return False
        _record(result, len(rows), time.monotonic() - started)
        refused = {dead.source for dead in result.rejected}
        self._stored.remember(row for row in rows if row.source not in refused)
        for gauge in self._gauges:
            if any(result.inserted[table] for table in gauge.tables):
                gauge.changed()
        await self._commit(batch)
        batch.clear()
        return True

    async def _commit(self, batch: PendingBatch) -> None:
        try:
            await self._consumer.commit(batch.offsets())
        except KafkaError as exc:
            # The rows are in the database: redelivered messages are skipped as duplicates.
            log.warning(
                "offset commit failed after the database commit",
                extra={"error": type(exc).__name__},
            )

    async def _back_off(self, delay: float) -> None:
        """Wait ``delay`` seconds with every partition paused, polling to stay in the group."""
        self._pause(self._consumer.assignment())
        deadline = time.monotonic() + delay
        while not self._stop.is_set() and (left := deadline - time.monotonic()) > 0:
            records = await self._consumer.getmany(timeout_ms=int(min(left, POLL_SECONDS) * 1000))
            for partition, partition_records in records.items():
                # Paused partitions return nothing; should one slip through, read it later.
                self._consumer.seek(partition, partition_records[0].offset)

    def _pause(self, partitions: Iterable[TopicPartition]) -> None:
        self._paused = True
        self._consumer.pause(*partitions)

    def _resume(self) -> None:
        if self._paused:
            self._paused = False
            self._consumer.resume(*self._consumer.paused())

    async def hand_over(self) -> None:
        """Before a rebalance: write and commit once, in order; then forget what is left.

        The batch in the writer is awaited (and tried once more if it failed), then the
        pending one is written. Anything not committed here is read again from Kafka by
        the partitions' next owner.
        """
        batches = [self._batch]
        if self._writing is not None:
            earlier, task = self._writing
            self._writing = None
            if not await task:
                batches.insert(0, earlier)
        async with self._lock:
            for batch in batches:
                if batch and not await self._write_locked(batch):
                    log.warning(
                        "rebalance with an unwritten batch; it will be consumed again",
                        extra={"messages": sum(len(b) for b in batches)},
                    )
                    break
            for batch in batches:
                batch.clear()

    def on_assigned(self, partitions: Iterable[TopicPartition]) -> None:
        """After a rebalance: keep new partitions paused while the database is down."""
        if self._paused:
            self._consumer.pause(*partitions)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._sink.hand_over()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._sink.on_assigned(assigned)


def _count_rejected(row: Row) -> None:
    metrics.INVALID_MESSAGES.labels(row.source.topic).inc()
    log.warning(
        "unusable message written to dead_letters",
        extra={
            "topic": row.source.topic,
            "partition": row.source.partition,
            "offset": row.source.offset,
            "kind": row.values["kind"],
            "error": row.values["error"],
        },
    )


def _record(result: WriteResult, size: int, seconds: float) -> None:
    metrics.BATCH_SIZE.observe(size)
    metrics.WRITE_SECONDS.observe(seconds)
    for table, count in result.inserted.items():
        metrics.ROWS_INSERTED.labels(table).inc(count)
    for table, count in result.duplicates.items():
        metrics.DUPLICATES.labels(table).inc(count)
    for row in result.rejected:
        _count_rejected(row)
    for outcome, count in result.links.applied.items():
        metrics.OUTCOMES_APPLIED.labels(outcome).inc(count)
    for outcome, count in result.links.orphaned.items():
        metrics.OUTCOMES_ORPHANED.labels(outcome).inc(count)
    for outcome, count in result.links.matched.items():
        metrics.ORPHANS_MATCHED.labels(outcome).inc(count)
    for change in result.new_rows.get(SEGMENT_CHANGES_TABLE, ()):
        metrics.SEGMENT_CHANGES.labels(change["segment_id"], change["change"]).inc()


def _describe(exc: SQLAlchemyError) -> str:
    """Name a database error without row values (parameters are hidden by the engine)."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None)
    if code:
        return f"{type(exc).__name__}: sqlstate {code}"
    cause = orig or exc
    return next(iter(str(cause).splitlines()), type(cause).__name__)  # may have no text


def sink_group(settings: Settings) -> str:
    """Return the sinks' consumer group: every sink replica of the deployment shares it."""
    return f"{settings.app_id}-sink"


async def run_sink(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run one sink consumer until ``stop`` is set (forever if it is ``None``).

    The topics must exist (``nudge sink`` and ``nudge topics create`` create them) and
    the database must be migrated (``sinks.migrate.upgrade``); until it is, writes fail
    and are retried.

    Args:
        settings: Kafka, database, batch and retry settings.
        stop: Set it to finish: the pending batch is written and committed first.
    """
    stop = stop or asyncio.Event()
    specs = tuple(ROUTES)
    engine = create_sink_engine(settings)
    consumer = AIOKafkaConsumer(
        group_id=sink_group(settings),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # Under exactly_once, aborted transactions' messages must never become rows.
        isolation_level="read_committed",
        # Notice topics created after start-up within seconds, not the default 5 minutes.
        metadata_max_age_ms=10_000,
        **settings.kafka_client_options(),
    )
    writer = BatchWriter(engine, settings.sink_write)
    gauges = (
        SegmentSizes(engine),
        UserFiguresRefresh(engine),
        ExperimentFiguresRefresh(engine),
        RecommendationFiguresRefresh(engine),
    )
    sink = Sink(settings, consumer, writer, stop, gauges)
    await consumer.start()
    try:
        topics = [spec.full_name(settings.topic_prefix) for spec in specs]
        consumer.subscribe(topics=topics, listener=_Rebalance(sink))
        await sink.run()
    finally:
        await consumer.stop()
        await asyncio.to_thread(engine.dispose)


def serve_metrics(settings: Settings) -> WSGIServer | None:
    """Serve ``/metrics`` on ``bind_address``:``sink_metrics_port`` in a thread; ``None`` if off.

    prometheus-client binds every interface unless told otherwise; the setting's default is
    loopback, and containers set ``NUDGE_BIND_ADDRESS=0.0.0.0`` to be scraped. ``nudge
    sink`` calls it before anything reaches Kafka: a sink that cannot be scraped does not
    start consuming.

    Raises:
        SettingError: The port cannot be bound (in use, or the address is not this host's).
    """
    if not settings.sink_metrics_port:
        return None
    try:
        server, _ = start_http_server(settings.sink_metrics_port, addr=settings.bind_address)
    except OSError as exc:
        raise SettingError.metrics_port(settings, "sink_metrics_port", exc) from exc
    return server


def main(settings: Settings) -> None:
    """Run the sink as a process until SIGTERM or SIGINT, which stop it cleanly.

    Metrics are served by ``serve_metrics``, which the caller runs first.
    """
    asyncio.run(_run_until_signalled(settings))


async def _run_until_signalled(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_sink(settings, stop=stop)
