"""Global online models through ``models.checkpoints``: followed, served, written.

Every worker follows the compacted topic from the beginning, as it follows the trigger
definitions (``DefinitionsFeed``), into a ``CheckpointStore`` (the newest sequence per
``model/partition``; a bad message is refused, counted in
``nudge_model_checkpoints_refused_total`` and logged, never a crash). It serves the
send-time prior the checkpoints add up to (``hour_prior``, for ``SendPolicy.hour_prior``):
the same prior on every worker, changed only when a checkpoint arrives. The worker's first
batch waits for ``ready`` (the topic read to where it ended at start), so a batch replayed
after a restart is decided with the prior it had when the checkpoints were written.

The stage hands every applied result to ``learn`` with its input partition. Each global
model counts what concerns it; a partition's first result restores the models from its
newest checkpoint. ``write`` checkpoints every partition that learned something: every
``NUDGE_MODEL_CHECKPOINT_SECONDS``, for the partitions revoked in a rebalance (then
forgotten: their next owner starts from these checkpoints), and on a clean shutdown.

What a crash can cost the global models, and why nothing is counted twice: ``write``
holds the stage's lock and flushes the producer before it sends, so every result it
checkpoints belongs to an event whose user record is on the changelog already. An event
replayed after a crash is then either in a checkpoint *and* in its user's record (the
record's dedup drops it: not learned again) or in neither (learned once, on the replay).
What is lost is what was learned from events whose records were written after the last
checkpoint: at most ``NUDGE_MODEL_CHECKPOINT_SECONDS`` of sends and opens of the killed
worker's partitions. Two exceptions: a checkpoint the broker wrote but whose
acknowledgement was lost keeps its counts in memory, and they are added again to the next
(counted twice); two workers writing the same sequence of one partition in a rebalance's
overlap leave the topic with the last written (the other's counts lost) and the sink's
table with the first. ``docs/models.md`` has the measured loss.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime
from typing import Any

import faust

from models.online.prior import HourCounts
from schemas.learning import SEND_TIME_PRIOR, ModelCheckpoint, checkpoint_key
from schemas.settings import Settings
from schemas.topics import DEAD_LETTER_TOPIC, MODELS_CHECKPOINTS
from streams.core.decisions.result import Result
from streams.runtime import metrics
from streams.runtime.checkpoint_store import CheckpointStore, GlobalModel, Offer
from streams.runtime.definitions_feed import DefinitionsFeed
from streams.runtime.send_time_prior import SendTimePrior, served_counts

log = logging.getLogger(__name__)

#: Longest a rebalance or a shutdown waits for the checkpoints of the partitions it takes
#: away: the broker answers in milliseconds; past this it is down, and what they hold is
#: lost rather than the rebalance held up (its deadline is 95 % of the session timeout).
HAND_BACK_SECONDS = 5.0

#: Sends one checkpoint and waits for the broker's acknowledgement: (key, value).
Send = Callable[[bytes, bytes], Awaitable[Any]]
#: Waits until everything handed to the producer is acknowledged.
Flush = Callable[[], Awaitable[Any]]


class ModelCheckpoints:
    """This worker's global online models: followed, served and written.

    Attributes:
        store: The newest checkpoint per ``model/partition``, as read from the topic (and
            as written by this worker, at once).
        models: The global models this worker learns and checkpoints.
        hour_prior: The send-time prior served: each local hour's open rate, from every
            partition's newest checkpoint; empty before any send was checkpointed.
        ready: Set once the checkpoints written before the start were read, and the
            prior they add up to is served.
    """

    def __init__(  # noqa: PLR0913 - the feed's settings and the writer's four parts
        self,
        settings: Settings,
        models: Sequence[GlobalModel],
        *,
        lock: asyncio.Lock,
        clock: Callable[[], datetime],
        send: Send,
        flush: Flush,
    ) -> None:
        """Follow the topic of ``settings``; ``lock`` is the stage's, ``clock`` its clock.

        ``send`` writes one checkpoint (acknowledged), ``flush`` waits for the producer's
        outstanding records: the user records of the events being checkpointed.
        """
        self.models = tuple(models)
        self.store = CheckpointStore({model.name: model.check for model in self.models})
        self.feed = DefinitionsFeed(
            settings, MODELS_CHECKPOINTS, noun="model checkpoint", key_name="checkpoint",
            on_message=self.take,
        )  # fmt: skip
        self.ready = asyncio.Event()
        self.hour_prior: tuple[float, ...] = ()
        self.lock = lock
        self.clock = clock
        self._send = send
        self._flush = flush
        self._started: set[int] = set()
        metrics.SEND_TIME_PRIOR_SENDS.set(0)  # born at zero, as the others
        for model in self.models:
            metrics.MODEL_CHECKPOINTS_WRITTEN.labels(model.name)
            metrics.MODEL_CHECKPOINT_FAILURES.labels(model.name)
        for offer in Offer:
            if offer.refused:
                metrics.MODEL_CHECKPOINTS_REFUSED.labels(offer.value)

    async def run(self) -> None:
        """Follow the topic until cancelled; log what was restored once it is read."""
        started = time.perf_counter()
        follow = asyncio.create_task(self.feed.run())
        ready = asyncio.ensure_future(self.feed.ready.wait())
        try:
            await asyncio.wait({follow, ready}, return_when=asyncio.FIRST_COMPLETED)
            if not follow.done():
                # Served once for the whole backlog: rebuilding the sum at every message
                # read would cost messages x partitions (6.7 s for 64 partitions' day).
                served = self._serve()
                self.ready.set()
                self._restored(time.perf_counter() - started, served)
            await follow  # runs until cancelled; raises what the feed raised
        finally:
            ready.cancel()
            follow.cancel()
            await asyncio.gather(follow, ready, return_exceptions=True)

    def take(self, key: bytes | None, value: bytes | None) -> None:
        """Offer one message of the topic to the store; count and log a refused one."""
        offer = self.store.offer(key, value)
        if offer.refused:
            metrics.MODEL_CHECKPOINTS_REFUSED.labels(offer.value).inc()
            log.warning(
                "a model checkpoint was refused; the previous one stays",
                extra={"reason": offer.value, "key_bytes": len(key or b""),
                       "value_bytes": len(value or b"")},
            )  # fmt: skip
        elif offer in (Offer.KEPT, Offer.REMOVED) and self.ready.is_set():
            self._serve()

    def learn(self, partition: int, result: Result) -> None:
        """Teach every global model what one applied event (or timer evaluation) led to.

        The first result of a partition since this worker took it restores the models
        from the partition's newest checkpoint.
        """
        if partition not in self._started:
            self._started.add(partition)
            for model in self.models:
                model.restore(partition, self.store.latest(model.name, partition))
        for model in self.models:
            model.learn(partition, result)

    async def write(self, partitions: Collection[int] | None = None, *, why: str) -> int:
        """Checkpoint every model's partitions that learned something; return how many.

        Args:
            partitions: Only these input partitions (``None``: all).
            why: Said in the log: ``interval``, ``revoked``, ``shutdown``.
        """
        async with self.lock:
            return await self._write(partitions, why)

    async def hand_back(self, partitions: Collection[int], *, why: str) -> int:
        """Checkpoint ``partitions`` and forget them: they are no longer this worker's.

        Bounded by ``HAND_BACK_SECONDS``; what could not be written by then is lost (and
        logged), as a crash would lose it.
        """
        written = 0
        try:
            written = await asyncio.wait_for(self.write(partitions, why=why), HAND_BACK_SECONDS)
        except TimeoutError:
            log.warning(
                "model checkpoints not written in time; their learning is lost",
                extra={"partitions": sorted(partitions), "why": why},
            )  # fmt: skip
        for partition in partitions:
            self._started.discard(partition)
            for model in self.models:
                model.forget(partition)
        return written

    async def _write(self, partitions: Collection[int] | None, why: str) -> int:
        due = [
            (model, partition)
            for model in self.models
            for partition in sorted(model.changed())
            if partitions is None or partition in partitions
        ]
        if not due:
            return 0
        try:
            await self._flush()  # the records of every event counted here, first
        except Exception as error:  # noqa: BLE001 - the broker's trouble: retried next time
            log.warning("model checkpoints wait: the producer could not flush",
                        extra={"error": type(error).__name__, "why": why})  # fmt: skip
            return 0
        written = 0
        taken_at = self.clock()
        for model, partition in due:
            if not await self._write_one(model, partition, taken_at):
                break  # the broker is in trouble: the rest keep their counts for next time
            written += 1
        log.info("model checkpoints written", extra={"checkpoints": written, "why": why})
        return written

    async def _write_one(self, model: GlobalModel, partition: int, taken_at: datetime) -> bool:
        latest = self.store.latest(model.name, partition)
        state, events = model.state(partition, latest)
        checkpoint = ModelCheckpoint(
            model=model.name,
            partition=partition,
            sequence=(latest.sequence if latest is not None else 0) + 1,
            taken_at=taken_at,
            events=events,
            state=state,
        )
        key = checkpoint_key(model.name, partition).encode()
        value = checkpoint.model_dump_json().encode()
        try:
            await self._send(key, value)
        except Exception as error:  # noqa: BLE001 - never the worker's end: retried next time
            metrics.MODEL_CHECKPOINT_FAILURES.labels(model.name).inc()
            log.warning(
                "a model checkpoint could not be written; it is retried at the next",
                extra={"model": model.name, "partition": partition,
                       "error": type(error).__name__},
            )  # fmt: skip
            return False
        # Kept at once, not when the feed reads it back: the next write builds on it.
        self.take(key, value)
        model.written(partition)
        metrics.MODEL_CHECKPOINTS_WRITTEN.labels(model.name).inc()
        return True

    def _serve(self) -> HourCounts:
        """Rebuild the send-time prior served from the checkpoints held; return its counts."""
        counts = served_counts(self.store.of_model(SEND_TIME_PRIOR))
        self.hour_prior = counts.rates()  # held within [0, 1] (HourCounts.rates)
        metrics.SEND_TIME_PRIOR_SENDS.set(sum(counts.sends))
        return counts

    def _restored(self, seconds: float, prior: HourCounts) -> None:
        """Log what the checkpoints written before the start add up to, as served."""
        models = {}
        for name in self.store.models():
            checkpoints = self.store.of_model(name)
            models[name] = {
                "partitions": [c.partition for c in checkpoints],
                "events": sum(c.events for c in checkpoints),
            }
        log.info(
            "model checkpoints restored",
            extra={"seconds": round(seconds, 4), "models": models,
                   "prior_sends": sum(prior.sends), "prior_opens": sum(prior.opens)},
        )  # fmt: skip


def global_models() -> tuple[GlobalModel, ...]:
    """Return the global models a worker learns and checkpoints (``GLOBAL_MODELS``)."""
    return (SendTimePrior(),)


def register_checkpoints(app: faust.App, learning: ModelCheckpoints, settings: Settings) -> None:
    """Write ``learning``'s checkpoints on ``app``: on a timer, on revocation, at shutdown."""
    inputs = {spec.full_name(settings.topic_prefix) for spec in DEAD_LETTER_TOPIC}

    async def checkpoint_every() -> None:
        await learning.ready.wait()
        while True:
            await asyncio.sleep(settings.model_checkpoint_seconds)
            try:
                await learning.write(why="interval")
            except Exception:  # a bug must not stop the checkpoints for good
                log.exception("writing model checkpoints failed")

    async def revoked(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        given_up = args[0] if args else kwargs.get("revoked", ())
        partitions = {tp.partition for tp in given_up if tp.topic in inputs}
        if partitions:
            await learning.hand_back(partitions, why="revoked")

    async def shutdown(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        try:
            await asyncio.wait_for(learning.write(why="shutdown"), HAND_BACK_SECONDS)
        except TimeoutError:
            log.warning("model checkpoints not written at shutdown; their learning is lost")

    app.task(checkpoint_every)
    # mode's SignalHandlerT is generic over the sender; plain handlers match at run time.
    app.on_partitions_revoked.connect(revoked)  # type: ignore[arg-type]
    app.on_before_shutdown.connect(shutdown)  # type: ignore[arg-type]
