"""Malformed input messages, as broken producers really send them: for the dead-letter path.

Pure: no I/O. Each malformation starts from a valid transaction event and breaks exactly
one thing, so every message fails ``schemas.events.parse_event`` for a known reason.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import orjson

EventDict = dict[str, Any]
#: A Kafka message: (key, value).
Message = tuple[bytes | None, bytes]


def _not_json(event: EventDict) -> bytes:
    """A log line where JSON was expected."""
    payload = event["payload"]
    return f"{event['user_id']} spent {payload['amount']} at {payload['merchant']}".encode()


def _truncated_json(event: EventDict) -> bytes:
    """JSON cut off mid-way (a producer that died while writing)."""
    whole = orjson.dumps(event)
    return whole[: len(whole) // 2]


def _missing_event_id(event: EventDict) -> bytes:
    del event["event_id"]
    return orjson.dumps(event)


def _amount_wrong_type(event: EventDict) -> bytes:
    """An amount formatted for people, not machines."""
    event["payload"]["amount"] = f"{event['payload']['amount']} USD"
    return orjson.dumps(event)


def _unknown_payload_type(event: EventDict) -> bytes:
    event["payload"]["type"] = "crypto_trade"
    return orjson.dumps(event)


def _naive_datetime(event: EventDict) -> bytes:
    """A local time without its UTC offset: the instant is unknowable."""
    event["occurred_at"] = datetime.fromisoformat(event["occurred_at"]).replace(tzinfo=None)
    return orjson.dumps(event)


def _negative_amount(event: EventDict) -> bytes:
    """A refund sent as a negative debit instead of a credit."""
    event["payload"]["amount"] = f"-{event['payload']['amount']}"
    return orjson.dumps(event)


def _json_array(event: EventDict) -> bytes:
    """A batch of events where one event was expected."""
    return orjson.dumps([event])


#: Malformation name -> how it breaks a valid event (the dict may be changed in place).
MALFORMATIONS: dict[str, Callable[[EventDict], bytes]] = {
    "not_json": _not_json,
    "truncated_json": _truncated_json,
    "missing_event_id": _missing_event_id,
    "amount_wrong_type": _amount_wrong_type,
    "unknown_payload_type": _unknown_payload_type,
    "naive_datetime": _naive_datetime,
    "negative_amount": _negative_amount,
    "json_array": _json_array,
}


def valid_transaction(rng: random.Random) -> EventDict:
    """Return a valid debit transaction event drawn from ``rng``; the malformations' base."""
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(90 * 86_400))
    return {
        "schema_version": 1,
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "user_id": f"user-broken-{rng.randrange(1000):03d}",
        "occurred_at": at.isoformat(),
        "source": "backend",
        "context": {"device": "web", "country": "US"},
        "payload": {
            "type": "transaction",
            "amount": f"{rng.randrange(100, 20_000) / 100:.2f}",
            "currency": "USD",
            "merchant": rng.choice(("FreshMart", "Corner Cafe", "QuickFuel")),
            "category": "groceries",
            "direction": "debit",
        },
    }


def malformed_stream(*, seed: int) -> Iterator[tuple[str, Message]]:
    """Yield (malformation name, message) forever, every kind once per round, shuffled.

    Keys are the user id the event names, except for an unkeyed message now and then.
    """
    rng = random.Random(f"malformed:{seed}")  # noqa: S311 - a simulation, not security
    names = sorted(MALFORMATIONS)
    while True:
        rng.shuffle(names)
        for name in names:
            event = valid_transaction(rng)
            key = None if rng.random() < 0.1 else event["user_id"].encode()
            yield name, (key, MALFORMATIONS[name](event))


def malformed_messages(n: int, *, seed: int) -> list[Message]:
    """Return ``n`` malformed (key, value) messages; every kind appears once ``n`` >= 8.

    Args:
        n: How many messages.
        seed: Same seed, same messages.

    Raises:
        ValueError: ``n`` is negative.
    """
    if n < 0:
        msg = f"n must be >= 0, not {n}"
        raise ValueError(msg)
    return [message for _, message in islice(malformed_stream(seed=seed), n)]
