"""The Faust fix: records fetched before a seek of their partition neither arrive nor count.

A stand-in consumer hands over a fetched batch one record at a time and, like Faust's
``_drain_messages``, sets the read offset after each record's callback; the seek can land
during a callback, as table recovery's does, or during a fetch.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from streams.runtime import stale_records


@dataclass(frozen=True)
class Record:
    offset: int


class Consumer:
    def __init__(self, fetches: list[list[tuple[str, int]]], committed: int) -> None:
        self.fetches = fetches
        self.committed = committed
        self.sought: list[tuple[str, int]] = []
        self.during_fetch: Callable[[Consumer], Awaitable[None]] | None = None
        self._read_offset: dict[str, int | None] = defaultdict(lambda: None)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[str, Record]]:
        if self.during_fetch is not None:
            during, self.during_fetch = self.during_fetch, None
            await during(self)
        for tp, offset in self.fetches.pop(0):
            await asyncio.sleep(0)
            yield tp, Record(offset)

    async def seek(self, partition: str, offset: int) -> None:
        self.sought.append((partition, offset))
        self._read_offset[partition] = offset

    async def perform_seek(self) -> None:
        await asyncio.sleep(0)
        self.sought.append(("all", self.committed))
        self._read_offset.update(dict.fromkeys(self.assignment(), self.committed))

    def assignment(self) -> set[str]:
        return {"p0", "p1"}


class Fixed(Consumer):
    pass


stale_records.install(Fixed)

Seek = Callable[[Consumer], Awaitable[None]]


async def drain(consumer: Any, seek_during: int | None = None, seek: Seek | None = None):
    """Deliver records as Faust does; seek while record number ``seek_during`` is handed."""
    delivered = []
    async for tp, record in consumer.getmany(timeout=1.0):
        read = consumer._read_offset[tp]
        if read is not None and record.offset < read:
            continue  # Faust: "DROPPED MESSAGE ROFF"
        delivered.append((tp, record.offset))
        if len(delivered) == seek_during and seek is not None:
            await seek(consumer)  # the callback is slow: recovery seeks meanwhile
        consumer._read_offset[tp] = record.offset
    return delivered


STALE = [("p0", 812), ("p1", 500), ("p0", 1094), ("p1", 501), ("p0", 1095)]


@pytest.mark.parametrize("seek", [lambda c: c.perform_seek(), lambda c: c.seek("p0", 811)])
def test_records_from_before_a_seek_neither_arrive_nor_move_the_read_offset(seek: Seek) -> None:
    consumer = Fixed([STALE, [("p0", 811), ("p0", 812)]], committed=811)
    seen = asyncio.run(drain(consumer, 1, seek))
    assert seen[0] == ("p0", 812)
    assert ("p0", 1094) not in seen  # it would have looked like a gap after 811
    assert consumer._read_offset["p0"] == 811  # not 812: that record is read again
    assert consumer.sought[-1] == ("p0", 811)  # and fetched again from there
    assert asyncio.run(drain(consumer)) == [("p0", 811), ("p0", 812)]


def test_without_the_fix_the_seek_is_undone_and_records_are_dropped() -> None:
    consumer = Consumer([STALE, [("p0", 811), ("p0", 812)]], committed=811)
    seen = asyncio.run(drain(consumer, 1, lambda c: c.perform_seek()))
    assert ("p0", 1094) in seen
    assert asyncio.run(drain(consumer)) == []  # both dropped as already read


def test_records_fetched_while_recovery_seeks_are_fetched_again_from_the_sought_position() -> None:
    consumer = Fixed([[("p0", 811), ("p0", 812), ("p1", 40)], [("p0", 811)]], committed=811)

    async def seek_while_fetching(c: Consumer) -> None:
        c.during_fetch = None
        task = asyncio.create_task(c.perform_seek())
        await asyncio.sleep(0)  # the fetch returns while the seek is still in progress
        await asyncio.sleep(0)
        await task

    async def run() -> list[Any]:
        offsets = stale_records.offsets_of(consumer)
        offsets.seeking.add("p0")  # as perform_seek sets at its start
        batch = await drain(consumer)
        offsets.seeking.discard("p0")
        return batch

    assert asyncio.run(run()) == [("p1", 40)]
    assert stale_records.offsets_of(consumer).dropped == {"p0": 811}
    consumer.fetches.insert(0, [])
    asyncio.run(consumer.perform_seek())
    assert consumer.sought[-1] == ("p0", 811)  # put back where the seek meant it to be


def test_records_of_partitions_not_sought_go_on_undisturbed() -> None:
    consumer = Fixed([STALE], committed=0)
    seen = asyncio.run(drain(consumer, 1, lambda c: c.seek("p0", 811)))
    assert [r for r in seen if r[0] == "p1"] == [("p1", 500), ("p1", 501)]
    assert consumer._read_offset["p1"] == 501


def test_installing_twice_wraps_once_and_a_consumer_without_the_methods_is_refused() -> None:
    wrapped = Fixed.getmany
    stale_records.install(Fixed)
    assert Fixed.getmany is wrapped

    class Bare:
        async def getmany(self, timeout: float) -> AsyncIterator[Any]:
            yield None

    with pytest.raises(RuntimeError, match="lacks __init__|lacks seek"):
        stale_records.install(Bare)


def test_faust_s_own_consumer_is_the_one_fixed() -> None:
    from faust.transport.consumer import Consumer as FaustConsumer

    stale_records.install()
    assert getattr(FaustConsumer, "_nudge_stale_records_dropped", False)
    # Its methods are the fix's wrappers around Faust's own, and a second install is a no-op.
    for name in ("__init__", "getmany", "seek", "perform_seek"):
        assert hasattr(getattr(FaustConsumer, name), "__wrapped__"), name
    wrapped = FaustConsumer.getmany
    stale_records.install()
    assert FaustConsumer.getmany is wrapped


class Client:
    """A consumer whose client fetches from a position per partition, as aiokafka's does.

    Each fetch returns the next ``FETCH`` records of every partition and moves the
    position past them; a seek moves it. ``while_seeking`` runs while the client seeks
    (the drain fetches meanwhile, as it does while table recovery seeks).
    """

    FETCH = 3

    def __init__(self, committed: dict[str, int]) -> None:
        self.committed = committed
        self.position = dict(committed)
        self.while_seeking: list[Callable[[], Awaitable[None]]] = []
        self._read_offset: dict[str, int | None] = defaultdict(lambda: None)

    def assignment(self) -> set[str]:
        return set(self.committed)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[str, Record]]:
        fetch = [
            (tp, Record(offset))
            for tp, at in sorted(self.position.items())
            for offset in range(at, at + self.FETCH)
        ]
        for tp in self.position:
            self.position[tp] += self.FETCH
        for tp, record in fetch:
            await asyncio.sleep(0)
            yield tp, record

    async def _seeking(self) -> None:
        if self.while_seeking:
            await self.while_seeking.pop(0)()

    async def seek_wait(self, partitions: dict[str, int]) -> None:
        self.position.update(partitions)
        await self._seeking()

    async def seek(self, partition: str, offset: int) -> None:
        self.position[partition] = offset
        self._read_offset[partition] = offset

    async def perform_seek(self) -> None:
        self.position.update(self.committed)
        await self._seeking()
        self._read_offset.update(self.committed)


class FixedClient(Client):
    pass


stale_records.install(FixedClient)


def test_a_partition_is_not_read_from_where_the_client_ran_ahead_before_it_is_put_back() -> None:
    # Measured in a rebalance test: records fetched from the sought positions while
    # recovery sought were dropped, and the client moved past them. The partitions were
    # put back one after the other, and the second was no longer "being sought" while
    # the first was put back: a fetch then handed its records over from where the client
    # had run ahead to. Faust took the jump for a gap (acknowledged, committed), and
    # December's pay was applied before November's.
    consumer = FixedClient({"p0": 10, "p1": 20})
    delivered: list[tuple[str, int]] = []

    async def fetch() -> None:
        delivered.extend(await drain(consumer))

    async def run() -> None:
        consumer.while_seeking = [fetch, fetch]  # during the seek, and the first put-back
        await consumer.perform_seek()
        await fetch()

    asyncio.run(run())
    assert delivered == [("p0", 10), ("p0", 11), ("p0", 12), ("p1", 20), ("p1", 21), ("p1", 22)]
    assert consumer.position == {"p0": 13, "p1": 23}
    assert not stale_records.offsets_of(consumer).seeking


def test_records_dropped_while_a_partition_is_fetched_again_are_fetched_again_too() -> None:
    # A seek made by the fix itself (a partition read again from where a seek put it)
    # drops what is fetched meanwhile, like any seek; it too puts the client back.
    consumer = FixedClient({"p0": 10, "p1": 20})
    delivered: list[tuple[str, int]] = []

    async def fetch() -> None:
        delivered.extend(await drain(consumer))

    async def run() -> None:
        offsets = stale_records.offsets_of(consumer)
        consumer.while_seeking = [fetch]
        await stale_records._fetch_again(consumer, offsets, "p0", 10)
        await fetch()

    asyncio.run(run())
    p0 = [offset for tp, offset in delivered if tp == "p0"]
    assert p0 == [10, 11, 12]  # not 13, 14, 15: 10 to 12 went by while it was sought
