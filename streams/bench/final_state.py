"""Every user's final record after a run: read from the changelog, compared, digested.

A worker's table is its changelog: the last record per key is each user's final state.
Records are compared by content (``UserState`` fields, decoded), not by bytes, and
without ``IGNORED_FIELDS``: how the dedup window is encoded may change without changing
what a user's record means, and the partition is where the worker read the user from.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.settings import Settings
from streams.core.state.record import UserState
from streams.runtime.lag import topic_partitions

#: Fields left out of comparisons and digests: the dedup window (``seen``: stamped with
#: the processing clock's hour, which differs between the worker and the reference) and
#: the input partition (a worker's, not the sequential reference's).
IGNORED_FIELDS = frozenset({"seen", "partition"})
#: The Faust table the worker keeps users in (``streams.runtime.agents.ingest``).
TABLE_NAME = "user_state"
#: Longest a changelog read waits for the next records before it calls the end reached.
FETCH_TIMEOUT_MS = 1000


def changelog_topic(app_id: str) -> str:
    """Return the changelog topic Faust keeps the ``user_state`` table of ``app_id`` in."""
    return f"{app_id}-{TABLE_NAME}-changelog"


def semantic(state: UserState) -> dict[str, Any]:
    """Return a record's content as plain data, without ``IGNORED_FIELDS``."""
    fields = dataclasses.asdict(state)
    for name in IGNORED_FIELDS:
        fields.pop(name, None)
    return fields


def differing_users(
    actual: Mapping[bytes, UserState], expected: Mapping[bytes, UserState]
) -> list[str]:
    """Return the users whose records differ in content, or exist on one side only."""
    users = sorted(set(actual) | set(expected))
    return [
        user.decode(errors="replace")
        for user in users
        if user not in actual
        or user not in expected
        or semantic(actual[user]) != semantic(expected[user])
    ]


def states_digest(states: Mapping[bytes, UserState]) -> str:
    """Return a SHA-256 over every user's record content, in key order (hex)."""
    digest = hashlib.sha256()
    for key in sorted(states):
        digest.update(key)
        digest.update(orjson.dumps(semantic(states[key]), option=_CANONICAL))
    return digest.hexdigest()


_CANONICAL = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


async def read_final_states(settings: Settings, topic: str) -> dict[bytes, UserState]:
    """Read ``topic`` (a table's changelog) to its end; return the last record per key.

    Raises:
        RuntimeError: The topic does not exist.
    """
    assigned = await partitions_of(settings, topic)
    consumer = AIOKafkaConsumer(**settings.kafka_client_options(), enable_auto_commit=False)
    await consumer.start()
    latest: dict[bytes, bytes | None] = {}
    try:
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        while [tp for tp in assigned if await consumer.position(tp) < ends[tp]]:
            batches = await consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS)
            for records in batches.values():
                for record in records:
                    if record.key is not None:
                        latest[record.key] = record.value
    finally:
        await consumer.stop()
    return {key: UserState.from_bytes(value) for key, value in latest.items() if value}


async def partitions_of(settings: Settings, topic: str) -> list[TopicPartition]:
    """Return the partitions of ``topic`` (a fresh metadata request).

    Raises:
        RuntimeError: The topic does not exist.
    """
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    await admin.start()
    try:
        found = await topic_partitions(admin, [topic])
    finally:
        await admin.close()
    if not found:
        msg = f"no topic {topic}"
        raise RuntimeError(msg)
    return sorted(found, key=lambda tp: tp.partition)
