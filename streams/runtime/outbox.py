"""How a batch's outputs and changelog records reach the producer.

Faust's ``Topic.send_soon`` (and ``Table.send_changelog``, which uses it) puts every
message into Faust's ``ProducerBuffer``: a queue, a task that takes each message out and
calls ``publish_message``, and above 100 buffered messages a ``wait_for`` per message.
Measured on the pipeline benchmark that is a large part of Faust's per-event cost, for
work the stage can do in one loop: it knows every message of a batch when the batch ends.

``DirectOutbox`` collects a batch's messages and hands each to ``ProducerT.send`` (Faust's
producer API: the call the buffer itself ends in) in one loop. Delivery is as safe as
before, and safer:

- Faust's commit awaits ``app.producer.flush()``, which flushes the underlying aiokafka
  producer, before it commits offsets: nothing handed over is committed unacknowledged.
- The stage awaits the acknowledgement of a batch's outputs before it writes the records
  that remember them (see ``IngestStage.run_batch``); a refused output raises there and
  the batch is never acknowledged.
- A changelog record or dead letter the producer gives up on ends the process
  (``fail_stop``): its offsets must not be committed past a write that never happened.
  Faust's buffer only logs such a failure.

``BufferedOutbox`` is Faust's path, kept for ``exactly_once`` (whose transactional
producer Faust chooses per message) and for tests of the stage without a producer. The
settings choose between them (``NUDGE_PRODUCER_PATH``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from streams.runtime.failstop import fail_stop

#: Told when a changelog record is acknowledged or refused (its future).
OnDone = Callable[[asyncio.Future[Any]], None]


class Outbox(Protocol):
    """Where the stage puts what a batch sends."""

    def send(self, topic: Any, key: bytes | None, value: bytes | None) -> None:
        """Queue an output: a decision, command, intervention, dead letter, or tombstone."""
        ...

    def send_changelog(
        self,
        table: Any,
        partition: int,
        key: bytes,
        value: bytes | None,
        on_done: OnDone | None = None,
    ) -> None:
        """Queue a state record (``None``: a tombstone) for ``table``'s changelog partition."""
        ...

    async def hand_over(self) -> None:
        """Give everything queued to the producer (acknowledged later, before a commit)."""
        ...

    async def deliver(self) -> None:
        """Give everything queued to the producer and wait until the broker has it.

        Raises:
            Exception: A message the producer could not deliver.
        """
        ...


async def _nothing_to_flush() -> None:
    """The flush of an outbox without a producer (tests of the stage alone)."""


@dataclass(slots=True)
class BufferedOutbox:
    """Faust's own path: ``send_soon`` into its producer buffer, ``flush`` to deliver."""

    flush: Callable[[], Awaitable[None]] = _nothing_to_flush
    """Waits until everything buffered is acknowledged (``app.producer.flush``)."""

    def send(self, topic: Any, key: bytes | None, value: bytes | None) -> None:
        """Put an output in Faust's producer buffer."""
        topic.send_soon(key=key, value=value)

    def send_changelog(
        self,
        table: Any,
        partition: int,
        key: bytes,
        value: bytes | None,
        on_done: OnDone | None = None,
    ) -> None:
        """Put a record in Faust's producer buffer for the table's changelog."""
        if on_done is None:
            table.send_changelog(partition, key, value)
            return
        sent = table.changelog_topic.send_soon(
            key=key,
            value=value,
            partition=partition,
            key_serializer=table.key_serializer,
            value_serializer=table.value_serializer,
            eager_partitioning=True,
        )
        sent.add_done_callback(on_done)

    async def hand_over(self) -> None:
        """Do nothing: Faust's buffer task hands messages over."""

    async def deliver(self) -> None:
        """Flush Faust's producer: buffer and client."""
        await self.flush()


@dataclass(slots=True)
class DirectOutbox:
    """A batch's messages handed to Faust's producer in one loop, without its buffer.

    Attributes:
        producer: Returns the started producer (``app.maybe_start_producer``).
    """

    producer: Callable[[], Awaitable[Any]]
    _queued: list[tuple[str, bytes | None, bytes | None, int | None, OnDone | None]] = field(
        default_factory=list
    )
    _names: dict[int, str] = field(default_factory=dict)
    """``id(topic)`` -> its name: ``get_topic_name`` is not free, and topics are few."""

    def send(self, topic: Any, key: bytes | None, value: bytes | None) -> None:
        """Queue an output for ``topic`` (partitioned by key, as Faust would)."""
        self._queued.append((self._name(topic), key, value, None, None))

    def send_changelog(
        self,
        table: Any,
        partition: int,
        key: bytes,
        value: bytes | None,
        on_done: OnDone | None = None,
    ) -> None:
        """Queue a record for partition ``partition`` of ``table``'s changelog."""
        self._queued.append((self._name(table.changelog_topic), key, value, partition, on_done))

    async def hand_over(self) -> None:
        """Give everything queued to the producer, in order."""
        await self._hand_over()

    async def deliver(self) -> None:
        """Give everything queued to the producer; wait for the broker's acknowledgements.

        Raises:
            Exception: The first message the producer could not deliver.
        """
        futures = await self._hand_over()
        if futures:
            await asyncio.gather(*futures)

    async def _hand_over(self) -> list[asyncio.Future[Any]]:
        if not self._queued:
            return []
        queued, self._queued = self._queued, []
        producer = await self.producer()
        futures = []
        for topic, key, value, partition, on_done in queued:
            # Awaits only while the client's accumulator is full: back-pressure.
            sent = await producer.send(topic, key, value, partition, None, None)
            sent.add_done_callback(_refused_ends_process)
            if on_done is not None:
                sent.add_done_callback(on_done)
            futures.append(sent)
        return futures

    def _name(self, topic: Any) -> str:
        name = self._names.get(id(topic))
        if name is None:
            name = self._names[id(topic)] = topic.get_topic_name()
        return name


def _refused_ends_process(sent: asyncio.Future[Any]) -> None:
    """End the process if the producer gave up on a message (see the module docstring)."""
    if sent.cancelled():
        return  # the producer is stopping: offsets past it are not committed either
    error = sent.exception()
    if error is not None:
        fail_stop("the producer could not deliver a record", error)
