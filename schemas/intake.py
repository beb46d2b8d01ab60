"""The edge: raw Kafka bytes in, a validated ``Event`` or a dead letter out.

Policy: a message that cannot be used is never dropped and never crashes the worker. It
becomes a ``DeadLetter`` with the original bytes and the reason, goes to the input topic's
dead-letter topic (and from there to the database), a counter goes up, and processing
goes on with the next message. Before validation, sensitive keys are removed, over-long
text is cut and NUL characters in text are replaced, so none of them reaches the state,
the commands, the database or the logs.

What the arithmetic and the libraries downstream can hold is bounded here, before any of
them sees the message: its size before parsing, its nesting depth before walking it, and
(in ``schemas.events``) number ranges, IANA time-zone names and identifiers without
control characters. Each rejection names the field path, never the value.

It lives in ``schemas`` because both the stream worker and the sink read input topics and
must accept and refuse exactly the same messages.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson
from pydantic import ValidationError

from schemas.events import MAX_TEXT_LENGTH, Event
from schemas.ids import dead_letter_id
from schemas.privacy import CONTROL_FIELD, ErasureRequest
from schemas.records import DeadLetter, RejectionKind
from schemas.validation import describe_validation_error, field_step

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
#: Largest message the intake parses. Events are a few hundred bytes; the largest valid
#: one (a career signal listing 200 skills of 1,024 characters) stays under this.
MAX_MESSAGE_BYTES = 256 * 1024
#: Deepest nesting of objects and arrays anywhere in a message (an event needs 3). Bounds
#: the sanitiser's and the validator's recursion whatever the producer sends.
MAX_DEPTH = 16
#: A dead letter keeps at most this much of the original value and key: the letter,
#: base64 and wrapped in JSON, must fit a Kafka record (1 MiB by default) whatever came in.
DEAD_LETTER_VALUE_BYTES = 64 * 1024
DEAD_LETTER_KEY_BYTES = 1024
#: Replaces NUL in text: PostgreSQL cannot store NUL, and it has no place in user text.
NUL_REPLACEMENT = "\ufffd"
#: In a value that is not JSON (so cannot be sanitised field by field): a sensitive key
#: followed by ``:`` or ``=`` and its value, which is redacted.
_SECRET_IN_TEXT = re.compile(
    rb"""(?i)(["']?(?:[a-z_-]*(?:password|passwd|secret|token|api[_-]?key|authorization|"""
    rb"""cookie|card[_-]?number|cvv2?|cvc|ssn|iban|pin)[a-z_-]*)["']?\s*[:=]\s*)"""
    rb"""("[^"]*"|'[^']*'|[^\s,;&}\]]+)"""
)
#: In a value that is not JSON: a run of 13 to 19 digits, optionally grouped.
_CARD_IN_TEXT = re.compile(rb"(?<![0-9])(?:[0-9][ -]?){12,18}[0-9](?![0-9])")
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
    replaced: int = 0
    """Strings whose NUL characters were replaced."""


class NestingTooDeep(ValueError):
    """A message nests objects or arrays deeper than ``MAX_DEPTH``."""

    def __init__(self) -> None:
        super().__init__("nested too deep")
        self.path: deque[str] = deque()


def decode_event(
    key: bytes | None, value: bytes | None, *, now: datetime
) -> tuple[Event | Rejection, Sanitised]:
    """Decode and validate one message of an input topic as an event.

    An erasure request (``schemas.privacy``) is not an event: it is refused here as
    ``invalid``. Readers that act on it use :func:`decode_input`.

    Args:
        key: The Kafka key; must be the event's ``user_id`` when present.
        value: The Kafka value: one JSON event.
        now: Processing time; events more than ``FUTURE_TOLERANCE`` ahead are rejected.

    Returns:
        The event or the rejection, and what the sanitiser removed or cut.
    """
    decoded, report = decode_input(key, value, now=now)
    if isinstance(decoded, ErasureRequest):
        return Rejection(RejectionKind.INVALID, "an erasure request, not an event"), report
    return decoded, report


def decode_input(
    key: bytes | None, value: bytes | None, *, now: datetime
) -> tuple[Event | ErasureRequest | Rejection, Sanitised]:
    """Decode and validate one message of an input topic: an event or an erasure request.

    Args:
        key: The Kafka key; must be the message's ``user_id`` when present.
        value: The Kafka value: one JSON event, or an erasure request (a JSON object
            with ``"control": "erasure_request"``).
        now: Processing time; events more than ``FUTURE_TOLERANCE`` ahead are rejected.

    Returns:
        The event, the erasure request or the rejection, and what the sanitiser removed
        or cut.
    """
    report = Sanitised()
    if value is not None and len(value) > MAX_MESSAGE_BYTES:
        error = f"message is {len(value)} bytes; the intake reads at most {MAX_MESSAGE_BYTES}"
        return Rejection(RejectionKind.TOO_LARGE, error), report
    try:
        document = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        return Rejection(RejectionKind.NOT_JSON, f"not JSON: {exc.msg}"), report
    if not isinstance(document, dict):
        error = f"expected a JSON object, got {type(document).__name__}"
        return Rejection(RejectionKind.INVALID, error), report
    try:
        clean = sanitise(document, report)
    except NestingTooDeep as deep:
        where = ".".join(deep.path) or "(root)"
        error = f"{where}: objects and arrays nested deeper than {MAX_DEPTH} levels"
        return Rejection(RejectionKind.INVALID, error), report
    decoded: Event | ErasureRequest
    try:
        if CONTROL_FIELD in clean:
            decoded = ErasureRequest.model_validate(clean)
        else:
            decoded = Event.model_validate(clean)
    except ValidationError as exc:
        return Rejection(RejectionKind.INVALID, describe_validation_error(exc)), report
    at = decoded.occurred_at if isinstance(decoded, Event) else decoded.requested_at
    if at > now + FUTURE_TOLERANCE:
        field = "occurred_at" if isinstance(decoded, Event) else "requested_at"
        error = f"{field}: more than {FUTURE_TOLERANCE} ahead of the processing clock"
        return Rejection(RejectionKind.INVALID, error), report
    if key is not None and key != decoded.user_id.encode():
        error = "message key is not the event's user_id (events must be keyed by user)"
        return Rejection(RejectionKind.KEY_MISMATCH, error), report
    return decoded, report


def sanitise(node: Any, report: Sanitised, *, identifier: bool = False, depth: int = 0) -> Any:
    """Return ``node`` without sensitive keys, card numbers, NUL or over-long text.

    Args:
        node: Decoded JSON.
        report: Counts what was removed, cut or replaced.
        identifier: ``node`` is the value of an id field (``*_id``): a numeric id may pass
            the card-number check, and redacting it would merge distinct events or users.
            Ids are left as sent (the schema refuses control characters in them).
        depth: How deep ``node`` is nested.

    Raises:
        NestingTooDeep: Objects or arrays nest deeper than ``MAX_DEPTH``; its ``path``
            names where (mapping keys that are not field names are shown as ``*``).
    """
    if isinstance(node, dict | list):
        if depth >= MAX_DEPTH:
            raise NestingTooDeep
        if isinstance(node, list):
            return _sanitise_items(node, report, depth)
        return _sanitise_fields(node, report, depth)
    if isinstance(node, str) and not identifier:
        return _sanitise_text(node, report)
    return node


def _sanitise_items(items: list[Any], report: Sanitised, depth: int) -> list[Any]:
    kept = []
    for index, child in enumerate(items):
        try:
            kept.append(sanitise(child, report, depth=depth + 1))
        except NestingTooDeep as deep:
            deep.path.appendleft(field_step(index))
            raise
    return kept


def _sanitise_fields(fields: dict[str, Any], report: Sanitised, depth: int) -> dict[str, Any]:
    kept = {}
    for key, child in fields.items():
        try:
            if is_sensitive(key):
                report.removed += 1
                if isinstance(child, dict | list):
                    check_depth(child, depth + 1)  # dropped, but bounded all the same
            else:
                kept[key] = sanitise(child, report, identifier=key.endswith("_id"), depth=depth + 1)
        except NestingTooDeep as deep:
            deep.path.appendleft(field_step(key))
            raise
    return kept


def _sanitise_text(text: str, report: Sanitised) -> str:
    if CARD_NUMBER.match(text) and luhn_valid(text):
        report.removed += 1
        return REDACTED
    if len(text) > MAX_TEXT_LENGTH:
        report.truncated += 1
        text = text[:MAX_TEXT_LENGTH]
    if "\x00" in text:
        report.replaced += 1
        text = text.replace("\x00", NUL_REPLACEMENT)
    return text


def check_depth(node: Any, depth: int) -> None:
    """Raise ``NestingTooDeep`` if ``node``, at ``depth``, nests deeper than ``MAX_DEPTH``.

    Iterative: for subtrees the sanitiser drops without walking them.
    """
    stack = [(node, depth)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            if level >= MAX_DEPTH:
                raise NestingTooDeep
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)


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
    """Wrap a rejected message for the dead-letter topic.

    The bytes are the original's, except that what the intake would have removed
    (sensitive keys, card numbers) is redacted, and a value or key too large for a Kafka
    record keeps only its head. The original's length and SHA-256 are always kept.
    """
    original = value or b""
    kept, redacted = redact(original)
    truncated = len(kept) > DEAD_LETTER_VALUE_BYTES or (
        key is not None and len(key) > DEAD_LETTER_KEY_BYTES
    )
    return DeadLetter(
        dead_letter_id=dead_letter_id(topic, partition, offset),
        topic=topic,
        partition=partition,
        offset=offset,
        key=None if key is None else base64.b64encode(key[:DEAD_LETTER_KEY_BYTES]).decode(),
        value=base64.b64encode(kept[:DEAD_LETTER_VALUE_BYTES]).decode(),
        kind=rejection.kind,
        error=rejection.error,
        failed_at=failed_at,
        value_length=len(original),
        value_sha256=hashlib.sha256(original).hexdigest(),
        redacted=redacted,
        truncated=truncated,
    )


def redact(value: bytes) -> tuple[bytes, bool]:
    """Return ``value`` without what the sanitiser removes, and whether anything was.

    JSON goes through the sanitiser itself and is written back compactly; anything else
    (broken JSON, text, binary) has sensitive ``key: value`` pairs and card-number shaped
    digit runs that pass the Luhn check replaced by ``[redacted]``.
    """
    if not value:
        return value, False
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError:
        pass
    else:
        report = Sanitised()
        try:
            clean = sanitise(document, report)
        except NestingTooDeep:
            pass  # too deep to walk: scrub it as text below
        else:
            if not report.removed:
                return value, False
            return orjson.dumps(clean), True
    found = False

    def secret(match: re.Match[bytes]) -> bytes:
        nonlocal found
        found = True
        return match.group(1) + REDACTED.encode()

    def card(match: re.Match[bytes]) -> bytes:
        nonlocal found
        if not luhn_valid(match.group(0).decode()):
            return match.group(0)
        found = True
        return REDACTED.encode()

    scrubbed = _CARD_IN_TEXT.sub(card, _SECRET_IN_TEXT.sub(secret, value))
    return scrubbed, found
