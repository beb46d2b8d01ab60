"""For producers in Python: validate an event exactly as the worker will, then send it.

``prepare(event)`` turns an ``Event`` (or a mapping shaped like one) into the record to
send: the topic its type belongs on, the user id as key, the JSON value. It runs the
worker's own intake (``schemas.intake.decode_event``) on the bytes, so an event it
passes is one the worker accepts, and one it refuses raises ``InvalidEvent`` naming the
field and the reason, before anything is sent. What is sent is the event as the intake
reads it: sensitive keys and card numbers removed, over-long text cut, unknown fields
dropped, so none of them sits on the topic.

``publish`` and ``publish_async`` prepare and hand the record to a producer: any object
with confluent-kafka's ``produce(topic, value=, key=, headers=)`` or aiokafka's
``send_and_wait(topic, value=, key=, headers=)``. This module imports no Kafka client
(``schemas`` is the contract: pydantic only); bring your own.

Example::

    producer = AIOKafkaProducer(bootstrap_servers="kafka:9092", acks="all")
    await producer.start()
    await publish_async(
        {"event_id": str(uuid4()), "user_id": "user-42", "occurred_at": now, "source": "app",
         "payload": {"type": "page_view", "path": "/pricing"}},
        producer,
    )
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic_core import PydanticSerializationError, to_json

from schemas.contract import event_topic
from schemas.events import Event
from schemas.intake import Rejection, decode_event
from schemas.records import RejectionKind

__all__ = [
    "AsyncProducer",
    "InvalidEvent",
    "OutgoingRecord",
    "SyncProducer",
    "prepare",
    "publish",
    "publish_async",
]

#: Sent with every record: consumers and tools can tell the value's format without the
#: contract at hand. (Nudge itself reads the value alone.)
HEADERS: tuple[tuple[str, bytes], ...] = (("content-type", b"application/json"),)


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    """One Kafka record, ready to send.

    Attributes:
        topic: The full topic name (the deployment's prefix included).
        key: The event's ``user_id``, UTF-8: one user's events stay on one partition.
        value: The event as JSON, as the worker's intake reads it.
        headers: ``content-type: application/json``.
        event: The validated event.
    """

    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    event: Event


class InvalidEvent(ValueError):
    """The worker's intake would refuse the event (it would go to a dead-letter topic).

    Attributes:
        kind: ``invalid``, ``not_json`` or ``too_large``.
        error: Field paths and reasons (never the values), as a dead letter states them.
    """

    def __init__(self, kind: RejectionKind, error: str) -> None:
        """Record why the event is refused."""
        super().__init__(f"event refused ({kind.value}): {error}")
        self.kind = kind
        self.error = error


class SyncProducer(Protocol):
    """A producer with confluent-kafka's ``Producer.produce`` (queues; flush to send)."""

    def produce(
        self, topic: str, *, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> object:
        """Queue one record."""
        ...


class AsyncProducer(Protocol):
    """A producer with aiokafka's ``AIOKafkaProducer.send_and_wait``."""

    async def send_and_wait(
        self, topic: str, *, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> object:
        """Send one record and wait for the broker's acknowledgement."""
        ...


def prepare(
    event: Event | Mapping[str, Any], *, topic_prefix: str = "", now: datetime | None = None
) -> OutgoingRecord:
    """Validate an event as the worker's intake does and return the record to send.

    Args:
        event: An ``Event``, or a mapping shaped like one (``datetime``, ``Decimal`` and
            enum values are welcome; they are written as JSON first, as they travel).
        topic_prefix: The deployment's ``NUDGE_TOPIC_PREFIX``.
        now: The clock an event may be at most an hour ahead of (default: now, UTC).

    Returns:
        The record: ``risk_score`` events go to ``risk.scores``, ``comms_outcome`` ones to
        ``comms.outcomes``, every other type to ``behavior.events``.

    Raises:
        InvalidEvent: The intake would refuse it; the message names the fields and why.
        TypeError: ``event`` is neither an ``Event`` nor a mapping.
    """
    checked, _ = decode_event(None, _as_json(event), now=now or datetime.now(UTC))
    if isinstance(checked, Rejection):
        raise InvalidEvent(checked.kind, checked.error)
    topic = event_topic(checked.type).full_name(topic_prefix)
    value = checked.model_dump_json().encode()
    return OutgoingRecord(topic, checked.user_id.encode(), value, HEADERS, checked)


def publish(
    event: Event | Mapping[str, Any],
    producer: SyncProducer,
    *,
    topic_prefix: str = "",
    now: datetime | None = None,
) -> OutgoingRecord:
    """Validate an event and queue it on a confluent-kafka style producer.

    Nothing is queued if the event is refused. ``produce`` only queues: call the
    producer's ``flush()`` (or ``poll()``) as usual to send and learn of delivery.

    Raises:
        InvalidEvent: The intake would refuse it (see ``prepare``).
    """
    record = prepare(event, topic_prefix=topic_prefix, now=now)
    producer.produce(record.topic, value=record.value, key=record.key, headers=[*record.headers])
    return record


async def publish_async(
    event: Event | Mapping[str, Any],
    producer: AsyncProducer,
    *,
    topic_prefix: str = "",
    now: datetime | None = None,
) -> OutgoingRecord:
    """Validate an event and send it with an aiokafka style producer, awaiting the ack.

    Nothing is sent if the event is refused.

    Raises:
        InvalidEvent: The intake would refuse it (see ``prepare``).
    """
    record = prepare(event, topic_prefix=topic_prefix, now=now)
    await producer.send_and_wait(
        record.topic, value=record.value, key=record.key, headers=[*record.headers]
    )
    return record


def _as_json(event: Event | Mapping[str, Any]) -> bytes:
    """Return the event as the JSON bytes a producer would send."""
    if isinstance(event, Event):
        return event.model_dump_json().encode()
    if not isinstance(event, Mapping):
        msg = f"expected an Event or a mapping, got {type(event).__name__}"
        raise TypeError(msg)
    try:
        return to_json(dict(event))
    except PydanticSerializationError as exc:
        raise InvalidEvent(RejectionKind.NOT_JSON, f"not JSON: {exc}") from None
