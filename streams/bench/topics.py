"""The benchmark's topics on the broker: create, pre-load once, delete at the end.

Each run uses its own topic prefix, and every consumer's app id (hence its consumer group
and the internal topics Faust creates, such as the table changelog) starts with it, so
deleting the topics that start with the prefix removes everything the run made.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, DAY_MS
from streams.runtime.kafka_admin import ensure_topics

log = logging.getLogger(__name__)

#: Output topics of the two baseline modes (the pipeline writes Nudge's own topics).
OUTPUT_TOPICS = {"faust_passthrough": "bench.passthrough.out", "aiokafka_loop": "bench.loop.out"}
#: Producer batching for the pre-load: fill large batches, wait briefly for them to fill.
PRELOAD_LINGER_MS = 20
PRELOAD_BATCH_BYTES = 512 * 1024
#: Quix Streams names a state changelog ``changelog__<consumer group>--<topic>--<store>``.
QUIX_CHANGELOG = "changelog__"


def run_prefix(now: datetime | None = None) -> str:
    """Return a topic prefix unique to this run, e.g. ``bench-20260101t120000-1a2b3c4d.``."""
    moment = now or datetime.now(UTC)
    return f"bench-{moment:%Y%m%dt%H%M%S}-{uuid.uuid4().hex[:8]}."


def output_topic(settings: Settings, mode: str) -> str:
    """Return the full name of a baseline mode's output topic."""
    return f"{settings.topic_prefix}{OUTPUT_TOPICS[mode]}"


async def create_topics(settings: Settings) -> None:
    """Create Nudge's topics under the run's prefix and the baseline modes' outputs."""
    await ensure_topics(settings)
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    await admin.start()
    try:
        response = await admin.create_topics(
            [
                NewTopic(
                    name=output_topic(settings, mode),
                    num_partitions=settings.partitions,
                    replication_factor=settings.replication_factor,
                    topic_configs={"retention.ms": str(DAY_MS)},
                )
                for mode in OUTPUT_TOPICS
            ]
        )
        for name, code, *_ in getattr(response, "topic_errors", []):
            if code != 0:
                msg = f"could not create topic {name}: error code {code}"
                raise RuntimeError(msg)
    finally:
        await admin.close()


async def preload(settings: Settings, messages: Sequence[tuple[bytes, bytes]]) -> float:
    """Publish ``messages`` to the run's behaviour-events topic; return the seconds taken.

    Keys pick the partition (the default murmur2 partitioner, as Faust uses), so one
    user's events stay in order on one partition.
    """
    topic = BEHAVIOR_EVENTS.full_name(settings.topic_prefix)
    return await publish(settings, [(topic, key, value) for key, value in messages])


async def publish(settings: Settings, messages: Sequence[tuple[str, bytes, bytes]]) -> float:
    """Publish ``(topic, key, value)`` messages in order; return the seconds taken."""
    producer = AIOKafkaProducer(
        **settings.kafka_client_options(),
        linger_ms=PRELOAD_LINGER_MS,
        max_batch_size=PRELOAD_BATCH_BYTES,
        acks="all",
    )
    await producer.start()
    started = time.perf_counter()
    try:
        for topic, key, value in messages:
            await producer.send(topic, value=value, key=key)
        await producer.flush()
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def delete_run_topics(settings: Settings) -> list[str]:
    """Delete every topic of the run (its prefix, or Quix's changelogs of its groups)."""
    prefix = settings.topic_prefix
    if not prefix.startswith("bench-"):
        msg = f"refusing to delete topics under a prefix not made by the bench: {prefix!r}"
        raise ValueError(msg)
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    await admin.start()
    try:
        doomed = sorted(
            name
            for name in await admin.list_topics()
            if name.startswith(prefix) or name.startswith(f"{QUIX_CHANGELOG}{prefix}")
        )
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()
