"""The pending batch: rows taken from Kafka whose offsets are not committed yet."""

from __future__ import annotations

import time

from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata

from sinks.rows import Row


class PendingBatch:
    """Rows in consumption order, with the offsets to commit once they are written.

    Args:
        max_size: Most rows the batch holds (``Settings.sink_batch_size``).
        max_age: Longest the first row waits before the batch is due, in seconds
            (``Settings.sink_batch_timeout_seconds``).
    """

    def __init__(self, max_size: int, max_age: float) -> None:
        self.max_size = max_size
        self.max_age = max_age
        self.rows: list[Row] = []
        self._started: float | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, row: Row) -> None:
        """Append a row; the first row starts the batch's clock."""
        if self._started is None:
            self._started = time.monotonic()
        self.rows.append(row)

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
        """Return whether the batch should be written now: full, or its first row is old."""
        return bool(self.rows) and (self.room == 0 or self.time_left() == 0.0)

    def offsets(self) -> dict[TopicPartition, OffsetAndMetadata]:
        """Return the offsets to commit: one past the last row of each partition."""
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for row in self.rows:
            partition = TopicPartition(row.source.topic, row.source.partition)
            known = offsets.get(partition)
            if known is None or known.offset <= row.source.offset:
                offsets[partition] = OffsetAndMetadata(row.source.offset + 1, "")
        return offsets

    def clear(self) -> None:
        """Forget every row (written, or to be read again from Kafka)."""
        self.rows = []
        self._started = None
