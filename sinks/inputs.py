"""Input events the sink keeps: command outcomes and missed payments (no I/O).

``comms.outcomes`` is read in full: every outcome becomes an ``outcomes`` row, and an
unusable message a dead letter. ``behavior.events`` is the busiest topic and the sink
needs only payments with status ``missed`` from it, so every message is first checked
for two byte strings (``"missed"`` and ``"payment"``, ~0.1 µs) and only the few that
hold both are decoded; the rest are skipped unread, their offsets still committed.

The stream worker reads these topics too and dead-letters what it rejects. The sink
applies the worker's acceptance rules (same envelope, same key and clock checks; over-long
text is cut, not refused, as the worker's intake does), so an event is not both a dead
letter and a row. Rejected behaviour events are left to the worker's dead-letter
topic; a rejected outcome is dead-lettered here too, under the same id as the worker's
dead letter of it, so it is one ``dead_letters`` row either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError

from schemas.events import MAX_TEXT_LENGTH, CommsOutcome, Event, Payment
from schemas.records import RejectionKind
from schemas.validation import describe_validation_error
from sinks.messages import Row, Source, dead_letter_row

if TYPE_CHECKING:
    from sinks.rows import Route

#: The worker's intake rejects events further ahead of its clock than this
#: (``streams.intake.FUTURE_TOLERANCE``); the sink must agree with it, so it is the same.
FUTURE_TOLERANCE = timedelta(hours=1)
#: Every missed-payment event holds both (``"type": "payment"``, ``"status": "missed"``).
#: A message without them is skipped without decoding; one with them by chance (a
#: merchant called "missed") is decoded and then skipped.
MISSED_PAYMENT_MARKERS = (b'"missed"', b'"payment"')


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an input message is unusable: a kind and field paths, never values."""

    kind: RejectionKind
    error: str


def decode_input(source: Source, now: datetime) -> Event | Rejection:
    """Validate one input-topic message as the worker's intake does.

    ``context`` is not read (the sink stores none of it), so its free text cannot make
    the sink refuse what the worker accepts; other over-long text is cut to
    ``MAX_TEXT_LENGTH`` as the intake cuts it.

    Args:
        source: The message; its key, when present, must be the event's ``user_id``.
        now: Processing time; events more than ``FUTURE_TOLERANCE`` ahead are rejected.
    """
    try:
        document = orjson.loads(source.value or b"")
    except orjson.JSONDecodeError as exc:
        return Rejection(RejectionKind.NOT_JSON, f"not JSON: {exc.msg}")
    if not isinstance(document, dict):
        error = f"expected a JSON object, got {type(document).__name__}"
        return Rejection(RejectionKind.INVALID, error)
    document.pop("context", None)
    try:
        event = Event.model_validate(_clipped(document))
    except ValidationError as exc:
        return Rejection(RejectionKind.INVALID, describe_validation_error(exc))
    if event.occurred_at > now + FUTURE_TOLERANCE:
        error = f"occurred_at: more than {FUTURE_TOLERANCE} ahead of the processing clock"
        return Rejection(RejectionKind.INVALID, error)
    if source.key is not None and source.key != event.user_id.encode():
        error = "message key is not the event's user_id (events must be keyed by user)"
        return Rejection(RejectionKind.KEY_MISMATCH, error)
    return event


def outcome_row(source: Source, route: Route, now: datetime) -> Row | None:
    """Return the ``outcomes`` row of a ``comms.outcomes`` message, or its dead letter.

    Other valid event types on the topic are the worker's business (it accepts them):
    ``None``, nothing to store.
    """
    event = decode_input(source, now)
    if isinstance(event, Rejection):
        return dead_letter_row(source, event.kind, event.error, now)
    payload = event.payload
    if not isinstance(payload, CommsOutcome):
        return None
    values = {
        "event_id": event.event_id,
        "command_id": payload.command_id,
        "user_id": event.user_id,
        "outcome": payload.outcome,
        "channel": None if payload.channel is None else payload.channel.value,
        "value": payload.value,
        "occurred_at": event.occurred_at,
    }
    return Row(route.table, values, source)


def missed_payment_row(source: Source, route: Route, now: datetime) -> Row | None:
    """Return the ``missed_payments`` row of a missed payment; ``None`` for anything else.

    Unusable messages are ``None`` too: the worker dead-letters them.
    """
    value = source.value or b""
    if not all(marker in value for marker in MISSED_PAYMENT_MARKERS):
        return None
    event = decode_input(source, now)
    if isinstance(event, Rejection):
        return None
    payload = event.payload
    if not isinstance(payload, Payment) or payload.status != "missed":
        return None
    values = {
        "event_id": event.event_id,
        "user_id": event.user_id,
        "occurred_at": event.occurred_at,
        "amount": payload.amount,
        "currency": payload.currency,
        "due_date": payload.due_date,
        "account_kind": payload.account_kind,
    }
    return Row(route.table, values, source)


def _clipped(node: Any) -> Any:
    """Return ``node`` with strings longer than ``MAX_TEXT_LENGTH`` cut, as the intake does."""
    if isinstance(node, dict):
        return {name: _clipped(child) for name, child in node.items()}
    if isinstance(node, list):
        return [_clipped(child) for child in node]
    if isinstance(node, str) and len(node) > MAX_TEXT_LENGTH:
        return node[:MAX_TEXT_LENGTH]
    return node
