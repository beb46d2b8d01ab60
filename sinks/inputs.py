"""Input events the sink keeps: command outcomes, and from behaviour events what reports need.

``comms.outcomes`` is read in full: every outcome becomes an ``outcomes`` row, and an
unusable message a dead letter. ``behavior.events`` is read in full too, since issue 13's
cohorts: every valid event is its user's UTC day (a ``user_days`` row, one per user and
day however many events: ``sinks.batch`` folds repeats within a batch and the table's key
the rest), and a purchase, a missed payment or an ``alert_rule`` (an alert created,
enabled, disabled or deleted: the recommender's labels and acceptances) also its
``purchases``, ``missed_payments`` or ``alert_actions`` row. Decoding is most of the
sink's work on that topic (about 20 µs an event, against 1 µs to read one without
validating), so an event whose day the pending batch holds already, and that cannot be
anything more, is folded into it undecoded (``behavior_user_day``): valid or not, it would
add nothing.

The stream worker reads these topics too and dead-letters what it rejects. The sink
decodes with the worker's own intake (``schemas.intake``: same sanitising, envelope, key
and clock checks), so an event is never both a dead letter and a row. Rejected behaviour
events are left to the worker's dead-letter topic; a rejected outcome is dead-lettered
here too, under the same id as the worker's dead letter of it, so it is one
``dead_letters`` row either way.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson

from schemas import intake
from schemas.events import AlertRule, CommsOutcome, Event, Payment, Purchase
from schemas.intake import Rejection, decode_event
from schemas.privacy import ErasureRequest
from sinks.messages import ConsumedMessage, Row, dead_letter_row, table_of
from sinks.route import Route
from sinks.tables import AlertActionRow, MissedPayment, PurchaseRow, UserDay

USER_DAYS = table_of(UserDay)
PURCHASES = table_of(PurchaseRow)
MISSED_PAYMENTS = table_of(MissedPayment)
ALERT_ACTIONS = table_of(AlertActionRow)
#: A behaviour event holding any of these is always decoded: it may be a purchase, a
#: missed payment or an alert rule (a row of its own besides the day), or spell one with
#: a JSON escape (``"\u0070urchase"``), which the worker reads as the plain word.
OWN_ROW_MARKERS = (b'"purchase"', b'"missed"', b'"alert_rule"', b"\\u")


def decode_input(source: ConsumedMessage, now: datetime) -> Event | Rejection:
    """Validate one input-topic message exactly as the worker's intake does.

    An erasure request is a rejection here (it is no event): it makes no row.
    """
    return decode_event(source.key, source.value, now=now)[0]


def outcome_rows(source: ConsumedMessage, route: Route, now: datetime) -> tuple[Row, ...]:
    """Return the ``outcomes`` row of a ``comms.outcomes`` message, or its dead letter.

    Other valid event types on the topic are the worker's business (it accepts them):
    no row, nothing to store; so is an erasure request (``schemas.privacy``), which the
    worker applies and ``nudge users forget`` follows up in the database.
    """
    event, _ = intake.decode_input(source.key, source.value, now=now)
    if isinstance(event, Rejection):
        return (dead_letter_row(source, event.kind, event.error, now),)
    if isinstance(event, ErasureRequest):
        return ()
    payload = event.payload
    if not isinstance(payload, CommsOutcome):
        return ()
    values = {
        "event_id": event.event_id,
        "command_id": payload.command_id,
        "user_id": event.user_id,
        "outcome": payload.outcome,
        "channel": None if payload.channel is None else payload.channel.value,
        "value": payload.value,
        "occurred_at": event.occurred_at,
    }
    return (Row(route.table, values, source),)


def behavior_rows(source: ConsumedMessage, route: Route, now: datetime) -> tuple[Row, ...]:
    """Return a behaviour event's ``user_days`` row, then its purchase, payment or alert action.

    ``route.table`` is ``user_days``. An unusable message makes no row: the worker
    dead-letters it. Identifiers, dates and currency codes hold no NUL (the contract
    refuses control characters in them), so only a missed payment's free text is walked.
    """
    event = decode_input(source, now)
    if isinstance(event, Rejection):
        return ()
    day = {"user_id": event.user_id, "day": event.occurred_at.astimezone(UTC).date()}
    user_day = Row(route.table, day, source, nul_free=True)
    payload = event.payload
    if isinstance(payload, Purchase):
        return (user_day, purchase_row(event, payload, source))
    if isinstance(payload, Payment) and payload.status == "missed":
        return (user_day, missed_payment_row(event, payload, source))
    if isinstance(payload, AlertRule):
        return (user_day, alert_action_row(event, payload, source))
    return (user_day,)


def purchase_row(event: Event, payload: Purchase, source: ConsumedMessage) -> Row:
    """Return the ``purchases`` row of a purchase event."""
    values = {
        "event_id": event.event_id,
        "user_id": event.user_id,
        "occurred_at": event.occurred_at,
        "product_id": payload.product_id,
        "amount": payload.amount,
        "currency": payload.currency,
    }
    return Row(PURCHASES, values, source, nul_free=True)


def missed_payment_row(event: Event, payload: Payment, source: ConsumedMessage) -> Row:
    """Return the ``missed_payments`` row of a payment with status ``missed``."""
    values = {
        "event_id": event.event_id,
        "user_id": event.user_id,
        "occurred_at": event.occurred_at,
        "amount": payload.amount,
        "currency": payload.currency,
        "due_date": payload.due_date,
        "account_kind": payload.account_kind,
    }
    return Row(MISSED_PAYMENTS, values, source)


def alert_action_row(event: Event, payload: AlertRule, source: ConsumedMessage) -> Row:
    """Return the ``alert_actions`` row of an ``alert_rule`` event.

    Its ids are ``Identifier``s and the rest enums, which hold no NUL: not walked.
    """
    values = {
        "user_id": event.user_id,
        "event_id": event.event_id,
        "occurred_at": event.occurred_at,
        "alert_type": payload.alert_type.value,
        "action": payload.action.value,
        "rule_id": payload.rule_id,
        "recommendation_id": payload.recommendation_id,
    }
    return Row(ALERT_ACTIONS, values, source, nul_free=True)


def behavior_user_day(source: ConsumedMessage) -> tuple[str, str, date] | None:
    """Return ``("user_days", user, day)`` if that row is all a behaviour event can make.

    Read without validating: the user is the message's key, which must be the event's
    ``user_id`` as written, and the day the UTC day of ``occurred_at`` as written, an ISO
    time with an offset. Anything else (no key, another spelling, a possible purchase or
    missed payment) is ``None``: decode it. If the event is valid its row is that one; if
    not, it has none. Either way, when the batch holds that row already, folding the event
    into it undecoded stores exactly what decoding it would.
    """
    value, key = source.value, source.key
    if value is None or key is None or any(marker in value for marker in OWN_ROW_MARKERS):
        return None
    try:
        document = orjson.loads(value)
        user = key.decode()
        at = datetime.fromisoformat(document["occurred_at"])
        day = at.astimezone(UTC).date() if at.tzinfo is not None else None
    except (
        orjson.JSONDecodeError, UnicodeDecodeError, LookupError, TypeError, ValueError,
        OverflowError,  # a time near year 1 or 9999 that UTC cannot hold
    ):  # fmt: skip
        return None
    if day is None or document.get("user_id") != user:
        return None
    return (USER_DAYS.name, user, day)
