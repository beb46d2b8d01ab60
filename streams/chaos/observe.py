"""What a run left behind: output topics, database rows, final user state, committed offsets.

Every message and row is reduced to its id and a digest of its content, with what
differs between runs by design removed (the topic prefix in dead letters, the time a row
was written), so two runs on the same input can be compared id by id.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from psycopg import sql

from schemas.settings import Settings
from schemas.topics import (
    COMMS_COMMANDS,
    DEAD_LETTER_TOPIC,
    INTERVENTIONS_COMMANDS,
    TRIGGER_DECISIONS,
    TopicSpec,
)
from streams.core.state.record import UserState
from streams.runtime.lag import topic_partitions

#: Output topic -> the field naming a message (dead letters: where their input was).
OUTPUT_IDS: dict[TopicSpec, tuple[str, ...]] = {
    TRIGGER_DECISIONS: ("decision_id",),
    COMMS_COMMANDS: ("command_id",),
    INTERVENTIONS_COMMANDS: ("command_id",),
    **{letters: ("topic", "partition", "offset") for letters in DEAD_LETTER_TOPIC.values()},
}
#: Table -> the columns naming a row.
TABLE_IDS: dict[str, tuple[str, ...]] = {
    "trigger_events": ("decision_id",),
    "communications": ("command_id",),
    "interventions": ("command_id",),
    "dead_letters": ("topic", "partition", "offset"),
    "missed_payments": ("user_id", "event_id"),
}
#: Fields that differ between runs by design: derived from the topic prefix, or when the
#: sink wrote the row.
RUN_FIELDS = frozenset({"dead_letter_id", "topic", "recorded_at"})
#: The worker's state table, as Faust names its changelog topic.
STATE_TABLE = "user_state"
#: Longest a topic takes to read to its end; beyond it something hangs (an open transaction).
READ_SECONDS = 120.0


@dataclass(slots=True)
class Observation:
    """Ids and content digests of what one run produced.

    Attributes:
        messages: Topic (without prefix) -> id -> the digest of every copy, in order.
        rows: Table -> id -> digest of the row.
        state: User key -> digest of the user's last record on the changelog, without
            its dedup ids (stamped with the processing hour, so they differ by run).
        applied: User key -> events that record counts as applied (all types).
        applied_ids: The fingerprint (``streams.core.state.dedup.fingerprint``) of every
            event id any version of any record remembered as applied. Each version
            keeps the ids applied within the dedup window (48 h of processing) up to
            ``DEDUP_CEILING``: every event, unless one user had more than that.
        sources: Id -> the input event that caused it (``source_event_id``), if any.
    """

    messages: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    rows: dict[str, dict[str, str]] = field(default_factory=dict)
    state: dict[str, str] = field(default_factory=dict)
    applied: dict[str, int] = field(default_factory=dict)
    applied_ids: set[int] = field(default_factory=set)
    sources: dict[str, str] = field(default_factory=dict)


def _digest(content: dict[str, Any]) -> str:
    kept = {k: v for k, v in content.items() if k not in RUN_FIELDS}
    return hashlib.sha1(orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)).hexdigest()  # noqa: S324 - not security


def _identity(content: dict[str, Any], fields: tuple[str, ...], prefix: str) -> str:
    values = [str(content.get(name)) for name in fields]
    if fields[0] == "topic":
        values[0] = values[0].removeprefix(prefix)
    return "/".join(values)


def _state_digest(state: UserState) -> str:
    """Digest a record without its dedup ids: they are stamped with processing time."""
    ids, state.seen = state.seen, {}
    digest = hashlib.sha1(state.to_bytes()).hexdigest()  # noqa: S324 - not security
    state.seen = ids
    return digest


async def observe(settings: Settings) -> Observation:
    """Read everything the run produced (its processes should be stopped by now)."""
    seen = Observation()
    prefix = settings.topic_prefix
    for spec, fields in OUTPUT_IDS.items():
        copies: dict[str, list[str]] = {}
        for record in await read_topic(settings, spec.full_name(prefix)):
            content = orjson.loads(record.value)
            key = _identity(content, fields, prefix)
            copies.setdefault(key, []).append(_digest(content))
            if content.get("source_event_id"):
                seen.sources[key] = content["source_event_id"]
        seen.messages[spec.name] = copies
    seen.rows = await asyncio.to_thread(read_rows, settings)
    changelog = f"{settings.app_id}-{STATE_TABLE}-changelog"
    for record in await read_topic(settings, changelog):
        user = (record.key or b"").decode(errors="replace")
        if record.value is None:
            seen.state.pop(user, None)
            seen.applied.pop(user, None)
        else:
            decoded = UserState.from_bytes(record.value)
            seen.state[user] = _state_digest(decoded)
            seen.applied[user] = sum(decoded.counts.values())
            seen.applied_ids.update(decoded.seen)
    return seen


def read_rows(settings: Settings) -> dict[str, dict[str, str]]:
    """Return table -> id -> row digest, from the run's database."""
    url = settings.database_url.get_secret_value().replace("+psycopg", "", 1)
    rows: dict[str, dict[str, str]] = {}
    with psycopg.connect(url) as connection:
        for table, fields in TABLE_IDS.items():
            query = sql.SQL("SELECT to_jsonb(t) FROM {} t").format(sql.Identifier(table))
            rows[table] = {
                _identity(row, fields, settings.topic_prefix): _digest(row)
                for (row,) in connection.execute(query)
            }
    return rows


async def read_topic(settings: Settings, topic: str) -> list[ConsumerRecord]:
    """Return every committed message of ``topic``, partition by partition."""
    partitions = await _partitions(settings, [topic])
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(
        **settings.kafka_client_options(),
        enable_auto_commit=False,
        isolation_level="read_committed",  # aborted transactions are not output
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + READ_SECONDS
        while await _behind(consumer, ends):
            if time.monotonic() > deadline:
                msg = f"{topic}: not read to its end ({ends}) in {READ_SECONDS:.0f} s"
                raise TimeoutError(msg)
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for messages in batch.values():
                records.extend(messages)
    finally:
        await consumer.stop()
    return records


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return True
    return False


async def _partitions(settings: Settings, topics: list[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        return await topic_partitions(admin, [t for t in topics if t in existing])
    finally:
        await admin.close()


async def committed_offsets(
    settings: Settings, group: str, topics: Iterable[str]
) -> list[dict[str, Any]]:
    """Return, per partition of ``topics``, what ``group`` committed and the end offset."""
    partitions = await _partitions(settings, list(topics))
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    consumer = AIOKafkaConsumer(**settings.kafka_client_options(), enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
    finally:
        await consumer.stop()
        await admin.close()
    report = []
    for tp in sorted(partitions):
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else 0
        name = tp.topic.removeprefix(settings.topic_prefix)
        report.append(
            {"topic": name, "partition": tp.partition, "committed": done, "end": ends[tp]}
        )
    return report
