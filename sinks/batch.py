"""The pending batch: messages taken from Kafka whose offsets are not committed yet.

And the shared rows (``Row.shared``: a user's day) the sink has stored lately, so that the
many messages that would make one of them again are folded without a row, most of them
without being decoded (``sinks.inputs.behavior_user_day``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata

from sinks.messages import ConsumedMessage, Row

#: Shared rows remembered as stored, at most: about 200 bytes each (a key of a user id and
#: a day), so 10 MB, a day or more of active users for one sink. Past it the older half is
#: forgotten; a forgotten row only costs its next message a decoding and a conflict.
STORED_CAPACITY = 50_000


class StoredRows:
    """Shared rows (``Row.shared``, as ``(table name, *key)``) known to be in the database.

    Only rows of batches that committed are remembered, so a message folded because of
    one is never the only cause of a row that is missing. Rows of any partition: they are
    facts about the tables, not about what this sink consumes, so a rebalance keeps them.

    Args:
        capacity: Most rows remembered (``STORED_CAPACITY``).
    """

    def __init__(self, capacity: int = STORED_CAPACITY) -> None:
        self.capacity = capacity
        self._rows: dict[tuple[Any, ...], None] = {}  # insertion-ordered: oldest first

    def __contains__(self, shared: tuple[Any, ...]) -> bool:
        """Return whether the shared row is known to be stored."""
        return shared in self._rows

    def __len__(self) -> int:
        """Return how many rows are remembered."""
        return len(self._rows)

    def forget(self) -> None:
        """Forget every row (in place: the pending batch holds this object).

        After a failed write: the database may have lost what it committed (a failover to
        a replica behind it, a restore), and a row it lost must be written again.
        """
        self._rows.clear()

    def remember(self, rows: Iterable[Row]) -> None:
        """Note the shared ones of ``rows``, committed; forget the older half when full."""
        for row in rows:
            if row.shared:
                self._rows[(row.table.name, *row.key)] = None
        if len(self._rows) > self.capacity:
            for shared in list(self._rows)[: len(self._rows) - self.capacity // 2]:
                del self._rows[shared]


class PendingBatch:
    """Rows in consumption order, with the offsets to commit once they are written.

    Messages with nothing to store (``skip``) hold no row but their offsets are committed
    with the batch's; they start the batch's clock but take no room, so a stream of them
    is committed every ``max_age`` seconds, not every ``max_size`` messages. So do rows
    the batch holds already and many messages share (a user's day, ``Row.shared``): the
    first is kept, the others are folded into it, so every event of a user's day takes
    the room of one row.

    Args:
        max_size: Most rows the batch holds (``Settings.sink_batch_size``).
        max_age: Longest the first message waits before the batch is due, in seconds
            (``Settings.sink_batch_timeout_seconds``).
        stored: Shared rows stored by earlier batches: folded as those the batch holds.
    """

    def __init__(self, max_size: int, max_age: float, stored: StoredRows | None = None) -> None:
        self.max_size = max_size
        self.max_age = max_age
        self.stored = StoredRows() if stored is None else stored
        self.rows: list[Row] = []
        self.skipped = 0
        self.folded = 0
        self._shared: set[tuple[Any, ...]] = set()
        """The table and key of every shared row held (``Row.shared``)."""
        self._next: dict[TopicPartition, int] = {}
        self._started: float | None = None

    def __len__(self) -> int:
        """Return how much is pending: rows, skipped messages and folded rows."""
        return len(self.rows) + self.skipped + self.folded

    def add(self, row: Row) -> None:
        """Append a row, or fold a shared one held already; the first starts the clock."""
        self._take(row.source)
        if row.shared:
            held = (row.table.name, *row.key)
            if self.holds(held):
                self.folded += 1
                return
            self._shared.add(held)
        self.rows.append(row)

    def holds(self, shared: tuple[Any, ...]) -> bool:
        """Return whether the shared row ``(table name, *key)`` is held, or stored already."""
        return shared in self._shared or shared in self.stored

    def fold(self, source: ConsumedMessage) -> None:
        """Take a message whose only row the batch holds already (``holds``): its offset."""
        self._take(source)
        self.folded += 1

    def skip(self, source: ConsumedMessage) -> None:
        """Take a message that has no row: only its offset is committed."""
        self._take(source)
        self.skipped += 1

    def _take(self, source: ConsumedMessage) -> None:
        if self._started is None:
            self._started = time.monotonic()
        partition = TopicPartition(source.topic, source.partition)
        self._next[partition] = max(self._next.get(partition, 0), source.offset + 1)

    @property
    def room(self) -> int:
        """Return how many more rows fit."""
        return max(self.max_size - len(self.rows), 0)

    def time_left(self) -> float:
        """Return the seconds until the batch is due (``max_age`` while it is empty)."""
        if self._started is None:
            return self.max_age
        return max(self._started + self.max_age - time.monotonic(), 0.0)

    def due(self) -> bool:
        """Return whether the batch should be written now: full, or its first message is old."""
        return bool(self) and (self.room == 0 or self.time_left() == 0.0)

    def offsets(self) -> dict[TopicPartition, OffsetAndMetadata]:
        """Return the offsets to commit: one past the last message of each partition."""
        return {tp: OffsetAndMetadata(offset, "") for tp, offset in self._next.items()}

    def clear(self) -> None:
        """Forget every message (written, or to be read again from Kafka)."""
        self.rows = []
        self.skipped = 0
        self.folded = 0
        self._shared = set()
        self._next = {}
        self._started = None
