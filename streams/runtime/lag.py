"""Consumer lag: how far a consumer group is behind the end of its topics."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.settings import Settings


async def topic_partitions(admin: AIOKafkaAdminClient, topics: list[str]) -> list[TopicPartition]:
    """Return every partition of ``topics`` (from a fresh metadata request)."""
    return [
        TopicPartition(description["topic"], partition["partition"])
        for description in await admin.describe_topics(topics)
        for partition in description["partitions"]
    ]


async def group_lag(settings: Settings, group_id: str, topics: list[str]) -> int:
    """Return the messages of ``topics`` that ``group_id`` has not committed yet.

    A partition the group has never committed counts in full.
    """
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    consumer = AIOKafkaConsumer(**settings.kafka_client_options(), enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        partitions = await topic_partitions(admin, topics)
        if not partitions:
            return 0
        ends = await consumer.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(group_id, partitions=partitions)
        lag = 0
        for tp in partitions:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag += max(ends[tp] - done, 0)
        return lag
    finally:
        await consumer.stop()
        await admin.close()
