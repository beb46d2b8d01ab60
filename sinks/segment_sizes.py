"""Segment sizes for Prometheus: ``nudge_segment_members{segment}`` from ``segment_sizes``.

Membership changes only when a segment change is stored, so the sink reads the view
(migration 0007) at start-up and again after a batch that stored a new change, at most
once every ``REFRESH_SECONDS``, in the background (``sinks.refresh`` says how).

The view counts every segment that ever had a change (0 when everyone left), so a
segment's series falls to 0 rather than keeping its last value.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine, text

from sinks import metrics
from sinks.refresh import Refresh

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


class SegmentSizes(Refresh[dict[str, int]]):
    """Decides when to read the sizes again, reads them and sets the gauge.

    Args:
        engine: The sink's engine.
        interval: Shortest time between two reads, in seconds; ``None``: ``REFRESH_SECONDS``.
        clock: Monotonic seconds (``time.monotonic``; tests pass their own).
    """

    tables = frozenset({SEGMENT_CHANGES_TABLE})
    what = "segment sizes"

    def default_interval(self) -> float:
        """Return ``REFRESH_SECONDS``."""
        return REFRESH_SECONDS

    def read(self, engine: Engine) -> dict[str, int]:
        """Return segment id -> members now (``read_sizes``)."""
        return read_sizes(engine)

    def publish(self, figures: dict[str, int]) -> None:
        """Set the gauge; drop the series of segments no longer there."""
        self._shown = publish_sizes(figures, self._shown)
