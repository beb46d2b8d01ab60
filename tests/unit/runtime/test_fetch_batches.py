"""Whole fetches to the ingest stage: the drain's hand-over and the ingest loop."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from mode.utils.queues import FlowControlEvent, ThrowableQueue

from streams.runtime import fetch_batches
from streams.runtime.fetch_batches import (
    DRAIN_SOURCE_SHA256,
    FetchFeed,
    FetchingConsumer,
    FetchingTransport,
    faust_drain_digest,
    ingest_loop,
    install,
)

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
    with pytest.raises(RuntimeError, match="before the app's transport"):
        install(app, frozenset({INPUT}), 1000)


@dataclass
class Drain:
    """What ``_take`` and ``_hand_over`` use of a Faust consumer."""

    read_offset: dict[tuple[str, int], int | None] = field(
        default_factory=lambda: defaultdict(lambda: None)
    )
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

        return SimpleNamespace(
            _read_offset=self.read_offset,
            app=SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda _: True)),
            _add_gap=add_gap,
            callback=callback,
            wait_first=wait_first,
            suspend_flow=self.suspend_flow,
        )


async def fetched(*messages: Message) -> Any:
    for message in messages:
        yield message.tp, message


async def test_a_fetch_keeps_input_messages_together_and_others_go_one_by_one() -> None:
    drain = Drain()
    consumer = drain.consumer()
    drain.read_offset[(INPUT, 0)] = 4
    messages = [
        Message(INPUT, 0, 3),  # read before: dropped, as Faust's loop drops it
        Message(INPUT, 0, 4),
        Message("user_state-changelog", 1, 0),
        Message(INPUT, 0, 7),  # 5 and 6 are gone (compaction, transactions): a gap
        Message(INPUT, 2, 0),
    ]
    feed = FetchFeed(frozenset({INPUT}), max_events=1000)
    batch = await FetchingConsumer._take(consumer, fetched(*messages), feed)
    assert batch == [messages[1], messages[3], messages[4]]
    assert drain.called_back == [messages[2]]
    assert drain.gaps == [((INPUT, 0), 5, 7)]
    assert drain.read_offset[(INPUT, 0)] == 7 and drain.read_offset[(INPUT, 2)] == 0


async def test_a_large_fetch_is_handed_over_in_batches_and_a_suspended_flow_stops_it() -> None:
    drain = Drain()
    consumer = drain.consumer()
    feed = FetchFeed(frozenset({INPUT}), max_events=2)
    feed.queue = asyncio.Queue(maxsize=1)
    batch = [Message(INPUT, 0, offset) for offset in range(5)]
    handing = asyncio.create_task(FetchingConsumer._hand_over(consumer, batch, feed))
    await asyncio.sleep(0.01)
    assert await feed.queue.get() == batch[:2]
    await asyncio.sleep(0.01)
    drain.suspend_flow.set()  # a rebalance: the drain must not wait on a full queue
    await asyncio.wait_for(handing, 1)
    assert feed.queue.get_nowait() == batch[2:4]
    assert feed.queue.empty()  # the rest is read again after the rebalance
    assert feed.batches == 2


async def test_a_rebalance_clearing_the_queue_does_not_end_a_waiting_drain() -> None:
    # mode's ThrowableQueue.clear (a revocation's flow_control.clear) cancels waiting
    # putters: a drain awaiting put() died of it, and its worker with it.
    flow = FlowControlEvent()
    flow.resume()
    drain = Drain()
    consumer = drain.consumer()
    feed = FetchFeed(frozenset({INPUT}), max_events=1)
    feed.queue = ThrowableQueue(maxsize=1, flow_control=flow, clear_on_resume=True)
    batch = [Message(INPUT, 0, offset) for offset in range(3)]
    handing = asyncio.create_task(FetchingConsumer._hand_over(consumer, batch, feed))
    await asyncio.sleep(0.02)
    assert feed.queue.full() and not handing.done()  # waiting for room
    drain.suspend_flow.set()  # what a revocation does, in this order
    flow.suspend()
    flow.clear()
    await asyncio.wait_for(handing, 1)  # gave up the rest, without an error
    assert feed.queue.empty() and feed.batches == 1


@dataclass
class Consumer:
    tracked: list[Message] = field(default_factory=list)
    acked: list[Message] = field(default_factory=list)

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
    await feed.queue.put(first)
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

    await feed.queue.put([Message(INPUT, 0, 0)])
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
