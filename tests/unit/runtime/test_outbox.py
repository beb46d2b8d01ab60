"""The outboxes: what reaches the producer, in which order, and what a refusal does."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from streams.runtime import outbox as outbox_module
from streams.runtime.outbox import BufferedOutbox, DirectOutbox


@dataclass
class Producer:
    """Faust's ``ProducerT.send``: returns a future the broker's answer settles."""

    sent: list[tuple[str, bytes | None, bytes, int | None]] = field(default_factory=list)
    futures: list[asyncio.Future[Any]] = field(default_factory=list)

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
    ) -> asyncio.Future[Any]:
        self.sent.append((topic, key, value, partition))
        self.futures.append(asyncio.get_running_loop().create_future())
        return self.futures[-1]


@dataclass
class Topic:
    name: str
    named: int = 0

    def get_topic_name(self) -> str:
        self.named += 1
        return self.name


@dataclass
class Table:
    changelog_topic: Topic = field(default_factory=lambda: Topic("user_state-changelog"))


def direct(producer: Producer) -> DirectOutbox:
    async def started() -> Producer:
        return producer

    return DirectOutbox(started)


async def test_nothing_reaches_the_producer_before_it_is_handed_over_then_all_in_order() -> None:
    producer, commands, table = Producer(), Topic("comms.commands"), Table()
    box = direct(producer)
    box.send(commands, b"ada", b"c1")
    box.send_changelog(table, 3, b"ada", b"state")
    box.send(commands, None, b"c2")
    assert producer.sent == []
    await box.hand_over()
    assert producer.sent == [
        ("comms.commands", b"ada", b"c1", None),  # partitioned by key, as Faust would
        ("user_state-changelog", b"ada", b"state", 3),
        ("comms.commands", None, b"c2", None),
    ]
    await box.hand_over()  # nothing twice
    assert len(producer.sent) == 3
    assert commands.named == 1  # a topic's name is asked once


async def test_deliver_returns_once_the_broker_acknowledged_everything() -> None:
    producer, commands = Producer(), Topic("comms.commands")
    box = direct(producer)
    box.send(commands, b"ada", b"c1")
    box.send(commands, b"bob", b"c2")
    delivering = asyncio.create_task(box.deliver())
    await asyncio.sleep(0.01)
    producer.futures[0].set_result("ack")
    await asyncio.sleep(0.01)
    assert not delivering.done()  # one still unacknowledged
    producer.futures[1].set_result("ack")
    await asyncio.wait_for(delivering, 1)


async def test_a_refused_message_fails_deliver_and_ends_the_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stopped: list[str] = []
    monkeypatch.setattr(outbox_module, "fail_stop", lambda what, error: stopped.append(what))
    producer, commands, table = Producer(), Topic("comms.commands"), Table()
    box = direct(producer)
    box.send(commands, b"ada", b"c1")
    delivering = asyncio.create_task(box.deliver())
    await asyncio.sleep(0.01)
    producer.futures[0].set_exception(RuntimeError("broker gone"))
    with pytest.raises(RuntimeError, match="broker gone"):
        await delivering
    assert stopped == ["the producer could not deliver a record"]
    # A changelog record nobody awaits ends the process too: its offset must not commit.
    told: list[Any] = []
    box.send_changelog(table, 0, b"ada", b"state", on_done=told.append)
    await box.hand_over()
    producer.futures[1].set_exception(RuntimeError("broker gone"))
    await asyncio.sleep(0)
    assert len(stopped) == 2
    assert told == [producer.futures[1]]  # and the table hears of it


async def test_the_buffered_outbox_is_fausts_send_soon_and_flush() -> None:
    sent: list[tuple[bytes | None, bytes]] = []
    changelog: list[tuple[int, bytes, bytes]] = []
    flushed: list[bool] = []

    class SoonTopic:
        def send_soon(self, *, key: bytes | None, value: bytes) -> None:
            sent.append((key, value))

    class SoonTable:
        def send_changelog(self, partition: int, key: bytes, value: bytes) -> None:
            changelog.append((partition, key, value))

    async def flush() -> None:
        flushed.append(True)

    box = BufferedOutbox(flush)
    box.send(SoonTopic(), b"ada", b"c1")
    box.send_changelog(SoonTable(), 2, b"ada", b"state")
    assert sent == [(b"ada", b"c1")] and changelog == [(2, b"ada", b"state")]
    await box.hand_over()
    assert flushed == []
    await box.deliver()
    assert flushed == [True]
