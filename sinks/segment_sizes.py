"""Segment sizes for Prometheus: ``nudge_segment_members{segment}`` from ``segment_sizes``.

Membership changes only when a segment change is stored, so the sink reads the view
(migration 0007) at start-up and again after a batch that stored a new change, at most
once every ``REFRESH_SECONDS``: a burst of changes costs one read, and the last change of
a burst is counted at most that long after it was stored. The read runs in a thread, in
the background of the consuming loop. A failed read (the database away) is logged and
tried again after the interval; the gauge keeps its last values meanwhile.

The view counts every segment that ever had a change (0 when everyone left), so a
segment's series falls to 0 rather than keeping its last value.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from sinks import metrics

log = logging.getLogger(__name__)

#: Shortest time between two reads of the view, in seconds: a read scans the membership
#: index of ``segment_changes``, too much for every batch; Prometheus scrapes every 15 s.
REFRESH_SECONDS = 15.0
#: The table whose new rows make the sizes stale.
SEGMENT_CHANGES_TABLE = "segment_changes"

SIZES = text("SELECT segment_id, members FROM segment_sizes")


def read_sizes(engine: Engine) -> dict[str, int]:
    """Return segment id -> members now, from the view ``segment_sizes``."""
    with engine.connect() as connection:
        return {str(segment): int(members) for segment, members in connection.execute(SIZES)}


def publish_sizes(sizes: Mapping[str, int], shown: set[str]) -> set[str]:
    """Set the gauge to ``sizes``; drop the series of segments no longer there.

    Args:
        sizes: Segment id -> members.
        shown: The segments the gauge has series for (updated and returned).
    """
    for segment in shown - set(sizes):
        metrics.SEGMENT_MEMBERS.remove(segment)
    for segment, members in sizes.items():
        metrics.SEGMENT_MEMBERS.labels(segment).set(members)
    return set(sizes)


class SegmentSizes:
    """Decides when to read the sizes again, reads them and sets the gauge.

    Args:
        engine: The sink's engine.
        interval: Shortest time between two reads, in seconds; ``None``: ``REFRESH_SECONDS``.
        clock: Monotonic seconds (``time.monotonic``; tests pass their own).
    """

    def __init__(
        self,
        engine: Engine,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._interval = REFRESH_SECONDS if interval is None else interval
        self._clock = clock
        self._stale = True  # nothing read yet: read at start-up
        self._last_read: float | None = None
        self._reading: asyncio.Task[None] | None = None
        self._shown: set[str] = set()

    def changed(self) -> None:
        """Note that new segment changes were stored: the sizes may differ now."""
        self._stale = True

    def due(self) -> bool:
        """Return whether a read should start now: stale, none running, interval passed."""
        if not self._stale or self._reading is not None:
            return False
        return self._last_read is None or self._clock() - self._last_read >= self._interval

    def refresh_if_due(self) -> None:
        """Start a read in the background if one is due; the caller does not wait for it."""
        if self.due():
            self._stale = False
            self._last_read = self._clock()
            self._reading = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            sizes = await asyncio.to_thread(read_sizes, self._engine)
        except SQLAlchemyError as exc:
            self._stale = True  # read again after the interval
            log.warning("segment sizes not read; trying again", extra={"error": type(exc).__name__})
            return
        finally:
            self._reading = None
        self._shown = publish_sizes(sizes, self._shown)

    async def wait(self) -> None:
        """Wait for a read in progress, if any (before the engine is disposed of)."""
        reading = self._reading
        if reading is not None:
            await reading
