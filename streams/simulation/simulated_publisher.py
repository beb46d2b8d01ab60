"""Publish a synthetic population's events to ``behavior.events``, at a chosen rate.

The events come from ``streams.simulation.population`` (lazily, in event-time order),
optionally with malformed messages from ``streams.simulation.malformed`` at random
positions to exercise the dead-letter path. Keys are user ids, so one user's events stay in
order on one partition. The risk scores of the users with a risk story go to
``risk.scores`` separately (``produce_risk_scores``), once the worker has read their
payments.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, RISK_SCORES, TopicSpec
from streams.runtime.kafka_admin import ensure_topics
from streams.simulation.behavior_expectations import ActivityTally
from streams.simulation.malformed import malformed_stream
from streams.simulation.population import (
    Mix,
    expected_firings,
    population_events,
    population_risk_scores,
)
from streams.simulation.risk_stories import expected_interventions
from streams.simulation.synthetic import EventDict

log = logging.getLogger(__name__)

#: Messages handed to the client between two rate checks (and between delivery checks).
MAX_BATCH = 500
#: Rate-limited batches are sized to about this many per second, so the stream is smooth.
BATCHES_PER_SECOND = 20
#: Largest share of malformed messages: beyond it the stream is mostly noise.
MAX_INVALID_SHARE = 0.5

#: (event type, or None for a malformed message; key; value)
Outgoing = tuple[str | None, bytes | None, bytes]


@dataclass(frozen=True, slots=True)
class ProduceReport:
    """What a produce run published.

    Attributes:
        events_sent: Valid events published.
        invalid_sent: Malformed messages published on top of them.
        users: Users simulated.
        seconds: Wall-clock duration, topic creation and final flush included.
        by_type: Valid events per event type.
        expected: Trigger id -> user ids whose history must fire it.
        expected_interventions: Intervention type or suppression reason -> user ids whose
            risk scores (``produce_risk_scores``) must lead to it.
        activity: Weekly activity of every user published: which behaviour changes the
            timer must tell (``ActivityTally.expected``).
    """

    events_sent: int
    invalid_sent: int
    users: int
    seconds: float
    by_type: dict[str, int]
    expected: dict[str, set[str]]
    expected_interventions: dict[str, set[str]] = field(default_factory=dict)
    activity: ActivityTally = field(default_factory=ActivityTally)

    @property
    def messages_sent(self) -> int:
        """Every message published, valid or not."""
        return self.events_sent + self.invalid_sent


class TokenBucket:
    """Limits a rate: ``take(n)`` waits until ``n`` tokens have accrued at ``rate`` per second.

    Tokens accrue up to ``capacity`` (the largest burst); a take larger than what is there
    runs the bucket into debt and waits it off, so long-run throughput is exactly ``rate``.
    """

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self._tokens = capacity
        self._updated = time.monotonic()

    async def take(self, amount: int) -> None:
        """Spend ``amount`` tokens, waiting first if the bucket cannot cover them."""
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        self._tokens -= amount
        if self._tokens < 0:
            await asyncio.sleep(-self._tokens / self.rate)


def producer_options(settings: Settings) -> dict[str, Any]:
    """Return the aiokafka producer options: connection and security, durable and ordered."""
    return settings.kafka_client_options() | {
        "acks": "all",
        "enable_idempotence": True,  # retries neither duplicate nor reorder a user's events
        "linger_ms": 20,
        "max_batch_size": 256 * 1024,
    }


def outgoing_messages(
    events: Iterator[dict[str, Any]], *, invalid_share: float, seed: int
) -> Iterator[Outgoing]:
    """Encode events and mix in malformed messages so they are ``invalid_share`` of all.

    Raises:
        ValueError: ``invalid_share`` outside [0, ``MAX_INVALID_SHARE``].
    """
    if not 0.0 <= invalid_share <= MAX_INVALID_SHARE:
        msg = f"invalid_share must be within [0, {MAX_INVALID_SHARE}], not {invalid_share}"
        raise ValueError(msg)
    return _mixed(events, invalid_share / (1.0 - invalid_share), seed)


def _mixed(events: Iterator[dict[str, Any]], chance: float, seed: int) -> Iterator[Outgoing]:
    """After each event, a malformed message with probability ``chance`` (<= 1)."""
    positions = random.Random(f"malformed-positions:{seed}")  # noqa: S311 - a simulation
    malformed = malformed_stream(seed=seed)
    for event in events:
        yield event["payload"]["type"], event["user_id"].encode(), orjson.dumps(event)
        if chance and positions.random() < chance:
            _, (key, value) = next(malformed)
            yield None, key, value


async def produce(
    settings: Settings,
    *,
    users: int,
    rate: float,
    seed: int,
    history_days: int = 100,
    invalid_share: float = 0.0,
    now: datetime | None = None,
    mix: Mix | None = None,
) -> ProduceReport:
    """Publish the history of a synthetic population to ``behavior.events``.

    Args:
        settings: Broker address, security, topic prefix, partitions and replication.
        users: Users to simulate.
        rate: Messages per second; 0 or less publishes as fast as the broker takes them.
        seed: Same seed and ``now``, same messages.
        history_days: Days of history per user (see ``population_events``).
        invalid_share: Share of all messages that are malformed, in [0, 0.5].
        now: End of the history; defaults to the current time.
        mix: Shares of spenders, income drops and stories (``Mix()`` if None: money
            triggers only).

    Returns:
        Counts, duration and the firings the history must cause.
    """
    started = time.monotonic()
    personas = (mix or Mix()).population(users, seed=seed)
    events = population_events(
        personas, now=now or datetime.now(UTC), history_days=history_days, seed=seed
    )
    tally = ActivityTally()
    messages = outgoing_messages(tally.watch(events), invalid_share=invalid_share, seed=seed)
    counts = await _publish(settings, BEHAVIOR_EVENTS, messages, rate)
    invalid = counts.pop(None, 0)
    report = ProduceReport(
        events_sent=sum(counts.values()),
        invalid_sent=invalid,
        users=users,
        seconds=time.monotonic() - started,
        by_type={str(kind): count for kind, count in sorted(counts.items(), key=str)},
        expected=expected_firings(personas),
        expected_interventions=expected_interventions(personas),
        activity=tally,
    )
    log.info("produced", extra={"events": report.events_sent, "invalid": invalid})
    return report


async def produce_risk_scores(
    settings: Settings,
    *,
    users: int,
    seed: int,
    now: datetime,
    history_days: int = 100,
    mix: Mix | None = None,
) -> int:
    """Publish the risk scores of the population ``produce`` published; return how many.

    Call it once the worker has read that population's ``behavior.events``: a score read
    before its user's payments would be judged without them (the topics are not ordered
    with each other). The arguments must be those given to ``produce``.
    """
    personas = (mix or Mix()).population(users, seed=seed)
    scores = population_risk_scores(personas, now=now, history_days=history_days, seed=seed)
    return await publish_events(settings, RISK_SCORES, scores)


async def publish_events(settings: Settings, spec: TopicSpec, events: Iterable[EventDict]) -> int:
    """Publish event dicts to ``spec``, keyed by user id, as fast as it takes them."""
    messages = (
        (event["payload"]["type"], event["user_id"].encode(), orjson.dumps(event))
        for event in events
    )
    counts = await _publish(settings, spec, messages, rate=0.0)
    return sum(counts.values())


async def _publish(
    settings: Settings, spec: TopicSpec, messages: Iterator[Outgoing], rate: float
) -> Counter[str | None]:
    """Publish ``messages`` to ``spec`` (created if missing); return counts by type."""
    await ensure_topics(settings, (spec,))
    producer = AIOKafkaProducer(**producer_options(settings))
    await producer.start()
    try:
        return await _send_all(producer, spec.full_name(settings.topic_prefix), messages, rate)
    finally:
        await producer.stop()


async def _send_all(
    producer: AIOKafkaProducer, topic: str, messages: Iterator[Outgoing], rate: float
) -> Counter[str | None]:
    """Send every message in batches; return counts by event type (None: malformed).

    One batch's deliveries are awaited while the next is being handed over, so a failed
    delivery raises within two batches and unconfirmed messages never pile up.
    """
    batch_size = max(1, min(MAX_BATCH, int(rate / BATCHES_PER_SECOND))) if rate > 0 else MAX_BATCH
    bucket = TokenBucket(rate, capacity=batch_size) if rate > 0 else None
    counts: Counter[str | None] = Counter()
    in_flight: list[asyncio.Future[Any]] = []
    while batch := list(islice(messages, batch_size)):
        if bucket is not None:
            await bucket.take(len(batch))
        sending = [await producer.send(topic, key=key, value=value) for _, key, value in batch]
        counts.update(kind for kind, _, _ in batch)
        await asyncio.gather(*in_flight)
        in_flight = sending
    await producer.flush()
    await asyncio.gather(*in_flight)
    return counts
