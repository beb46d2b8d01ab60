"""The producer against the real local broker: everything arrives, keyed and in order."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import ValidationError

from schemas.events import parse_event
from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS
from streams.simulation.population import expected_firings, make_population
from streams.simulation.simulated_publisher import produce

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)


async def read_exactly(
    settings: Settings, count: int, timeout: float = 60.0
) -> list[ConsumerRecord]:
    """Read the whole events topic from the start; fail unless it holds exactly ``count``."""
    topic = BEHAVIOR_EVENTS.full_name(settings.topic_prefix)
    consumer = AIOKafkaConsumer(**settings.kafka_client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while not consumer.partitions_for_topic(topic):
            assert time.monotonic() < deadline, f"topic {topic} never appeared"
            await consumer._client.force_metadata_update()
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        assert sum(ends.values()) == count, "the log holds exactly the messages reported"
        records: list[ConsumerRecord] = []
        while len(records) < count:
            assert time.monotonic() < deadline, f"read {len(records)} of {count} in {timeout} s"
            for batch in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def test_produce_publishes_every_message_keyed_and_in_user_order(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(partitions=3)
    report = await produce(settings, users=50, rate=0, seed=21, invalid_share=0.02, now=NOW)

    assert report.users == 50
    assert report.invalid_sent > 0
    assert sum(report.by_type.values()) == report.events_sent
    assert report.expected == expected_firings(make_population(50, seed=21))
    records = await read_exactly(settings, report.events_sent + report.invalid_sent)
    assert len({r.partition for r in records}) == 3

    per_user: dict[str, list[datetime]] = defaultdict(list)
    by_type: dict[str, int] = defaultdict(int)
    invalid = 0
    for record in records:
        try:
            event = parse_event(record.value)
        except ValidationError:
            invalid += 1
            continue
        assert record.key == event.user_id.encode()
        per_user[event.user_id].append(event.occurred_at)
        by_type[event.type] += 1
    assert invalid == report.invalid_sent
    assert by_type == report.by_type
    assert len(per_user) == 50
    for user, times in per_user.items():
        assert times == sorted(times), f"{user}'s events arrive out of event-time order"


async def test_produce_keeps_to_the_rate_and_creates_the_topic_as_configured(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(partitions=2)
    rate = 500.0
    report = await produce(settings, users=2, rate=rate, seed=5, now=NOW)

    # ~1,200 messages: unthrottled that is well under a second; throttled, over two.
    # The bucket allows one batch (rate / 20) of burst; everything after waits its turn.
    assert report.messages_sent > 1000
    assert report.seconds >= (report.messages_sent - rate / 20) / rate
    assert report.invalid_sent == 0
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    await admin.start()
    try:
        topic = BEHAVIOR_EVENTS.full_name(settings.topic_prefix)
        (description,) = await admin.describe_topics([topic])
        assert len(description["partitions"]) == 2
    finally:
        await admin.close()
