"""``nudge users forget ID``: erase a user from the worker's state and from the database.

In order (``docs/privacy.md`` says why each step waits for the one before):

1. An erasure request (``schemas.privacy.ErasureRequest``), keyed by the user, goes onto
   every input topic, behind every earlier message of that user on each; a tombstone
   goes onto the compacted ``users.profiles``.
2. Wait (``--timeout``) until the worker group has committed past each request: the
   worker has deleted the user's record (a tombstone on its changelog), with its held
   sends, and no replay can bring back what came before.
3. Wait until the sinks have committed everything on their topics as of then: every row
   made from the user's earlier messages is in the database.
4. Delete every row naming the user, in one transaction, and record the erasure (no
   personal data) in ``erasures``.

Idempotent: running it again for the same user is safe, and deletes rows that arrived
late (a message of the user published during the first run). Exit status 0 when done;
1 when a wait timed out (the request stays on the topics and the worker applies it when
it can; the database was not touched: run the command again).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition

from schemas.privacy import ErasureRequest
from schemas.settings import Settings
from schemas.topics import DEAD_LETTER_TOPIC, USERS_PROFILES
from streams.runtime.kafka_admin import ensure_topics
from streams.runtime.lag import end_offsets, wait_committed

#: Default of ``--timeout``: per wait, seconds.
WAIT_SECONDS = 300.0


def register(subcommands: Any) -> None:
    """Add ``users`` to the ``nudge`` subcommands."""
    users = subcommands.add_parser("users", help="per-user tools: erasure")
    actions = users.add_subparsers(dest="action", required=True)
    forget = actions.add_parser(
        "forget",
        help="erase a user: their record and held sends, then every database row naming them",
    )
    forget.add_argument("user_id", help="the user to forget (as the events' user_id)")
    forget.add_argument(
        "--timeout",
        type=float,
        default=WAIT_SECONDS,
        help=f"seconds to wait for the worker, then for the sinks (default {WAIT_SECONDS:.0f})",
    )
    forget.set_defaults(run=run_forget)


@dataclass(frozen=True, slots=True)
class Requested:
    """An erasure request published: its id, when, and where each copy landed."""

    erasure_id: str
    requested_at: datetime
    offsets: dict[TopicPartition, int]
    """Where each copy of the request landed, and its offset there."""


def run_forget(settings: Settings, args: argparse.Namespace) -> int:
    """Forget ``args.user_id``; print what was deleted. See the module for the steps."""
    from sinks.erasure import erase_user, total
    from sinks.writer import create_sink_engine

    user_id: str = args.user_id
    requested = asyncio.run(request_erasure(settings, user_id))
    print(f"erasure {requested.erasure_id}: requested on {len(requested.offsets)} input topics")
    if not asyncio.run(worker_past(settings, requested, args.timeout)):
        print(
            f"the worker group {settings.app_id!r} has not processed the request within "
            f"{args.timeout:.0f} s (is it running?). The request stays queued and the worker "
            "will apply it; the database was not touched: run this command again.",
            file=sys.stderr,
        )
        return 1
    print("worker: the user's record and held sends are deleted")
    if not asyncio.run(sinks_caught_up(settings, args.timeout)):
        print(
            f"the sinks have not stored their topics' messages within {args.timeout:.0f} s "
            "(are they running?). The database was not touched: run this command again.",
            file=sys.stderr,
        )
        return 1
    engine = create_sink_engine(settings)
    try:
        counts = erase_user(
            engine,
            user_id,
            erasure_id=requested.erasure_id,
            requested_at=requested.requested_at,
            now=datetime.now(UTC),
        )
    finally:
        engine.dispose()
    named = {table: n for table, n in counts.items() if n}
    listed = ", ".join(f"{table} {n}" for table, n in sorted(named.items())) or "none"
    print(f"database: {total(counts)} rows deleted ({listed}); erasure recorded")
    return 0


async def request_erasure(settings: Settings, user_id: str) -> Requested:
    """Publish the erasure request on every input topic and tombstone ``users.profiles``."""
    await ensure_topics(settings)
    request = ErasureRequest(
        erasure_id=str(uuid.uuid4()), user_id=user_id, requested_at=datetime.now(UTC)
    )
    key, value = user_id.encode(), request.model_dump_json().encode()
    producer = AIOKafkaProducer(**settings.kafka_client_options(), acks="all")
    await producer.start()
    offsets: dict[TopicPartition, int] = {}
    try:
        for spec in DEAD_LETTER_TOPIC:  # the input topics the worker reads per user
            topic = spec.full_name(settings.topic_prefix)
            sent = await producer.send_and_wait(topic, key=key, value=value)
            offsets[TopicPartition(sent.topic, sent.partition)] = sent.offset
        profiles = USERS_PROFILES.full_name(settings.topic_prefix)
        await producer.send_and_wait(profiles, key=key, value=None)
    finally:
        await producer.stop()
    return Requested(request.erasure_id, request.requested_at, offsets)


async def worker_past(settings: Settings, requested: Requested, timeout: float) -> bool:
    """Wait until the worker group has committed past every copy of the request."""
    targets = {tp: offset + 1 for tp, offset in requested.offsets.items()}
    return await wait_committed(settings, settings.app_id, targets, timeout)


async def sinks_caught_up(settings: Settings, timeout: float) -> bool:
    """Wait until the sink group has committed every sink topic up to its end as of now."""
    from sinks.rows import topic_routes
    from sinks.worker import sink_group

    ends = await end_offsets(settings, sorted(topic_routes(settings.topic_prefix)))
    return await wait_committed(settings, sink_group(settings), ends, timeout)
