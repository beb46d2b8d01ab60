"""Helpers of the poison tests through the real broker (no tests of their own).

They publish while remembering where each message landed (topic, partition, offset),
so every dead letter can be matched to the message it stands for; they wait on the
worker's committed offsets or its death, never on the clock; and they read what the
worker published and exported without failing, so a test can say everything that went
wrong at once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from schemas.settings import Settings
from schemas.topics import (
    BEHAVIOR_EVENTS,
    BEHAVIOR_EVENTS_DLQ,
    COMMS_OUTCOMES,
    COMMS_OUTCOMES_DLQ,
    RISK_SCORES,
    RISK_SCORES_DLQ,
    TopicSpec,
)
from streams.runtime.kafka_admin import ensure_topics
from streams.runtime.lag import group_lag
from streams.runtime.processes import NudgeProcess
from tests.unit.factories import event

INPUTS: dict[str, TopicSpec] = {
    spec.name: spec for spec in (BEHAVIOR_EVENTS, RISK_SCORES, COMMS_OUTCOMES)
}
DEAD_LETTER_TOPICS = (BEHAVIOR_EVENTS_DLQ, RISK_SCORES_DLQ, COMMS_OUTCOMES_DLQ)
#: Room for a ~1 MB poison plus its key and the record's overhead.
MAX_REQUEST_BYTES = 2_000_000

#: Where a message landed: (full topic name, partition, offset).
Place = tuple[str, int, int]


@dataclass
class Outgoing:
    """One message to publish, with what the test expects of it."""

    spec: TopicSpec
    key: bytes | None
    value: bytes | None
    kind: str
    """``valid`` (must be processed), ``hostile`` (must become exactly one dead letter),
    ``either`` (one or the other, never both, never lost)."""
    label: str = ""


@dataclass
class Published:
    """Where each kind of message landed."""

    places: dict[str, list[Place]] = field(default_factory=dict)
    labels: dict[Place, str] = field(default_factory=dict)

    def of(self, kind: str) -> list[Place]:
        """The places of the messages of one kind."""
        return self.places.get(kind, [])


def total(samples: dict[str, float], metric: str) -> float:
    """Sum every labelled sample of ``metric``."""
    return sum(v for k, v in samples.items() if k.startswith(metric + "{") or k == metric)


async def publish_tracked(settings: Settings, messages: Iterable[Outgoing]) -> Published:
    """Publish in order; return where each message landed, by kind."""
    await ensure_topics(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        max_request_size=MAX_REQUEST_BYTES,
        linger_ms=5,
    )
    await producer.start()
    sent: list[tuple[Outgoing, Any]] = []
    try:
        for message in messages:
            topic = message.spec.full_name(settings.topic_prefix)
            future = await producer.send(topic, key=message.key, value=message.value)
            sent.append((message, future))
        await producer.flush()
        published = Published()
        for message, future in sent:
            meta = await future
            place = (meta.topic, meta.partition, meta.offset)
            published.places.setdefault(message.kind, []).append(place)
            published.labels[place] = message.label
        return published
    finally:
        await producer.stop()


async def settle(
    settings: Settings, worker: NudgeProcess, specs: Iterable[TopicSpec], timeout: float
) -> int:
    """Wait until the worker's group has committed all of ``specs``, or the worker died.

    Returns the lag left (0 when caught up).
    """
    topics = [spec.full_name(settings.topic_prefix) for spec in specs]
    deadline = time.monotonic() + timeout
    lag = -1
    while time.monotonic() < deadline:
        lag = await group_lag(settings, settings.app_id, topics)
        if lag == 0 or not worker.running():
            return lag
        await asyncio.sleep(0.5)
    return lag


async def read_all(
    settings: Settings,
    specs: Iterable[TopicSpec],
    done: Callable[[list[ConsumerRecord]], bool] = lambda records: False,
    *,
    timeout: float = 10.0,
    quiet: float = 2.0,
) -> list[ConsumerRecord]:
    """Read topics from the start; stop when ``done`` holds and ``quiet`` seconds pass
    without a new record, or at ``timeout``. Never fails: the caller judges the records."""
    topics = [spec.full_name(settings.topic_prefix) for spec in specs]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * MAX_REQUEST_BYTES,
        fetch_max_bytes=8 * MAX_REQUEST_BYTES,
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        partitions = []
        for topic in topics:
            # Asking adds the topic to the client's metadata; the update then fills it in.
            for _ in range(50):
                found = consumer.partitions_for_topic(topic)
                if found:
                    partitions += [TopicPartition(topic, p) for p in sorted(found)]
                    break
                await consumer._client.force_metadata_update()  # noqa: SLF001
                await asyncio.sleep(0.1)
        if not partitions:
            return records
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for found in batch.values():
                records.extend(found)
                last_new = time.monotonic()
            if done(records) and time.monotonic() - last_new >= quiet:
                break
        return records
    finally:
        await consumer.stop()


def dead_letter_places(records: list[ConsumerRecord]) -> list[Place]:
    """The (topic, partition, offset) each dead letter stands for, one per dead letter."""
    places = []
    for record in records:
        letter = json.loads(record.value)
        places.append((letter["topic"], letter["partition"], letter["offset"]))
    return places


def command_pairs(records: list[ConsumerRecord]) -> set[tuple[str, str, str]]:
    """``(user, trigger, channel)`` of each command."""
    commands = [json.loads(r.value) for r in records]
    return {(c["user_id"], c["trigger_id"], c["channel"]) for c in commands}


def crash_signs(worker: NudgeProcess) -> list[str]:
    """What in the worker's log says it crashed or lost a batch: tracebacks, exceptions."""
    signs = []
    text = worker.log_text() if worker.log_path.exists() else ""
    if "Traceback" in text:
        signs.append("a traceback in the log")
    for entry in worker.log_entries():
        message = str(entry.get("message", ""))
        if "exception" in entry or "crash" in message.lower():
            signs.append(f"{entry.get('level')}: {message[:160]}")
    return signs[:10]


def page_views(user: str, now: datetime, count: int, tag: str = "") -> list[Outgoing]:
    """``count`` page views of ``user`` in the last hour: valid, trigger nothing."""
    messages = []
    for n in range(count):
        at = now - timedelta(minutes=50) + timedelta(seconds=n)
        item = event(
            user, at, {"type": "page_view", "path": f"/p/{n}"}, event_id=f"{user}-{tag}pv-{n}"
        )
        messages.append(
            Outgoing(BEHAVIOR_EVENTS, user.encode(), item.model_dump_json().encode(), "valid")
        )
    return messages


def valid(events: Iterable[Any], spec: TopicSpec = BEHAVIOR_EVENTS) -> list[Outgoing]:
    """Validated events as valid messages keyed by their user."""
    return [
        Outgoing(spec, e.user_id.encode(), e.model_dump_json().encode(), "valid") for e in events
    ]


def report_path(tmp_path: Path, name: str) -> Path:
    """Where a test writes its worker's log."""
    return tmp_path / f"{name}.log"
