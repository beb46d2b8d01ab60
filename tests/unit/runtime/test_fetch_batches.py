"""Whole fetches to the ingest stage: the drain's hand-over and the ingest loop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from mode.utils.queues import FlowControlEvent, ThrowableQueue

from streams.runtime import fetch_batches
from streams.runtime.fetch_batches import (
    DRAIN_SOURCE_SHA256,
    Fetched,
    FetchFeed,
    FetchingConsumer,
    FetchingTransport,
    faust_drain_digest,
    ingest_loop,
    install,
)
from streams.runtime.stale_records import ReadOffsets

INPUT = "behavior.events"


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int

    @property
    def tp(self) -> tuple[str, int]:
        return (self.topic, self.partition)


def test_the_override_is_pinned_to_the_faust_drain_loop_installed() -> None:
    # Fails when Faust's Consumer._drain_messages changes: review FetchingConsumer, then
    # pin the new digest (streams.runtime.fetch_batches.DRAIN_SOURCE_SHA256).
    assert faust_drain_digest() == DRAIN_SOURCE_SHA256


def test_install_gives_the_app_the_fetching_consumer_and_refuses_a_late_call() -> None:
    app = faust.App("unit-fetch", autodiscover=False)
    feed = install(app, frozenset({INPUT}), 1000)
    assert isinstance(app.transport, FetchingTransport)
    assert app.transport.Consumer is FetchingConsumer
    assert app.transport.fetch_feed is feed
    assert feed.queue.maxsize == fetch_batches.AHEAD
    feed.queue.put_nowait(Fetched([Message(INPUT, 0, 0)], 0, {}))
    app.flow_control.resume()  # what Faust does after a rebalance's seeks
    assert feed.queue.qsize() == 1, "a batch fetched after the seeks must not be cleared"
    with pytest.raises(RuntimeError, match="before the app's transport"):
        install(app, frozenset({INPUT}), 1000)


@dataclass
class Drain:
    """What ``_take`` and ``_hand_over`` use of a Faust consumer."""

    read_offset: ReadOffsets = field(default_factory=ReadOffsets)
    generation: int = 1
    gaps: list[tuple[tuple[str, int], int, int]] = field(default_factory=list)
    called_back: list[Message] = field(default_factory=list)
    suspend_flow: asyncio.Event = field(default_factory=asyncio.Event)

    def consumer(self) -> Any:
        async def add_gap(tp: tuple[str, int], start: int, end: int) -> None:
            self.gaps.append((tp, start, end))

        async def callback(message: Message) -> None:
            self.called_back.append(message)

        async def wait_first(*coros: Any) -> None:
            done, pending = await asyncio.wait(
                [asyncio.ensure_future(c) for c in coros], return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()

        drain = self

        class App:
            topics = SimpleNamespace(acks_enabled_for=lambda _: True)

            @property
            def consumer_generation_id(self) -> int:
                return drain.generation

        consumer: Any = SimpleNamespace(
            _read_offset=self.read_offset,
            app=App(),
            _add_gap=add_gap,
            callback=callback,
            wait_first=wait_first,
            suspend_flow=self.suspend_flow,
            should_stop=False,
        )
        consumer._room = lambda feed: FetchingConsumer._room(consumer, feed)
        return consumer

    def fetched(self, messages: list[Message]) -> Fetched:
        """``messages`` as fetched now."""
        seeks = {m.tp: self.read_offset.seeks.get(m.tp, 0) for m in messages}
        return Fetched(messages, self.generation, seeks)

    def hand_over(
        self, messages: list[Message], feed: FetchFeed, consumer: Any = None
    ) -> asyncio.Task[None]:
        """Start the drain's hand-over of ``messages``, fetched now."""
        consumer = consumer or self.consumer()
        return asyncio.create_task(
            FetchingConsumer._hand_over(consumer, self.fetched(messages), feed)
        )


def feed_of(max_events: int, room: int) -> FetchFeed:
    """A feed of batches of up to ``max_events``, with room for ``room`` of them."""
    feed = FetchFeed(frozenset({INPUT}), max_events=max_events)
    feed.queue = asyncio.Queue(maxsize=room)
    return feed


def offsets(count: int) -> list[Message]:
    """Input messages at offsets 0 to ``count - 1`` of partition 0."""
    return [Message(INPUT, 0, offset) for offset in range(count)]


async def fetched(*messages: Message) -> Any:
    for message in messages:
        yield message.tp, message


async def test_a_fetch_keeps_input_messages_together_and_others_go_one_by_one() -> None:
    drain = Drain()
    consumer = drain.consumer()
    drain.read_offset[(INPUT, 0)] = 4
    drain.read_offset.bump([(INPUT, 0)] * 3)
    drain.read_offset.handed[(INPUT, 0)] = 3  # sought three times when it was fetched
    messages = [
        Message(INPUT, 0, 3),  # read before: dropped, as Faust's loop drops it
        Message(INPUT, 0, 4),
        Message("user_state-changelog", 1, 0),
        Message(INPUT, 0, 7),  # 5 and 6 are gone (compaction, transactions): a gap
        Message(INPUT, 2, 0),
    ]
    feed = FetchFeed(frozenset({INPUT}), max_events=1000)
    batch = await FetchingConsumer._take(consumer, fetched(*messages), feed)
    assert batch.messages == [messages[1], messages[3], messages[4]]
    assert batch.generation == drain.generation
    assert batch.seeks == {(INPUT, 0): 3, (INPUT, 2): 0}
    assert drain.called_back == [messages[2]]
    assert drain.gaps == [((INPUT, 0), 5, 7)]
    assert drain.read_offset[(INPUT, 0)] == 7 and drain.read_offset[(INPUT, 2)] == 0


async def test_a_large_fetch_is_handed_over_in_batches_as_the_queue_makes_room() -> None:
    drain, feed, batch = Drain(), feed_of(2, room=1), offsets(5)
    handing = drain.hand_over(batch, feed)
    taken: list[list[Message]] = []
    while len(taken) < 3:
        taken.append((await asyncio.wait_for(feed.queue.get(), 1)).messages)
    await asyncio.wait_for(handing, 1)
    assert taken == [batch[:2], batch[2:4], batch[4:]]
    assert feed.batches == 3 and feed.stale == 0


async def test_a_fetch_held_through_a_suspended_flow_is_handed_over_if_still_current() -> None:
    # The lost-October bug: after a rebalance Faust seeks the partitions, then resumes the
    # flow. A fetch from the new positions in between was given up (and the queue was
    # cleared on resume), while the client read on from past it: a hole, processed late.
    drain, feed, batch = Drain(), feed_of(10, room=2), offsets(3)
    drain.suspend_flow.set()
    handing = drain.hand_over(batch, feed)
    await asyncio.sleep(0.02)
    assert feed.queue.empty() and not handing.done()  # held, not given up
    drain.suspend_flow.clear()
    await asyncio.wait_for(handing, 1)
    assert feed.queue.get_nowait().messages == batch
    assert feed.stale == 0


@pytest.mark.parametrize("change", ["rebalance", "seek"])
async def test_a_fetch_that_will_be_read_again_is_dropped_by_the_drain(change: str) -> None:
    drain, feed, batch = Drain(), feed_of(2, room=1), offsets(5)
    handing = drain.hand_over(batch, feed)
    await asyncio.sleep(0.02)
    assert feed.queue.full() and not handing.done()  # waiting for room
    drain.suspend_flow.set()
    if change == "rebalance":
        drain.generation += 1
    else:
        drain.read_offset.bump([(INPUT, 0)])
    feed.queue.get_nowait()
    drain.suspend_flow.clear()
    await asyncio.wait_for(handing, 1)
    assert feed.queue.empty()  # the rest is fetched again from the committed offset
    assert feed.stale == 3 and feed.batches == 1


async def test_a_stopping_consumer_ends_a_waiting_drain() -> None:
    drain, feed = Drain(), feed_of(10, room=1)
    consumer = drain.consumer()
    drain.suspend_flow.set()
    handing = drain.hand_over(offsets(1), feed, consumer)
    await asyncio.sleep(0.02)
    consumer.should_stop = True
    await asyncio.wait_for(handing, 1)
    assert feed.queue.empty()


async def test_a_rebalance_clearing_queues_does_not_end_a_waiting_drain() -> None:
    # mode's ThrowableQueue.clear (a revocation's flow_control.clear) cancels waiting
    # putters: a drain awaiting put() died of it, and its worker with it.
    flow = FlowControlEvent()
    flow.resume()
    drain = Drain()
    consumer = drain.consumer()
    feed = FetchFeed(frozenset({INPUT}), max_events=1)
    feed.queue = ThrowableQueue(maxsize=1, flow_control=flow)
    batch = [Message(INPUT, 0, offset) for offset in range(3)]
    handing = asyncio.create_task(FetchingConsumer._hand_over(consumer, drain.fetched(batch), feed))
    await asyncio.sleep(0.02)
    assert feed.queue.full() and not handing.done()  # waiting for room
    drain.suspend_flow.set()  # what a revocation does, in this order
    flow.suspend()
    flow.clear()
    drain.generation += 1
    drain.suspend_flow.clear()
    feed.queue.get_nowait()
    await asyncio.wait_for(handing, 1)  # dropped the rest, without an error
    assert feed.queue.empty() and feed.batches == 1 and feed.stale == 2


@dataclass
class Consumer:
    tracked: list[Message] = field(default_factory=list)
    acked: list[Message] = field(default_factory=list)
    _read_offset: ReadOffsets = field(default_factory=ReadOffsets)
    app: Any = field(default_factory=lambda: SimpleNamespace(consumer_generation_id=1))

    def track_message(self, message: Message) -> None:
        self.tracked.append(message)

    def ack(self, message: Message) -> None:
        self.acked.append(message)


def loop_app(consumer: Consumer) -> Any:
    return SimpleNamespace(
        consumer=consumer,
        monitor=SimpleNamespace(stream_inbound_time={}),
        should_stop=False,
    )


async def test_the_ingest_loop_acknowledges_a_batch_only_once_it_is_processed() -> None:
    consumer = Consumer()
    app = loop_app(consumer)
    feed = FetchFeed(frozenset({INPUT}), max_events=10)
    feed.queue = asyncio.Queue()
    ready, release = asyncio.Event(), asyncio.Event()
    done: list[bool] = []
    processed: list[list[Message]] = []

    async def run_batch(batch: list[Message]) -> None:
        assert consumer.tracked[-len(batch) :] == batch  # tracked before: revocation waits
        assert not set(batch) & set(consumer.acked)
        await release.wait()
        processed.append(batch)

    loop = ingest_loop(app, feed, run_batch, ready, lambda: done.append(True))
    task = asyncio.ensure_future(loop())
    first = [Message(INPUT, 0, 0), Message(INPUT, 1, 0)]
    await feed.queue.put(Fetched(first, 1, {}))
    await asyncio.sleep(0.01)
    assert consumer.tracked == []  # the definitions are not loaded yet
    ready.set()
    await asyncio.sleep(0.01)
    assert consumer.tracked == first and consumer.acked == []
    release.set()
    await asyncio.sleep(0.01)
    assert processed == [first] and consumer.acked == first and done == [True]
    assert set(app.monitor.stream_inbound_time) == {(INPUT, 0), (INPUT, 1)}
    task.cancel()


async def test_a_batch_that_fails_is_never_acknowledged_and_ends_the_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stops: list[str] = []

    def fail_stop(what: str, error: BaseException | None = None, **_: Any) -> None:
        stops.append(what)
        raise SystemExit(70)

    monkeypatch.setattr(fetch_batches, "fail_stop", fail_stop)
    consumer = Consumer()
    feed = FetchFeed(frozenset({INPUT}), max_events=10)
    feed.queue = asyncio.Queue()
    ready = asyncio.Event()
    ready.set()

    async def run_batch(batch: list[Message]) -> None:
        msg = "broker gone"
        raise ConnectionError(msg)

    await feed.queue.put(Fetched([Message(INPUT, 0, 0)], 1, {}))
    with pytest.raises(SystemExit):
        await ingest_loop(loop_app(consumer), feed, run_batch, ready, lambda: None)()
    assert stops == ["the ingest loop could not finish a batch"]
    assert consumer.tracked and consumer.acked == []


async def test_an_ingest_loop_that_breaks_outside_a_batch_ends_the_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stops: list[str] = []

    def fail_stop(what: str, error: BaseException | None = None, **_: Any) -> None:
        stops.append(what)

    monkeypatch.setattr(fetch_batches, "fail_stop", fail_stop)

    class Broken:
        async def get(self) -> list[Message]:
            msg = "queue broke"
            raise RuntimeError(msg)

    feed = FetchFeed(frozenset({INPUT}), max_events=10)
    feed.queue = Broken()
    ready = asyncio.Event()
    ready.set()

    async def run_batch(batch: list[Message]) -> None:
        raise AssertionError

    await ingest_loop(loop_app(Consumer()), feed, run_batch, ready, lambda: None)()
    assert stops == ["the ingest loop stopped"]  # never a live process that reads nothing


async def test_the_ingest_loop_drops_a_batch_from_before_a_rebalance_or_a_seek() -> None:
    consumer = Consumer()
    app = loop_app(consumer)
    feed = FetchFeed(frozenset({INPUT}), max_events=10)
    feed.queue = asyncio.Queue()
    ready = asyncio.Event()
    ready.set()
    processed: list[list[Message]] = []

    async def run_batch(batch: list[Message]) -> None:
        processed.append(batch)

    old = Fetched([Message(INPUT, 0, 0)], 1, {(INPUT, 0): 0})
    sought = Fetched([Message(INPUT, 1, 0)], 2, {(INPUT, 1): 0})
    current = Fetched([Message(INPUT, 1, 5)], 2, {(INPUT, 1): 2})
    for fetched in (old, sought, current):
        feed.queue.put_nowait(fetched)
    consumer.app.consumer_generation_id = 2  # a rebalance since ``old``
    consumer._read_offset.bump([(INPUT, 1), (INPUT, 1)])  # a seek since ``sought``
    task = asyncio.ensure_future(ingest_loop(app, feed, run_batch, ready, lambda: None)())
    await asyncio.sleep(0.02)
    assert processed == [current.messages]
    assert consumer.tracked == current.messages == consumer.acked
    assert feed.stale == 2
    task.cancel()


async def test_a_seek_of_one_partition_drops_none_of_another_s_messages_in_the_same_fetch() -> None:
    # A fetch of partitions 2 and 3 goes out in batches; partition 2 is sought before
    # the last ones. Dropping them whole would drop partition 3's messages too, which
    # nothing reads again (its client position is past them): a hole, applied only
    # after the next rebalance, out of order.
    drain, feed = Drain(), feed_of(2, room=1)
    two, three = (INPUT, 2), (INPUT, 3)
    batch = [Message(INPUT, 2, 0), Message(INPUT, 3, 0), Message(INPUT, 2, 1)]
    batch += [Message(INPUT, 3, 1), Message(INPUT, 3, 2)]
    handing = drain.hand_over(batch, feed)
    first = (await asyncio.wait_for(feed.queue.get(), 1)).messages
    drain.read_offset.bump([two])  # partition 2 sought: read again from the sought position
    rest = [await asyncio.wait_for(feed.queue.get(), 1) for _ in range(2)]
    await asyncio.wait_for(handing, 1)
    assert first == batch[:2]
    assert [part.messages for part in rest] == [[batch[3]], [batch[4]]]
    assert all(set(part.seeks) == {three} for part in rest)
    assert feed.stale == 1  # partition 2's second message only


async def test_the_ingest_loop_processes_the_current_partitions_of_a_partly_stale_batch() -> None:
    consumer = Consumer()
    feed = FetchFeed(frozenset({INPUT}), max_events=10)
    feed.queue = asyncio.Queue()
    ready = asyncio.Event()
    ready.set()
    processed: list[list[Message]] = []

    async def run_batch(batch: list[Message]) -> None:
        processed.append(batch)

    mixed = [Message(INPUT, 0, 7), Message(INPUT, 1, 4), Message(INPUT, 0, 8)]
    feed.queue.put_nowait(Fetched(mixed, 1, {(INPUT, 0): 0, (INPUT, 1): 0}))
    consumer._read_offset.bump([(INPUT, 1)])  # partition 1 sought since
    loop = ingest_loop(loop_app(consumer), feed, run_batch, ready, lambda: None)
    task = asyncio.ensure_future(loop())
    await asyncio.sleep(0.02)
    assert processed == [[mixed[0], mixed[2]]]
    assert consumer.acked == [mixed[0], mixed[2]]
    assert feed.stale == 1
    task.cancel()
