"""The fixed input of every chaos run: recorded once, replayed byte for byte.

A synthetic population (``streams.simulation.population``) with a few malformed messages among its
events, and the risk scores of its users with a risk story. Every message is recorded
with the partition it goes to, so each run's topics hold the same messages at the same
partitions and offsets (the producer is idempotent: a retry is never a second copy).
The history ends at ``RECORDED_NOW``, which is also the workers' fixed clock.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, RISK_SCORES, TopicSpec
from streams.runtime.kafka_admin import ensure_topics
from streams.simulation.population import Mix, population_events, population_risk_scores
from streams.simulation.simulated_publisher import TokenBucket, outgoing_messages, producer_options

#: End of the recorded history and the workers' clock: fixed, so ids and texts that
#: depend on "now" are the same in every run.
RECORDED_NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
#: One user in this many has a risk story (the rest of the mix is the demo's: money
#: triggers, and stories of every other trigger).
USERS_PER_RISK_STORY = 10


def chaos_mix(users: int) -> Mix:
    """Return the population mix of ``users`` users."""
    risky = users // USERS_PER_RISK_STORY
    return Mix(spike_share=0.10, income_drop_share=0.10, story_share=0.28, risk_users=risky)


#: Messages handed to the producer between two rate checks.
SEND_BATCH = 200


@dataclass(frozen=True, slots=True)
class Message:
    """One recorded message and where it lands.

    Attributes:
        partition: Its partition (the Java client's murmur2 of the key, as every Kafka
            client places keyed messages; unkeyed ones by position).
        offset: Its offset in a fresh topic: its rank within its partition.
        event_id: The event id it carries, if it is a valid event.
    """

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    event_id: str | None


@dataclass(frozen=True, slots=True)
class Recording:
    """Everything a chaos run publishes: events first, then (once read) the risk scores."""

    events: tuple[Message, ...]
    scores: tuple[Message, ...]

    def digest(self) -> str:
        """Return a SHA-256 over every message and its placement."""
        sha = hashlib.sha256()
        for message in (*self.events, *self.scores):
            sha.update(f"{message.partition}:{message.offset}:".encode())
            sha.update(message.key or b"\0")
            sha.update(message.value)
        return sha.hexdigest()

    def locate(self) -> dict[str, tuple[str, int, int]]:
        """Return event id -> (topic, partition, offset) of every valid input event."""
        located = {}
        for spec, messages in ((BEHAVIOR_EVENTS, self.events), (RISK_SCORES, self.scores)):
            for message in messages:
                if message.event_id:
                    located[message.event_id] = (spec.name, message.partition, message.offset)
        return located

    def save(self, path: Path) -> None:
        """Write the recording as JSON lines (keys and values base64)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            for topic, messages in (("events", self.events), ("scores", self.scores)):
                for message in messages:
                    out.write(orjson.dumps(_encoded(topic, message)) + b"\n")


def _encoded(topic: str, message: Message) -> dict[str, object]:
    key = base64.b64encode(message.key).decode() if message.key is not None else None
    return {
        "topic": topic,
        "partition": message.partition,
        "offset": message.offset,
        "key": key,
        "value": base64.b64encode(message.value).decode(),
    }


def record(
    *, users: int, seed: int, history_days: int, invalid_share: float, partitions: int
) -> Recording:
    """Return the recorded input of a population (same arguments, same messages)."""
    personas = chaos_mix(users).population(users, seed=seed)
    events = population_events(personas, now=RECORDED_NOW, history_days=history_days, seed=seed)
    outgoing = outgoing_messages(events, invalid_share=invalid_share, seed=seed)
    scores = population_risk_scores(
        personas, now=RECORDED_NOW, history_days=history_days, seed=seed
    )
    scored = ((e["user_id"].encode(), orjson.dumps(e)) for e in scores)
    return Recording(
        events=tuple(_placed(((k, v) for _, k, v in outgoing), partitions)),
        scores=tuple(_placed(scored, partitions)),
    )


def _placed(messages: Iterable[tuple[bytes | None, bytes]], partitions: int) -> Iterator[Message]:
    ranks = [0] * partitions
    for position, (key, value) in enumerate(messages):
        partition = (murmur2(key) & 0x7FFFFFFF) % partitions if key else position % partitions
        yield Message(partition, ranks[partition], key, value, _event_id(value))
        ranks[partition] += 1


def _event_id(value: bytes) -> str | None:
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    event_id = decoded.get("event_id") if isinstance(decoded, dict) else None
    return event_id if isinstance(event_id, str) else None


async def replay(
    settings: Settings, spec: TopicSpec, messages: Sequence[Message], rate: float
) -> float:
    """Publish ``messages`` to their partitions of ``spec``; return the seconds it took.

    Args:
        settings: Broker, security and the run's topic prefix.
        spec: The topic (created if missing).
        messages: Recorded messages, sent in order (the producer keeps the order per partition).
        rate: Messages per second; 0 publishes as fast as the broker takes them.
    """
    started = time.monotonic()
    await ensure_topics(settings, (spec,))
    producer = AIOKafkaProducer(**producer_options(settings))
    await producer.start()
    topic = spec.full_name(settings.topic_prefix)
    bucket = TokenBucket(rate, capacity=SEND_BATCH) if rate > 0 else None
    in_flight: list[asyncio.Future[object]] = []
    try:
        for first in range(0, len(messages), SEND_BATCH):
            batch = messages[first : first + SEND_BATCH]
            if bucket is not None:
                await bucket.take(len(batch))
            sending = [
                await producer.send(topic, m.value, key=m.key, partition=m.partition) for m in batch
            ]
            await asyncio.gather(*in_flight)
            in_flight = sending
        await producer.flush()
        await asyncio.gather(*in_flight)
    finally:
        await producer.stop()
    return time.monotonic() - started
