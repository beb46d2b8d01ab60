"""The producer helper through a real aiokafka producer and the real local broker."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from schemas import examples
from schemas.client import InvalidEvent, publish_async
from schemas.intake import decode_event
from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, RISK_SCORES
from streams.runtime.kafka_admin import ensure_topics

pytestmark = pytest.mark.integration


async def read_all(bootstrap: str, topic: str, timeout: float = 30.0) -> list[ConsumerRecord]:
    """Return every record of ``topic``, from the beginning to its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        deadline = time.monotonic() + timeout
        while not partitions:
            assert time.monotonic() < deadline, f"topic {topic} never appeared"
            await consumer._client.force_metadata_update()
            partitions = [
                TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        count = sum((await consumer.end_offsets(partitions)).values())
        records: list[ConsumerRecord] = []
        while len(records) < count:
            assert time.monotonic() < deadline, f"read {len(records)} of {count}"
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def test_published_events_arrive_keyed_on_their_topic_and_a_refused_one_never_does(
    kafka_bootstrap: str,
) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}."
    settings = Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix, partitions=2)
    await ensure_topics(settings, [BEHAVIOR_EVENTS, RISK_SCORES])
    now = datetime.now(UTC)
    valid = {
        "event_id": str(uuid.uuid4()),
        "user_id": "user-7",
        "occurred_at": now,
        "source": "web",
        "payload": {"type": "page_view", "path": "/pricing", "category": "pricing"},
    }
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        sent = await publish_async(valid, producer, topic_prefix=prefix)
        score = await publish_async(
            examples.risk_score(), producer, topic_prefix=prefix, now=examples.AT
        )
        with pytest.raises(InvalidEvent, match="occurred_at: Input should have timezone info"):
            await publish_async(
                {**valid, "occurred_at": now.replace(tzinfo=None).isoformat()},
                producer,
                topic_prefix=prefix,
            )
    finally:
        await producer.stop()

    (record,) = await read_all(kafka_bootstrap, BEHAVIOR_EVENTS.full_name(prefix))
    assert (record.key, record.value) == (b"user-7", sent.value)
    assert list(record.headers) == [("content-type", b"application/json")]
    decoded, _ = decode_event(record.key, record.value, now=now)
    assert decoded == sent.event, "the worker's intake reads back the event that was sent"

    (scored,) = await read_all(kafka_bootstrap, RISK_SCORES.full_name(prefix))
    assert (scored.key, scored.value) == (b"user-42", score.value)
