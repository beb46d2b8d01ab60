r"""Input events the sink keeps: command outcomes and missed payments (no I/O).

``comms.outcomes`` is read in full: every outcome becomes an ``outcomes`` row, and an
unusable message a dead letter. ``behavior.events`` is the busiest topic and the sink
needs only payments with status ``missed`` from it, so every message is first checked
for two byte strings (``"missed"`` and ``"payment"``, ~0.1 µs) and only the few that
hold both, or a JSON ``\u`` escape (which can spell them otherwise), are decoded; the
rest are skipped unread, their offsets still committed.

The stream worker reads these topics too and dead-letters what it rejects. The sink
decodes with the worker's own intake (``schemas.intake``: same sanitising, envelope, key
and clock checks), so an event is never both a dead letter and a row. Rejected behaviour
events are left to the worker's dead-letter topic; a rejected outcome is dead-lettered
here too, under the same id as the worker's dead letter of it, so it is one
``dead_letters`` row either way.
"""

from __future__ import annotations

from datetime import datetime

from schemas.events import CommsOutcome, Event, Payment
from schemas.intake import Rejection, decode_event
from sinks.messages import ConsumedMessage, Row, dead_letter_row
from sinks.route import Route

#: Every missed-payment event holds both (``"type": "payment"``, ``"status": "missed"``).
#: A message without them is skipped without decoding; one with them by chance (a
#: merchant called "missed") is decoded and then skipped.
MISSED_PAYMENT_MARKERS = (b'"missed"', b'"payment"')
#: JSON may spell any character as ``\uXXXX`` (``"\u006dissed"`` is ``"missed"``): the
#: worker accepts such a message, so one with an escape is always decoded.
JSON_ESCAPE = b"\\u"


def decode_input(source: ConsumedMessage, now: datetime) -> Event | Rejection:
    """Validate one input-topic message exactly as the worker's intake does."""
    return decode_event(source.key, source.value, now=now)[0]


def outcome_row(source: ConsumedMessage, route: Route, now: datetime) -> Row | None:
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


def missed_payment_row(source: ConsumedMessage, route: Route, now: datetime) -> Row | None:
    """Return the ``missed_payments`` row of a missed payment; ``None`` for anything else.

    Unusable messages are ``None`` too: the worker dead-letters them.
    """
    value = source.value or b""
    marked = all(marker in value for marker in MISSED_PAYMENT_MARKERS)
    if not marked and JSON_ESCAPE not in value:
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
