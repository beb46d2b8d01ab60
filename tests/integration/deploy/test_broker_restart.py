"""The local broker restarts on the same address, so running clients carry on by themselves."""

from __future__ import annotations

import asyncio
import subprocess
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.conftest import KAFKA, _coordinator_ready, _read_env_file
from tests.paths import ROOT

# serial: it restarts the broker every other test is using.
pytestmark = [pytest.mark.integration, pytest.mark.serial]


def kafka(command: str) -> str:
    """Run ``kafka.sh COMMAND`` and return what it printed."""
    done = subprocess.run([KAFKA, command], check=True, capture_output=True, text=True)
    return done.stdout + done.stderr


def bootstrap_on_file() -> str:
    return _read_env_file(ROOT / ".run/kafka.env")["NUDGE_KAFKA_BOOTSTRAP"]


async def test_a_restart_keeps_the_address_and_a_producer_carries_on(kafka_bootstrap: str) -> None:
    """One restart (``kafka.sh restart``, as ``make kafka-restart`` and the chaos runs do),
    two properties: the address is the one on file, and a running client reconnects."""
    topic = f"restart-{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        before = await producer.send_and_wait(topic, b"before")
        try:
            printed = await asyncio.to_thread(kafka, "restart")
            assert "stopped" in printed and f"ready at {kafka_bootstrap}" in printed
        finally:
            # The rest of the session needs the broker: up again whatever happened above.
            await asyncio.to_thread(kafka, "up")
            await _coordinator_ready(kafka_bootstrap)
        assert bootstrap_on_file() == kafka_bootstrap
        # The same client, never told anything: it reconnects to the same address.
        after = await asyncio.wait_for(producer.send_and_wait(topic, b"after"), 60.0)
    finally:
        await producer.stop()
    assert (before.offset, after.offset) == (0, 1)  # the data survived the restart

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        values: list[bytes] = []
        while len(values) < 2:
            batch = await asyncio.wait_for(consumer.getmany(partition, timeout_ms=1000), 30.0)
            values += [record.value for record in batch.get(partition, [])]
    finally:
        await consumer.stop()
    assert values == [b"before", b"after"]
