"""The Faust fix: records fetched before a seek of their partition are not delivered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from streams import stale_records


class Consumer:
    """Hands over a fetched batch one record at a time, as Faust's ``getmany`` does."""

    def __init__(self, fetches: list[list[tuple[str, int]]]) -> None:
        self.fetches = fetches
        self.sought: list[tuple[str, int]] = []

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[str, int]]:
        for record in self.fetches.pop(0):
            await asyncio.sleep(0)
            yield record

    async def seek(self, partition: str, offset: int) -> None:
        self.sought.append((partition, offset))

    async def perform_seek(self) -> None:
        self.sought.append(("all", -1))

    def assignment(self) -> set[str]:
        return {"p0", "p1"}


class Fixed(Consumer):
    pass


stale_records.install(Fixed)


async def drain(consumer: Consumer, seek_after: int, seek: Any) -> list[tuple[str, int]]:
    seen = []
    async for record in consumer.getmany(timeout=1.0):
        seen.append(record)
        if len(seen) == seek_after:
            await seek(consumer)
    return seen


STALE = [("p0", 812), ("p1", 500), ("p0", 1094), ("p1", 501), ("p0", 1095)]


def test_after_a_seek_of_a_partition_its_stale_records_are_dropped_others_go_on() -> None:
    consumer = Fixed([STALE, [("p0", 812), ("p0", 813)]])
    seen = asyncio.run(drain(consumer, 1, lambda c: c.seek("p0", 811)))
    assert seen == [("p0", 812), ("p1", 500), ("p1", 501)]
    assert consumer.sought == [("p0", 811)]
    # The next fetch, from the new position, is delivered whole.
    assert asyncio.run(drain(consumer, 0, None)) == [("p0", 812), ("p0", 813)]


def test_after_recovery_seeks_every_partition_the_whole_stale_batch_is_dropped() -> None:
    consumer = Fixed([STALE])
    seen = asyncio.run(drain(consumer, 1, lambda c: c.perform_seek()))
    assert seen == [("p0", 812)]


def test_without_the_fix_the_stale_record_after_the_seek_is_delivered() -> None:
    consumer = Consumer([STALE])
    seen = asyncio.run(drain(consumer, 1, lambda c: c.perform_seek()))
    assert ("p0", 1094) in seen  # what made Faust register a false gap


def test_installing_twice_wraps_once_and_a_consumer_without_the_methods_is_refused() -> None:
    wrapped = Fixed.getmany
    stale_records.install(Fixed)
    assert Fixed.getmany is wrapped

    class Bare:
        async def getmany(self, timeout: float) -> AsyncIterator[Any]:
            yield None

    with pytest.raises(RuntimeError, match="lacks seek, perform_seek, assignment"):
        stale_records.install(Bare)


def test_faust_s_own_consumer_is_fixed_once_an_app_is_created() -> None:
    from faust.transport.consumer import Consumer as FaustConsumer

    stale_records.install()
    assert getattr(FaustConsumer, "_nudge_stale_records_dropped", False)
