"""Faust fix: records fetched before a seek of their partition are not delivered after it.

Measured by ``make chaos`` (issue 8): a restarted or rebalanced worker lost contiguous
ranges of events (885 in one run) and committed past them. faust-streaming 0.15's
fetcher hands records over one at a time from a batch fetched earlier; when table
recovery then seeks the partitions back to their committed offsets
(``Consumer.perform_seek``), the rest of that stale batch is still handed over. Its
first record, far ahead of the new read offset, looks like a gap: the offsets between are
registered as a gap (treated as acknowledged), the read offset jumps ahead, and the same
records fetched again from the committed offset are dropped as already read. The commit
then moves past events no state ever applied (faust-streaming issues 596, 606; PR 707).

The fix keeps a seek count per partition on the consumer. ``seek`` and ``perform_seek``
raise it before and after seeking, and ``getmany`` drops every record of a partition
whose count changed since that fetch began: they are read again from the new position.
Nothing else of Faust's flow changes. ``install`` runs once per process, from
``streams.app.create_app``, and refuses to start on a Faust whose consumer lacks what it
wraps.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

#: Attribute of a consumer instance holding its seek counts (partition -> count).
_SEEKS = "_nudge_seeks"
#: Marks a consumer class as already fixed.
_INSTALLED = "_nudge_stale_records_dropped"


def _seeks(consumer: Any) -> dict[Any, int]:
    seeks: dict[Any, int] | None = getattr(consumer, _SEEKS, None)
    if seeks is None:
        seeks = {}
        setattr(consumer, _SEEKS, seeks)
    return seeks


def _bump(consumer: Any, partitions: Iterable[Any]) -> None:
    seeks = _seeks(consumer)
    for partition in partitions:
        seeks[partition] = seeks.get(partition, 0) + 1


def install(consumer_class: type[Any] | None = None) -> None:
    """Wrap ``getmany``, ``seek`` and ``perform_seek`` of Faust's consumer class.

    Args:
        consumer_class: The class to fix; Faust's ``faust.transport.consumer.Consumer``
            (the base of every driver's consumer) by default.

    Raises:
        RuntimeError: The class lacks one of the methods (a Faust this fix was not made for).
    """
    if consumer_class is None:
        from faust.transport.consumer import Consumer

        consumer_class = Consumer
    if getattr(consumer_class, _INSTALLED, False):
        return
    missing = [
        name for name in ("getmany", "seek", "perform_seek", "assignment")
        if not callable(getattr(consumer_class, name, None))
    ]  # fmt: skip
    if missing:
        lacks = ", ".join(missing)
        msg = f"{consumer_class.__qualname__} lacks {lacks}: review streams/stale_records.py"
        raise RuntimeError(msg)
    consumer_class.getmany = _getmany(consumer_class.getmany)  # type: ignore[method-assign]
    consumer_class.seek = _seek(consumer_class.seek)  # type: ignore[method-assign]
    consumer_class.perform_seek = _perform_seek(consumer_class.perform_seek)  # type: ignore[method-assign]
    setattr(consumer_class, _INSTALLED, True)


def _getmany(original: Callable[..., AsyncIterator[tuple[Any, Any]]]) -> Any:
    @functools.wraps(original)
    async def getmany(self: Any, *args: Any, **kwargs: Any) -> AsyncIterator[tuple[Any, Any]]:
        seeks = _seeks(self)
        before = dict(seeks)  # taken before the fetch: the generator starts here
        async for tp, message in original(self, *args, **kwargs):
            if seeks.get(tp, 0) != before.get(tp, 0):
                continue  # fetched before a seek of its partition: read again after it
            yield tp, message

    return getmany


def _seek(original: Callable[..., Any]) -> Any:
    @functools.wraps(original)
    async def seek(self: Any, partition: Any, offset: int) -> None:
        _bump(self, [partition])
        try:
            await original(self, partition, offset)
        finally:
            _bump(self, [partition])

    return seek


def _perform_seek(original: Callable[..., Any]) -> Any:
    @functools.wraps(original)
    async def perform_seek(self: Any) -> None:
        partitions = set(self.assignment())
        _bump(self, partitions)
        try:
            await original(self)
        finally:
            _bump(self, partitions | set(self.assignment()))

    return perform_seek
