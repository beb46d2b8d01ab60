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


async def drain(consumer: Consumer, seek_during: int | None = None, seek: Seek | None = None):
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
