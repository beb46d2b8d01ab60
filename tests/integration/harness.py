"""Run Nudge processes for tests and read what they publish, waiting on conditions."""

from __future__ import annotations

import asyncio
import inspect
import socket
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterable

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from schemas.settings import Settings
from schemas.topics import TopicSpec
from streams.runtime.kafka_admin import ensure_topics
from streams.runtime.lag import group_lag
from streams.runtime.processes import NudgeProcess

__all__ = [
    "NudgeProcess", "caught_up", "free_port", "publish", "read_until", "scrape", "wait_until",
]  # fmt: skip

#: How long a test waits for the pipeline before it calls a condition unmet.
TIMEOUT = 60.0


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = TIMEOUT
) -> None:
    """Poll ``condition`` (sync or async) until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await _holds(condition):
        if time.monotonic() > deadline:
            msg = f"timed out after {timeout} s waiting for {what}"
            raise AssertionError(msg)
        await asyncio.sleep(0.1)


async def _holds(condition: Callable[[], bool | Awaitable[bool]]) -> bool:
    result = condition()
    return bool(await result) if inspect.isawaitable(result) else bool(result)


async def caught_up(settings: Settings, *specs: TopicSpec) -> None:
    """Wait until the worker's group has committed everything published to ``specs``."""
    topics = [spec.full_name(settings.topic_prefix) for spec in specs]

    async def no_lag() -> bool:
        return await group_lag(settings, settings.app_id, topics) == 0

    await wait_until(no_lag, f"the worker to commit {', '.join(topics)}")


async def publish(
    settings: Settings, spec: TopicSpec, messages: Iterable[tuple[bytes | None, bytes]]
) -> int:
    """Publish (key, value) pairs to a topic of this deployment; return how many.

    Creates the deployment's topics first, as ``nudge topics create`` would.
    """
    await ensure_topics(settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    count = 0
    try:
        for key, value in messages:
            await producer.send(spec.full_name(settings.topic_prefix), key=key, value=value)
            count += 1
        await producer.flush()
    finally:
        await producer.stop()
    return count


async def read_until(
    settings: Settings,
    spec: TopicSpec,
    done: Callable[[list[ConsumerRecord]], bool],
    *,
    timeout: float = 60.0,
    settle: float = 0.0,
) -> list[ConsumerRecord]:
    """Read a topic from the start until ``done(records)`` holds, or fail at ``timeout``.

    Args:
        settle: After ``done`` holds, keep reading this long to catch anything extra
            (used to prove that nothing more, such as a duplicate, arrives).
    """
    topic = spec.full_name(settings.topic_prefix)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        partitions = await _partitions(consumer, topic, timeout)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        satisfied_at: float | None = None
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                records.extend(messages)
            now = time.monotonic()
            if satisfied_at is None and done(records):
                satisfied_at = now
            if satisfied_at is not None and now - satisfied_at >= settle:
                return records
            if now > deadline:
                msg = f"{topic}: condition not met in {timeout} s; {len(records)} records read"
                raise AssertionError(msg)
    finally:
        await consumer.stop()


async def _partitions(
    consumer: AIOKafkaConsumer, topic: str, timeout: float
) -> list[TopicPartition]:
    deadline = time.monotonic() + timeout
    while True:
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        if time.monotonic() > deadline:
            msg = f"topic {topic} never appeared"
            raise AssertionError(msg)
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.2)


async def rows_when(
    url: str, query: str, done: Callable[[list[tuple]], bool], timeout: float = 90.0
) -> list[tuple]:
    """Poll ``query`` until ``done(rows)`` holds; fail after ``timeout`` seconds."""
    rows: list[tuple] = []

    def ready() -> bool:
        nonlocal rows
        try:
            with psycopg.connect(url.replace("+psycopg", "")) as conn:
                rows = conn.execute(query).fetchall()
        except psycopg.errors.UndefinedTable:
            rows = []  # not migrated yet
        return done(rows)

    await wait_until(ready, f"rows for {query!r}", timeout)
    return rows


async def wait_for_assignment(worker: NudgeProcess) -> None:
    """Wait until ``worker`` logs that it owns input partitions."""

    def owns_partitions() -> bool:
        return any(
            entry.get("message") == "partitions assigned" and entry["partitions"]
            for entry in worker.log_entries()
        )

    await wait_until(owns_partitions, f"{worker.log_path.name} to be assigned a partition")


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int) -> dict[str, float]:
    """Return ``{sample with labels: value}`` from a /metrics endpoint; empty if it is down."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:  # noqa: S310
            text = response.read().decode()
    except OSError:
        return {}
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples
