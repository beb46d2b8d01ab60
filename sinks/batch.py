"""The pending batch: messages taken from Kafka whose offsets are not committed yet."""

from __future__ import annotations

import time

from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata

from sinks.messages import ConsumedMessage, Row


class PendingBatch:
    """Rows in consumption order, with the offsets to commit once they are written.

    Messages with nothing to store (``skip``) hold no row but their offsets are committed
    with the batch's; they start the batch's clock but take no room, so a stream of them
    is committed every ``max_age`` seconds, not every ``max_size`` messages.

    Args:
        max_size: Most rows the batch holds (``Settings.sink_batch_size``).
        max_age: Longest the first message waits before the batch is due, in seconds
            (``Settings.sink_batch_timeout_seconds``).
    """

    def __init__(self, max_size: int, max_age: float) -> None:
        self.max_size = max_size
        self.max_age = max_age
        self.rows: list[Row] = []
        self.skipped = 0
        self._next: dict[TopicPartition, int] = {}
        self._started: float | None = None

    def __len__(self) -> int:
        """Return how many messages are pending: rows and skipped ones."""
        return len(self.rows) + self.skipped

    def add(self, row: Row) -> None:
        """Append a row; the first message starts the batch's clock."""
        self._take(row.source)
        self.rows.append(row)

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
        self._next = {}
        self._started = None
