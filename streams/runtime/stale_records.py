"""Faust fix: records fetched before a seek of their partition neither arrive nor count.

Measured by ``make chaos`` (issue 8): a restarted or rebalanced worker lost contiguous
ranges of events (885 in one run) and committed past them. faust-streaming 0.15's
fetcher hands records over one at a time from a batch fetched earlier, and after each it
sets the partition's read offset to that record's offset. When table recovery seeks the
partitions back to their committed offsets (``Consumer.perform_seek``) in the middle of
such a batch, two things go wrong:

- the record being handed over during the seek then sets the read offset to its own,
  far ahead of the position the seek set; the same records fetched again from the
  committed offset are dropped as already read;
- the rest of the stale batch is still handed over; its first record looks like a gap
  after the sought position, and the offsets between are registered as a gap (treated
  as acknowledged), so the commit moves past events no state ever applied.

(faust-streaming issues 596 and 606; PR 707.) The fix keeps a seek count per partition,
raised before and after every seek, and:

- ``getmany`` hands over nothing of a partition while it is being sought, and nothing
  fetched before its count last changed; what it drops it makes fetch again, by seeking
  the partition back (a batch can be fetched from the new position and still straddle
  the end of the seek, and the client's position has moved past it);
- the read offsets refuse the write of a record handed over before the count changed;
- a partition stays "being sought" until the client is back where the seek meant it to
  be: records dropped during a seek may have been fetched from the new position, so
  the client has moved past them, and the partition is sought back to the lowest of
  them *before* it stops being sought. (Put back only after, a fetch from the moved-on
  position slipped through in between, as current: its first record looked like a gap
  after the sought position, and the offsets between were registered as acknowledged
  and committed before anything read them. Seen in a rebalance test, where such a gap
  also went with later events applied before earlier ones: steady payers got an
  ``income_drop`` because December's pay was applied before November's.)

Nothing else of Faust's flow changes. ``install`` runs once per process, from
``streams.runtime.app.create_app``, and refuses to start on a Faust whose consumer lacks what it
wraps.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

#: Marks a consumer class as already fixed.
_INSTALLED = "_nudge_stale_records_dropped"
#: The methods wrapped (``__init__`` replaces the read offsets).
WRAPPED = ("__init__", "getmany", "seek", "perform_seek", "assignment")


class ReadOffsets(defaultdict[Any, int | None]):
    """A consumer's read offsets (partition -> offset, ``None`` when unknown).

    Attributes:
        seeks: Partition -> how many times a seek of it began or ended.
        handed: Partition -> the seek count when the record now being handed over was
            fetched.
        seeking: Partitions being sought now (by one seek or more).
        dropped: Partition -> the lowest offset dropped while it was being sought.
    """

    def __init__(self, offsets: Iterable[tuple[Any, int | None]] = ()) -> None:
        super().__init__(_unknown, offsets)
        self.seeks: dict[Any, int] = {}
        self.handed: dict[Any, int] = {}
        self.seeking: set[Any] = set()
        self.dropped: dict[Any, int] = {}
        self._seekers: dict[Any, int] = {}  # partition -> seeks of it in progress

    def __setitem__(self, tp: Any, offset: int | None) -> None:
        """Set a read offset, unless it is a stale record's (fetched before a seek)."""
        fetched = self.handed.get(tp)
        if tp not in self.seeking and fetched is not None and fetched != self.seeks.get(tp, 0):
            return  # keep the position the seek set: this record is read again from it
        super().__setitem__(tp, offset)

    def bump(self, partitions: Iterable[Any]) -> None:
        """Count a seek of ``partitions`` beginning or ending."""
        for tp in partitions:
            self.seeks[tp] = self.seeks.get(tp, 0) + 1

    def begin_seek(self, partitions: Iterable[Any]) -> None:
        """Mark ``partitions`` as being sought (seeks of one partition may overlap)."""
        partitions = list(partitions)
        self.bump(partitions)
        for tp in partitions:
            self._seekers[tp] = self._seekers.get(tp, 0) + 1
            self.seeking.add(tp)

    def end_seek(self, partitions: Iterable[Any]) -> None:
        """Mark a seek of ``partitions`` as ended; each stays sought while another one is."""
        partitions = list(partitions)
        for tp in partitions:
            left = self._seekers.get(tp, 1) - 1
            if left > 0:
                self._seekers[tp] = left
            else:
                self._seekers.pop(tp, None)
                self.seeking.discard(tp)
        self.bump(partitions)


def _unknown() -> int | None:
    return None


def install(consumer_class: type[Any] | None = None) -> None:
    """Fix Faust's consumer class (once per process).

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
    missing = [name for name in WRAPPED if not callable(getattr(consumer_class, name, None))]
    if missing:
        lacks = ", ".join(missing)
        msg = f"{consumer_class.__qualname__} lacks {lacks}: review {__name__}"
        raise RuntimeError(msg)
    cls: Any = consumer_class
    cls.__init__ = _init(cls.__init__)
    cls.getmany = _getmany(cls.getmany)
    cls.seek = _seek(cls.seek)
    cls.perform_seek = _perform_seek(cls.perform_seek)
    setattr(cls, _INSTALLED, True)


def offsets_of(consumer: Any) -> ReadOffsets:
    """Return the consumer's read offsets, made a ``ReadOffsets`` if they are not yet."""
    offsets = consumer._read_offset
    if not isinstance(offsets, ReadOffsets):
        offsets = consumer._read_offset = ReadOffsets(offsets.items())
    return offsets


def _init(original: Callable[..., None]) -> Any:
    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807 - wraps it
        original(self, *args, **kwargs)
        offsets_of(self)

    return __init__


def _getmany(original: Callable[..., AsyncIterator[tuple[Any, Any]]]) -> Any:
    @functools.wraps(original)
    async def getmany(self: Any, *args: Any, **kwargs: Any) -> AsyncIterator[tuple[Any, Any]]:
        offsets = offsets_of(self)
        before = dict(offsets.seeks)  # taken before the fetch: the generator starts here
        rewound: set[Any] = set()
        async for tp, message in original(self, *args, **kwargs):
            if tp in offsets.seeking:
                # The seek in progress decides where reading resumes; its wrapper makes
                # the client fetch this again if it has moved past it.
                lowest = offsets.dropped.get(tp, message.offset)
                offsets.dropped[tp] = min(lowest, message.offset)
                continue
            fetched = before.get(tp, 0)
            if offsets.seeks.get(tp, 0) != fetched:
                if tp not in rewound:  # fetched before a seek: fetch again from there on
                    rewound.add(tp)
                    read = offsets.get(tp)
                    position = message.offset if read is None else min(read, message.offset)
                    await _fetch_again(self, offsets, tp, position)
                continue
            offsets.handed[tp] = fetched
            yield tp, message

    return getmany


#: Rounds of put-backs after one seek before the worker gives up (a round follows only
#: when a fetch of the partition landed while the previous one was being put back).
MAX_PUT_BACKS = 50


async def _fetch_again(consumer: Any, offsets: ReadOffsets, tp: Any, offset: int) -> None:
    """Make the client fetch ``tp`` again from ``offset``."""
    offsets.begin_seek([tp])
    try:
        await _client_seek(consumer, tp, offset)
        dict.__setitem__(offsets, tp, offset)
        await _put_back(consumer, offsets, {tp})
    finally:
        offsets.end_seek([tp])


async def _client_seek(consumer: Any, tp: Any, offset: int) -> None:
    """Seek the client (the read offsets are the caller's).

    On the client's own thread (``seek_wait``) where the consumer has one: a seek from
    the event loop's thread races the fetcher there (aiokafka's ``fetched_records``
    raised ``KeyError`` for a partition sought under it).
    """
    seek_wait = getattr(consumer, "seek_wait", None)
    if seek_wait is not None:
        await seek_wait({tp: offset})
    else:
        await consumer.seek(tp, offset)


async def _put_back(consumer: Any, offsets: ReadOffsets, partitions: set[Any]) -> None:
    """Seek back each of ``partitions`` whose records were dropped while it was sought.

    Called while they are still being sought, so that nothing fetched from where the
    client moved on to is handed over in the meantime (it is dropped too, and put back
    in the next round). The client goes back to the lowest record dropped, or to where
    the seek put the read offset if that is lower: never past a record nobody handled.

    Raises:
        RuntimeError: The client kept fetching ahead through ``MAX_PUT_BACKS`` rounds.
    """
    for _ in range(MAX_PUT_BACKS):
        due = sorted((tp for tp in partitions if tp in offsets.dropped), key=str)
        if not due:
            return
        for tp in due:
            lowest = offsets.dropped.pop(tp)
            read = offsets.get(tp)
            position = lowest if read is None else min(read, lowest)
            await _client_seek(consumer, tp, position)
            dict.__setitem__(offsets, tp, position)
    msg = f"the client kept fetching ahead of seeks of {sorted(map(str, partitions))}"
    raise RuntimeError(msg)


def _seek(original: Callable[..., Any]) -> Any:
    @functools.wraps(original)
    async def seek(self: Any, partition: Any, offset: int) -> None:
        offsets = offsets_of(self)
        offsets.begin_seek([partition])
        try:
            await original(self, partition, offset)
            await _put_back(self, offsets, {partition})
        finally:
            offsets.end_seek([partition])

    return seek


def _perform_seek(original: Callable[..., Any]) -> Any:
    @functools.wraps(original)
    async def perform_seek(self: Any) -> None:
        offsets = offsets_of(self)
        partitions = set(self.assignment())
        offsets.begin_seek(partitions)
        try:
            await original(self)  # writes its positions with update(): never refused
            # Records fetched while seeking were dropped; if the client fetched them from
            # the new position it has moved past them: put it back where the seek meant
            # it to be, while the partitions are still being sought.
            await _put_back(self, offsets, partitions)
        finally:
            offsets.end_seek(partitions)
            offsets.bump(set(self.assignment()) - partitions)

    return perform_seek
