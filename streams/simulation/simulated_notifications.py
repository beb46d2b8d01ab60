"""A simulated notification service: Nudge's commands in, what came of them out.

For the demo. It reads ``comms.commands`` and ``interventions.commands`` from the start,
"sends" each command and reports outcomes on ``comms.outcomes`` as real notification
services do (the ``comms_outcome`` event), drawn from a seeded generator:

- a message is delivered (``DELIVERED``), then of all messages about 40 % are opened,
  15 % clicked and 5 % converted, with a value; a few recipients opt out of the channel;
  a message still held for the user's morning (``send_at`` later than now) is not sent
  yet, so it has no outcome;
- an intervention gets one response: the offer accepted, engaged, or no response.

Each command's outcomes are drawn from a generator of its own (seed and command id), so
the same commands give the same outcomes in any order. ``simulate_outcomes`` is pure; the
reading and the publishing are the two coroutines below it.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from schemas.settings import Settings
from schemas.topics import TopicSpec
from streams.runtime.lag import topic_partitions

#: Share of messages delivered; the rest bounce and have no other outcome.
DELIVERED = 0.97
#: Of all messages: opened, clicked (all opened first), converted (all clicked first).
OPENED, CLICKED, CONVERTED = 0.40, 0.15, 0.05
#: Of delivered messages: the recipient opts out of the channel (and does nothing else).
OPTED_OUT = 0.02
#: A conversion's value, in dollars.
CONVERSION_VALUES = (20.0, 400.0)
#: Responses to interventions, and how often each comes.
RESPONSES = ("accepted_offer", "engaged", "no_response")
RESPONSE_WEIGHTS = (0.35, 0.30, 0.35)

EventDict = dict[str, Any]


def simulate_outcomes(
    commands: Iterable[dict[str, Any]], *, now: datetime, seed: int
) -> list[EventDict]:
    """Return the ``comms_outcome`` events of ``commands``, none later than ``now``.

    Args:
        commands: Decoded ``SendCommunication`` and ``StartIntervention`` messages (their
            ``kind`` tells them apart).
        now: Timezone-aware present: outcomes happen between a command and it.
        seed: Same seed and commands, same outcomes (event ids included).
    """
    events: list[EventDict] = []
    for command in commands:
        rng = random.Random(f"outcomes:{seed}:{command['command_id']}")  # noqa: S311 - a simulation
        if command.get("kind") == "intervention":
            events += _responses(rng, command, now)
        elif datetime.fromisoformat(command["send_at"]) <= now:
            events += _message_outcomes(rng, command, now)
    return events


def _message_outcomes(
    rng: random.Random, command: dict[str, Any], now: datetime
) -> list[EventDict]:
    if rng.random() >= DELIVERED:
        return []
    at = min(
        now, datetime.fromisoformat(command["send_at"]) + timedelta(seconds=rng.uniform(2, 60))
    )
    events = [_outcome(rng, command, "delivered", at)]
    if rng.random() < OPTED_OUT:
        return [*events, _outcome(rng, command, "opted_out", min(now, at + timedelta(minutes=5)))]
    draw = rng.random() * DELIVERED  # one draw: converted < clicked < opened, nested
    steps = [("opened", OPENED), ("clicked", CLICKED), ("converted", CONVERTED)]
    for outcome, share in steps:
        if draw >= share:
            break
        at = min(now, at + timedelta(minutes=rng.uniform(1, 90)))
        value = None
        if outcome == "converted":
            value = str(Decimal(f"{rng.uniform(*CONVERSION_VALUES):.2f}"))
        events.append(_outcome(rng, command, outcome, at, value))
    return events


def _responses(rng: random.Random, command: dict[str, Any], now: datetime) -> list[EventDict]:
    response = rng.choices(RESPONSES, RESPONSE_WEIGHTS)[0]
    at = min(
        now, datetime.fromisoformat(command["created_at"]) + timedelta(hours=rng.uniform(1, 12))
    )
    return [_outcome(rng, command, response, at)]


def _outcome(
    rng: random.Random,
    command: dict[str, Any],
    outcome: str,
    at: datetime,
    value: str | None = None,
) -> EventDict:
    payload: dict[str, Any] = {"type": "comms_outcome", "command_id": command["command_id"],
                               "outcome": outcome}  # fmt: skip
    if command.get("channel"):
        payload["channel"] = command["channel"]
    if value is not None:
        payload["value"] = value
    return {
        "schema_version": 1,
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "user_id": command["user_id"],
        "occurred_at": at.isoformat(),
        "source": "backend",
        "payload": payload,
    }


#: Longest wait to read the command topics to their current end.
READ_TIMEOUT_SECONDS = 60.0


async def read_commands(settings: Settings, specs: Iterable[TopicSpec]) -> list[dict[str, Any]]:
    """Read every message now on the topics of ``specs``, from the start, decoded."""
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    await admin.start()
    try:
        partitions = await topic_partitions(
            admin, [spec.full_name(settings.topic_prefix) for spec in specs]
        )
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(**settings.kafka_client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions) if partitions else {}
        wanted = [tp for tp in partitions if ends[tp] > 0]
        commands: list[dict[str, Any]] = []
        if not wanted:
            return commands
        consumer.assign(wanted)
        await consumer.seek_to_beginning(*wanted)
        deadline = time.monotonic() + READ_TIMEOUT_SECONDS
        while [tp for tp in wanted if await consumer.position(tp) < ends[tp]]:
            if time.monotonic() > deadline:
                msg = f"could not read the commands within {READ_TIMEOUT_SECONDS:.0f} s"
                raise RuntimeError(msg)
            batch = await consumer.getmany(*wanted, timeout_ms=500)
            commands += [orjson.loads(r.value) for records in batch.values() for r in records]
        return commands
    finally:
        await consumer.stop()
