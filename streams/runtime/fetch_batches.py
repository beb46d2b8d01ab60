"""Whole fetches to the ingest stage, past Faust's per-message delivery.

Faust hands every fetched message over one at a time: its consumer's drain loop runs
``wait_first(callback(message), suspend_flow.wait())`` (two tasks and an
``asyncio.wait`` per message), the conductor puts the message on each subscribed
channel's queue, and the agent's stream takes it off again to build a batch. The ingest
stage wants batches; the fetch already is one.

This module gives Faust a consumer whose drain loop keeps the messages of the input
topics of one fetch together and puts them, as one batch, on a queue the ingest loop
reads (``FetchFeed``). Messages of every other topic (the state changelog while it is
recovered) still go through Faust's callback, message by message, as before. Faust
keeps everything else: rebalancing, table recovery, seeking, offsets and commits.

What keeps at-least-once exact, with Faust's own mechanisms:

- Each batch carries when it was fetched: the consumer's generation and each partition's
  seek count (``streams.runtime.stale_records`` counts the seeks). A partition's
  messages are *current* while neither has changed. A rebalance changes the generation,
  and on assignment Faust seeks every partition back to its committed offset; a seek of
  one partition makes the client read it again from the sought position. Either way
  what is no longer current is read again: it is dropped, by the drain or by the ingest
  loop, whichever sees it first. Current messages are never dropped, not even in a
  batch with another partition's stale ones: the client has already moved past them,
  and nothing would read them again (a batch given up for a seek of another partition
  of its fetch would leave a hole in the one not sought). So the queue is not cleared
  on a rebalance (Faust's ``clear_on_resume``): Faust resumes the flow, and clears such
  queues, *after* it has sought the partitions, and a batch fetched from the new
  positions in between would be lost, while later ones are processed. (That happened:
  three users' October pay skipped, applied late after the next rebalance, and their
  income drop never told; the commit stayed behind the hole, so nothing showed as lag.)
- While the flow is suspended (a rebalance) the drain holds the fetch it is handing
  over, and after the flow resumes hands over only what is still current.
- The ingest loop tracks a batch's messages (``Consumer.track_message``) when it takes
  the batch and acknowledges them (``Consumer.ack``) only once the batch is processed and
  handed to the producer. Faust's revocation waits for tracked messages to be acked
  (``wait_empty``) before it commits and lets the partitions go, and its commit flushes
  the producer first. A batch that fails is never acknowledged: the process ends
  (``fail_stop``) and the batch is read again.
- Read offsets, gaps and the stale-record fix (``streams.runtime.stale_records``) work
  as in Faust's loop: the same ``getmany`` and read-offset mapping are used.

The drain loop is the one method overridden; ``DRAIN_SOURCE_SHA256`` pins the Faust code it
was written against, and a unit test fails when Faust's changes, so the override is
reviewed on every upgrade. The same idea is offered upstream (see docs/benchmark.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import faust
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.runtime.failstop import fail_stop
from streams.runtime.stale_records import offsets_of

log = logging.getLogger(__name__)

#: SHA-256 of the source of Faust's ``Consumer._drain_messages`` that
#: ``FetchingConsumer._drain_messages`` replaces (faust-streaming 0.15).
DRAIN_SOURCE_SHA256 = "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"
#: Batches fetched ahead of the one being processed (each up to ``max_events``).
AHEAD = 2
#: How often a drain with a full queue looks for room (a batch takes ~100 ms at most).
ROOM_POLL_SECONDS = 0.002


def faust_drain_digest() -> str:
    """Return the SHA-256 of the source of Faust's drain loop, as installed."""
    source = inspect.getsource(faust_consumer.Consumer._drain_messages)
    return hashlib.sha256(source.encode()).hexdigest()


@dataclass(slots=True)
class FetchFeed:
    """The batches the drain loop fetched for the input topics, in fetch order.

    Attributes:
        topics: Names of the input topics whose messages are batched.
        max_events: Largest batch put on the queue (a fetch may hold more).
    """

    topics: frozenset[str]
    max_events: int
    queue: Any = None
    """Faust's ``FlowControlQueue`` of :class:`Fetched` (``app.FlowControlQueue``)."""
    batches: int = field(default=0)
    stale: int = field(default=0)
    """Messages dropped because a rebalance or a seek will read them again."""


@dataclass(slots=True)
class Fetched:
    """Input messages of one fetch, and when they were fetched (see :func:`is_current`).

    Attributes:
        messages: In fetch order.
        generation: The consumer group's generation they were fetched in.
        seeks: Partition -> how many times it had been sought when they were fetched.
    """

    messages: list[Any]
    generation: int
    seeks: dict[Any, int]


def is_current(consumer: Any, fetched: Fetched) -> bool:
    """Return True unless ``fetched`` will be read again: a rebalance or a seek since.

    After a rebalance Faust seeks every assigned partition to its committed offset, and a
    seek makes the client fetch from its new position: either way what was fetched before
    is fetched again, and must not be processed twice over. Anything else is current, and
    must be processed: nothing else would read it again.
    """
    if consumer.app.consumer_generation_id != fetched.generation:
        return False
    seeks = offsets_of(consumer).seeks
    return all(seeks.get(tp, 0) == count for tp, count in fetched.seeks.items())


def still_current(consumer: Any, fetched: Fetched) -> Fetched:
    """Return what of ``fetched`` is current (see :func:`is_current`), per partition.

    Nothing after a rebalance; otherwise the messages of every partition not sought since
    they were fetched. A seek of one partition says nothing of the others: their messages
    are read again by no one if they are dropped.
    """
    if is_current(consumer, fetched):
        return fetched
    if consumer.app.consumer_generation_id != fetched.generation:
        return Fetched([], fetched.generation, {})
    seeks = offsets_of(consumer).seeks
    kept = {tp: n for tp, n in fetched.seeks.items() if seeks.get(tp, 0) == n}
    messages = [message for message in fetched.messages if message.tp in kept]
    return Fetched(messages, fetched.generation, kept)


class FetchingConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer whose drain loop batches the input topics' messages."""

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - in workers
        """Fetch, and hand over each fetch: input messages as batches, others one by one.

        What Faust's loop does per message (read offsets, gaps, the suspend-flow race) it
        does here too; only the hand-over of the input topics differs.
        """
        feed: FetchFeed = cast(FetchingTransport, self.transport).fetch_feed
        stopped = cast(Any, self)._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (stopped() or fetcher_stopped()):
                self.diag.set_flag(faust_consumer.CONSUMER_FETCHING)
                messages = self.getmany(timeout=1.0)
                await self.sleep(0)  # getmany may not yield to the loop
                if not self.should_stop:
                    batch = await self._take(messages, feed)
                    await self._hand_over(batch, feed)
                self.diag.unset_flag(faust_consumer.CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                log.info("broker stopped the consumer while stopping")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        finally:
            self.diag.unset_flag(faust_consumer.CONSUMER_FETCHING)

    async def _take(self, messages: Any, feed: FetchFeed) -> Fetched:
        """Read one fetch: return its input messages, give the others to Faust's callback."""
        read_offset = offsets_of(self)
        handed = read_offset.handed  # partition -> its seek count when fetched
        acks_enabled_for = self.app.topics.acks_enabled_for
        batch: list[Any] = []
        fetched = Fetched(batch, self.app.consumer_generation_id, {})
        seeks = fetched.seeks
        async for tp, message in messages:
            offset = message.offset
            last = read_offset[tp]
            if last is not None and offset < last:
                continue  # read before (Faust's "DROPPED MESSAGE")
            if last and offset - last > 1 and acks_enabled_for(message.topic):
                await self._add_gap(tp, last + 1, offset)
            if message.topic in feed.topics:
                batch.append(message)
                if tp not in seeks:
                    seeks[tp] = handed.get(tp, 0)
            else:
                await self.wait_first(self.callback(message), self.suspend_flow.wait())
            read_offset[tp] = offset
        return fetched

    async def _hand_over(self, fetched: Fetched, feed: FetchFeed) -> None:
        """Put a fetch's input messages on the feed, in batches, while they are current.

        Waits while the flow is suspended (a rebalance) or the queue is full, looking
        every ``ROOM_POLL_SECONDS``: never with ``put``, whose waiting putters a cleared
        ``ThrowableQueue`` cancels. Then hands over what of the next batch is still
        current (:func:`still_current`); the rest is read again, and is dropped here.
        """
        messages, size = fetched.messages, feed.max_events
        for start in range(0, len(messages), size):
            if not await self._room(feed):
                return  # stopping: nothing of it was acknowledged
            if self.app.consumer_generation_id != fetched.generation:
                feed.stale += len(messages) - start
                return  # a rebalance: all of it is read again from the committed offsets
            chunk = messages[start : start + size]
            seeks = {message.tp: fetched.seeks[message.tp] for message in chunk}
            part = still_current(self, Fetched(chunk, fetched.generation, seeks))
            feed.stale += len(chunk) - len(part.messages)
            if part.messages:
                feed.queue.put_nowait(part)
                feed.batches += 1

    async def _room(self, feed: FetchFeed) -> bool:
        """Wait until the flow runs and the queue has room; return False when stopping."""
        suspended = self.suspend_flow.is_set
        while suspended() or feed.queue.full():
            if self.should_stop:
                return False
            await asyncio.sleep(ROOM_POLL_SECONDS)
        return True


class FetchingTransport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with :class:`FetchingConsumer` and the feed it fills."""

    Consumer = FetchingConsumer
    fetch_feed: FetchFeed


def install(app: faust.App, topics: frozenset[str], max_events: int) -> FetchFeed:
    """Make ``app`` consume with :class:`FetchingConsumer`; return the feed it fills.

    Call right after creating the app, before anything asks for its transport.

    Raises:
        RuntimeError: Faust's drain loop is not the one the override was written for, or
            the app already has its transport.
    """
    if cast(Any, app)._transport is not None:
        msg = "install() must run before the app's transport is created"
        raise RuntimeError(msg)
    digest = faust_drain_digest()
    if digest != DRAIN_SOURCE_SHA256:
        msg = (
            "Faust's Consumer._drain_messages changed (sha256 "
            f"{digest}); review streams.runtime.fetch_batches before using it"
        )
        raise RuntimeError(msg)
    feed = FetchFeed(topics, max_events)
    # Not cleared on resume: a batch fetched after the seeks of a rebalance may already
    # be in it (see the module docstring); the stale ones are dropped as they come out.
    feed.queue = app.FlowControlQueue(maxsize=AHEAD)
    transport = FetchingTransport(app.conf.broker_consumer, app)
    transport.fetch_feed = feed
    app.transport = transport
    return feed


def ingest_loop(
    app: faust.App,
    feed: FetchFeed,
    run_batch: Callable[[list[Any]], Awaitable[None]],
    ready: asyncio.Event,
    on_done: Callable[[], None],
) -> Callable[[], Awaitable[None]]:
    """Return the task that processes the feed's batches, acknowledging each when done."""
    return _IngestLoop(app, feed, run_batch, ready, on_done)


@dataclass(slots=True)
class _IngestLoop:
    """The ingest loop (see ``ingest_loop``): it is the worker, so it never ends quietly."""

    app: Any
    feed: FetchFeed
    run_batch: Callable[[list[Any]], Awaitable[None]]
    ready: asyncio.Event
    on_done: Callable[[], None]

    async def __call__(self) -> None:
        try:
            while True:
                await self._next_batch()
        except Exception as error:  # noqa: BLE001 - whatever it is, the worker must end
            fail_stop("the ingest loop stopped", error)

    async def _next_batch(self) -> None:
        if not self.ready.is_set():
            await self.ready.wait()  # a paused trigger must not fire while they load
        fetched = await self.feed.queue.get()
        consumer = self.app.consumer
        current = still_current(consumer, fetched)
        self.feed.stale += len(fetched.messages) - len(current.messages)
        if not current.messages:
            return  # fetched before a rebalance or a seek: read again from where it put us
        batch = current.messages
        for message in batch:
            consumer.track_message(message)  # revocation waits for its ack
        try:
            await self.run_batch(batch)
        except asyncio.CancelledError:
            if self.app.should_stop:
                raise  # stopping: acked offsets commit, this batch is read again
            fail_stop("the ingest loop was cancelled mid-batch", events=len(batch))
        except BaseException as error:
            fail_stop("the ingest loop could not finish a batch", error, events=len(batch))
        for message in batch:
            consumer.ack(message)
        now = time.monotonic()
        inbound = self.app.monitor.stream_inbound_time
        for tp in {message.tp for message in batch}:
            inbound[tp] = now  # what Faust's slow-stream warnings look at
        self.on_done()
