"""The sink's writer keeps batches in order, even when it stops while the database is away."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from aiokafka import TopicPartition
from sqlalchemy.exc import OperationalError

from schemas.settings import Settings
from sinks.messages import DEAD_LETTERS, ConsumedMessage, Row
from sinks.worker import Sink, _describe
from sinks.writer import WriteResult

TP = TopicPartition("t.trigger.decisions", 0)


class Consumer:
    """What the sink uses of its consumer; records the commits."""

    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.commits.append({tp: meta.offset for tp, meta in offsets.items()})

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def pause(self, *partitions: TopicPartition) -> None: ...

    def paused(self) -> set[TopicPartition]:
        return set()

    def resume(self, *partitions: TopicPartition) -> None: ...


class Writer:
    """A database that is away until ``up`` is set; records what it wrote."""

    def __init__(self) -> None:
        self.up = False
        self.written: list[list[int]] = []

    def write(self, rows: list[Row], now: datetime) -> WriteResult:
        if not self.up:
            statement = "insert"
            raise OperationalError(statement, None, ConnectionRefusedError("refused"))
        self.written.append([row.source.offset for row in rows])
        return WriteResult()


def row(offset: int) -> Row:
    source = ConsumedMessage(TP.topic, TP.partition, offset, b"u", b"{}")
    # Only the source matters to the loop; the writer is a stand-in.
    return Row(table=DEAD_LETTERS, values={}, source=source)


async def test_a_batch_given_up_on_while_stopping_is_written_before_the_next() -> None:
    consumer, writer, stop = Consumer(), Writer(), asyncio.Event()
    sink = Sink(Settings(sink_batch_size=1), consumer, writer, stop)  # type: ignore[arg-type]
    sink._batch.add(row(0))
    await sink._hand_to_writer()  # offset 0 goes to the writer; the database is away
    sink._batch.add(row(1))
    stop.set()
    await sink._hand_to_writer()  # gives offset 0 up for now: stopping, still away
    writer.up = True  # back just as the sink flushes on its way out
    await sink.flush()
    # Offset 1 is never written, nor its offset committed, before offset 0.
    assert writer.written == [[0], [1]]
    assert consumer.commits == [{TP: 1}, {TP: 2}]


def test_a_database_error_without_text_is_still_named() -> None:
    # str() of a bare OSError is empty: naming it once raised IndexError and ended the sink.
    error = OperationalError("insert", None, ConnectionRefusedError())
    assert _describe(error) == "ConnectionRefusedError"
