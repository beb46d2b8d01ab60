"""The edge: raw Kafka bytes in, a validated ``Event`` or a dead letter out.

Policy: a message that cannot be used is never dropped and never crashes the worker. It
becomes a ``DeadLetter`` with the original bytes and the reason, goes to the input topic's
dead-letter topic (and from there to the database), a counter goes up, and processing
goes on with the next message. Before validation, sensitive keys are removed and
over-long text is cut, so neither reaches the state, the commands or the logs.

It lives in ``schemas`` because both the stream worker and the sink read input topics and
must accept and refuse exactly the same messages.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson
from pydantic import ValidationError

from schemas.events import MAX_TEXT_LENGTH, Event
from schemas.ids import dead_letter_id
from schemas.records import DeadLetter, RejectionKind
from schemas.validation import describe_validation_error

#: Keys removed wherever they appear (compared lower-case, without ``_`` and ``-``).
SENSITIVE_KEYS = frozenset(
    {
        "password", "passwd", "pwd", "secret", "token", "accesstoken", "refreshtoken",
        "apikey", "authorization", "auth", "cookie", "sessiontoken", "cardnumber",
        "creditcard", "pan", "cvv", "cvc", "cvv2", "pin", "ssn", "socialsecuritynumber",
        "accountnumber", "iban", "routingnumber",
    }
)  # fmt: skip
#: Substrings that make a key sensitive whatever else it says (``db_password``...).
SENSITIVE_PARTS = ("password", "secret", "token", "cardnumber")
#: 13 to 19 digits, optionally grouped by spaces or dashes: a payment card number shape.
CARD_NUMBER = re.compile(r"^(?:\d[ -]?){12,18}\d$")
REDACTED = "[redacted]"
#: Producers' clocks drift; an event further ahead of ours than this is a producer error
#: (it would also become every bucket's "newest" and hide the user's real history).
FUTURE_TOLERANCE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was not used: a kind and a message with field paths, no values."""

    kind: RejectionKind
    error: str


@dataclass(slots=True)
class Sanitised:
    """How much the sanitiser changed."""

    removed: int = 0
    truncated: int = 0


def decode_event(
    key: bytes | None, value: bytes | None, *, now: datetime
) -> tuple[Event | Rejection, Sanitised]:
    """Decode and validate one message of an input topic.

    Args:
        key: The Kafka key; must be the event's ``user_id`` when present.
        value: The Kafka value: one JSON event.
        now: Processing time; events more than ``FUTURE_TOLERANCE`` ahead are rejected.

    Returns:
        The event or the rejection, and what the sanitiser removed or cut.
    """
    report = Sanitised()
    try:
        document = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        return Rejection(RejectionKind.NOT_JSON, f"not JSON: {exc.msg}"), report
    if not isinstance(document, dict):
        error = f"expected a JSON object, got {type(document).__name__}"
        return Rejection(RejectionKind.INVALID, error), report
    clean = sanitise(document, report)
    try:
        event = Event.model_validate(clean)
    except ValidationError as exc:
        return Rejection(RejectionKind.INVALID, describe_validation_error(exc)), report
    if event.occurred_at > now + FUTURE_TOLERANCE:
        error = f"occurred_at: more than {FUTURE_TOLERANCE} ahead of the processing clock"
        return Rejection(RejectionKind.INVALID, error), report
    if key is not None and key != event.user_id.encode():
        error = "message key is not the event's user_id (events must be keyed by user)"
        return Rejection(RejectionKind.KEY_MISMATCH, error), report
    return event, report


def sanitise(node: Any, report: Sanitised, *, identifier: bool = False) -> Any:
    """Return ``node`` without sensitive keys, card numbers or over-long text.

    Args:
        node: Decoded JSON.
        report: Counts what was removed or cut.
        identifier: ``node`` is the value of an id field (``*_id``): a numeric id may pass
            the card-number check, and redacting it would merge distinct events or users.
    """
    if isinstance(node, dict):
        kept = {}
        for name, child in node.items():
            if is_sensitive(name):
                report.removed += 1
            else:
                kept[name] = sanitise(child, report, identifier=str(name).endswith("_id"))
        return kept
    if isinstance(node, list):
        return [sanitise(child, report) for child in node]
    if isinstance(node, str):
        if not identifier and CARD_NUMBER.match(node) and luhn_valid(node):
            report.removed += 1
            return REDACTED
        if len(node) > MAX_TEXT_LENGTH:
            report.truncated += 1
            return node[:MAX_TEXT_LENGTH]
    return node


@lru_cache(maxsize=4096)
def is_sensitive(key: str) -> bool:
    """Return whether a key names a secret or payment data (cached: keys repeat)."""
    folded = key.lower().replace("_", "").replace("-", "")
    return folded in SENSITIVE_KEYS or any(part in folded for part in SENSITIVE_PARTS)


def luhn_valid(text: str) -> bool:
    """Return whether the digits of ``text`` pass the Luhn check of card numbers."""
    digits = [int(c) for c in text if c.isdigit()]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def dead_letter(
    rejection: Rejection,
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    failed_at: datetime,
) -> DeadLetter:
    """Wrap a rejected message, bytes untouched, for the dead-letter topic."""
    return DeadLetter(
        dead_letter_id=dead_letter_id(topic, partition, offset),
        topic=topic,
        partition=partition,
        offset=offset,
        key=None if key is None else base64.b64encode(key).decode(),
        value=base64.b64encode(value or b"").decode(),
        kind=rejection.kind,
        error=rejection.error,
        failed_at=failed_at,
    )
