"""Consumer lag: how far a consumer group is behind the end of its topics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

from schemas.settings import Settings


async def topic_partitions(admin: AIOKafkaAdminClient, topics: list[str]) -> list[TopicPartition]:
    """Return every partition of ``topics`` (from a fresh metadata request)."""
    return [
        TopicPartition(description["topic"], partition["partition"])
        for description in await admin.describe_topics(topics)
        for partition in description["partitions"]
    ]


@asynccontextmanager
async def _clients(
    settings: Settings,
) -> AsyncIterator[tuple[AIOKafkaAdminClient, AIOKafkaConsumer]]:
    """An admin client and a consumer without a group, started, stopped on the way out."""
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    consumer = AIOKafkaConsumer(**settings.kafka_client_options(), enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        yield admin, consumer
    finally:
        await consumer.stop()
        await admin.close()


async def group_lag(settings: Settings, group_id: str, topics: list[str]) -> int:
    """Return the messages of ``topics`` that ``group_id`` has not committed yet.

    A partition the group has never committed counts in full.
    """
    async with _clients(settings) as (admin, consumer):
        partitions = await topic_partitions(admin, topics)
        if not partitions:
            return 0
        ends = await consumer.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(group_id, partitions=partitions)
        return sum(max(ends[tp] - _done(committed.get(tp)), 0) for tp in partitions)


async def end_offsets(settings: Settings, topics: list[str]) -> dict[TopicPartition, int]:
    """Return the end offset (the next offset to be written) of every partition of ``topics``."""
    async with _clients(settings) as (admin, consumer):
        partitions = await topic_partitions(admin, topics)
        return dict(await consumer.end_offsets(partitions)) if partitions else {}


async def wait_committed(
    settings: Settings,
    group_id: str,
    targets: Mapping[TopicPartition, int],
    timeout: float,
    poll: float = 0.5,
) -> bool:
    """Wait until ``group_id`` has committed at least ``targets[tp]`` on every partition.

    A committed offset is the next one the group will read, so committing ``n + 1`` means
    the message at ``n`` is done. A target of 0 holds whatever the group has committed.

    Args:
        settings: Kafka connection settings.
        group_id: The consumer group.
        targets: Partition -> the offset to reach.
        timeout: Seconds to wait at most.
        poll: Seconds between two looks at the group's offsets.

    Returns:
        ``True`` once every target is reached; ``False`` if ``timeout`` passed first.
    """
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    await admin.start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            committed = await admin.list_consumer_group_offsets(group_id, partitions=list(targets))
            if all(_done(committed.get(tp)) >= target for tp, target in targets.items()):
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(poll)
    finally:
        await admin.close()


def _done(meta: OffsetAndMetadata | None) -> int:
    """Return a committed offset, 0 for a partition the group never committed."""
    return meta.offset if meta is not None and meta.offset >= 0 else 0
