"""Input events -> sink rows, without a database: outcomes, user-days, purchases, payments."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from sqlalchemy.exc import OperationalError

from schemas.ids import dead_letter_id
from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, COMMS_OUTCOMES
from sinks import inputs
from sinks.batch import PendingBatch, StoredRows
from sinks.rows import DEAD_LETTERS, ROUTES, ConsumedMessage, Row
from sinks.worker import Sink
from sinks.writer import WriteResult

AT = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
NOW = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)


def event(payload: dict, *, user: str = "user-1", **envelope) -> bytes:
    document = {
        "event_id": "ev-1",
        "user_id": user,
        "occurred_at": "2025-03-14T10:30:00+01:00",
        "source": "backend",
        "payload": payload,
    }
    return json.dumps(document | envelope).encode()


OPENED = {"type": "comms_outcome", "command_id": "cmd-1", "outcome": "opened", "channel": "sms"}
MISSED = {"type": "payment", "status": "missed", "amount": "120.50", "due_date": "2025-03-10"}
PURCHASE = {"type": "purchase", "product_id": "plan-pro", "amount": "49.90", "currency": "EUR"}
PAGE_VIEW = {"type": "page_view", "path": "/pricing", "category": "pricing"}
ALERT_RULE = {
    "type": "alert_rule",
    "action": "enabled",
    "alert_type": "high_spender",
    "rule_id": "rule-1",
    "recommendation_id": "rec-1",
}


def outcome_source(value: bytes | None, *, key: bytes | None = b"user-1") -> ConsumedMessage:
    return ConsumedMessage("p.comms.outcomes", 1, 30, key, value)


def behavior_source(
    value: bytes | None, *, key: bytes | None = b"user-1", offset: int = 40
) -> ConsumedMessage:
    return ConsumedMessage("p.behavior.events", 0, offset, key, value)


def outcome_rows(value: bytes | None, *, key: bytes | None = b"user-1") -> tuple[Row, ...]:
    return ROUTES[COMMS_OUTCOMES].rows(outcome_source(value, key=key), NOW)


def behavior_rows(value: bytes | None, *, key: bytes | None = b"user-1") -> tuple[Row, ...]:
    return ROUTES[BEHAVIOR_EVENTS].rows(behavior_source(value, key=key), NOW)


# --- comms.outcomes ------------------------------------------------------------------------


def test_an_outcome_becomes_an_outcomes_row():
    converted = OPENED | {"outcome": "converted", "value": "19.99", "channel": None}
    (row,) = outcome_rows(event(converted))
    assert not row.rejected and row.table.name == "outcomes"
    assert row.values == {
        "event_id": "ev-1",
        "command_id": "cmd-1",
        "user_id": "user-1",
        "outcome": "converted",
        "channel": None,
        "value": Decimal("19.99"),
        "occurred_at": AT,
    }
    assert row.values["occurred_at"].tzinfo is not None
    (opened,) = outcome_rows(event(OPENED))
    assert opened.values["channel"] == "sms"


@pytest.mark.parametrize(
    ("value", "key", "kind", "error"),
    [
        (b"{not json", b"user-1", "not_json", "not JSON"),
        (b"[1]", b"user-1", "invalid", "expected a JSON object, got list"),
        (event(OPENED | {"outcome": "loved_it"}), b"user-1", "invalid", "payload.comms_outcome"),
        (event(OPENED), b"someone-else", "key_mismatch", "message key is not the event's"),
        (
            event(OPENED, occurred_at="2025-03-14T12:00:00+00:00"),
            b"user-1",
            "invalid",
            "occurred_at: more than 1:00:00 ahead",
        ),
    ],
)
def test_an_unusable_outcome_is_a_dead_letter_under_the_workers_id(value, key, kind, error):
    (row,) = outcome_rows(value, key=key)
    assert row.rejected and row.table is DEAD_LETTERS
    # The worker dead-letters the same message under the same id: one row, whoever is first.
    assert row.values["dead_letter_id"] == dead_letter_id("p.comms.outcomes", 1, 30)
    assert row.values["kind"] == kind and row.values["error"].startswith(error)
    assert "loved_it" not in row.values["error"]


def test_the_sink_accepts_outcomes_the_worker_accepts():
    # The worker cuts over-long text; the sink stores no context at all, so neither refuses.
    long_agent = event(OPENED, context={"user_agent": "x" * 5000, "country": "GB"})
    (long_row,) = outcome_rows(long_agent)
    assert not long_row.rejected
    (keyless,) = outcome_rows(event(OPENED), key=None)
    assert not keyless.rejected and keyless.table.name == "outcomes"
    # Another event type on the outcomes topic is valid for the worker: nothing to store.
    assert outcome_rows(event(PAGE_VIEW)) == ()


def test_the_sink_refuses_and_redacts_exactly_as_the_worker_does():
    # An invalid context is the worker's dead letter: the sink must not store it as a row.
    (refused,) = outcome_rows(event(OPENED, context={"country": "usa"}))
    assert refused.rejected
    assert behavior_rows(event(MISSED, context={"country": "usa"})) == ()
    # A card number in free text is redacted before it can reach a table.
    _, missed = behavior_rows(event(MISSED | {"account_kind": "4111 1111 1111 1111"}))
    assert missed.values["account_kind"] == "[redacted]"


# --- behavior.events: user-days, purchases, missed payments --------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        PAGE_VIEW,
        {"type": "transaction", "amount": "12.00", "merchant": "missed"},
        MISSED | {"status": "paid"},
        OPENED,  # an outcome sent to the behaviour topic is still the user's event
    ],
)
def test_every_valid_behaviour_event_is_its_users_utc_day(payload):
    (row,) = behavior_rows(event(payload))
    assert row.table.name == "user_days" and not row.rejected and row.shared
    assert row.values == {"user_id": "user-1", "day": date(2025, 3, 14)}
    assert row.key == ("user-1", date(2025, 3, 14))


@pytest.mark.parametrize(
    ("occurred_at", "day"),
    [
        ("2025-03-14T00:30:00+01:00", date(2025, 3, 13)),  # 23:30 UTC the day before
        ("2025-03-13T23:59:59.999999+00:00", date(2025, 3, 13)),
        ("2025-03-14T00:00:00+00:00", date(2025, 3, 14)),
        ("2025-03-13T19:30:00-05:00", date(2025, 3, 14)),  # 00:30 UTC the next day
    ],
)
def test_the_day_is_the_utc_day_of_the_event_time(occurred_at, day):
    (row,) = behavior_rows(event(PAGE_VIEW, occurred_at=occurred_at))
    assert row.values["day"] == day


def test_a_purchase_is_its_users_day_and_a_purchases_row():
    user_day, purchase = behavior_rows(event(PURCHASE))
    assert user_day.table.name == "user_days"
    assert purchase.table.name == "purchases" and not purchase.rejected and not purchase.shared
    assert purchase.values == {
        "event_id": "ev-1",
        "user_id": "user-1",
        "occurred_at": AT,
        "product_id": "plan-pro",
        "amount": Decimal("49.90"),
        "currency": "EUR",
    }
    assert purchase.key == ("user-1", "ev-1") and purchase.source == user_day.source
    required = {c.name for c in purchase.table.columns if not c.nullable and not c.server_default}
    assert required <= set(purchase.values) <= set(purchase.table.columns.keys())


def test_a_missed_payment_is_its_users_day_and_a_missed_payments_row():
    user_day, row = behavior_rows(event(MISSED))
    assert user_day.table.name == "user_days"
    assert row.table.name == "missed_payments" and not row.rejected
    assert row.values == {
        "event_id": "ev-1",
        "user_id": "user-1",
        "occurred_at": AT,
        "amount": Decimal("120.50"),
        "currency": "USD",
        "due_date": date(2025, 3, 10),
        "account_kind": "loan",
    }
    _, long_kind = behavior_rows(event(MISSED | {"account_kind": "k" * 2000}))
    assert long_kind.values["account_kind"] == "k" * 1024  # cut, as the worker does


def test_an_alert_rule_is_its_users_day_and_an_alert_actions_row():
    user_day, action = behavior_rows(event(ALERT_RULE))
    assert user_day.table.name == "user_days"
    assert action.table.name == "alert_actions" and not action.rejected and not action.shared
    assert action.values == {
        "user_id": "user-1",
        "event_id": "ev-1",
        "occurred_at": AT,
        "alert_type": "high_spender",
        "action": "enabled",
        "rule_id": "rule-1",
        "recommendation_id": "rec-1",
    }
    assert action.key == ("user-1", "ev-1")
    required = {c.name for c in action.table.columns if not c.nullable and not c.server_default}
    assert required <= set(action.values) <= set(action.table.columns.keys())
    bare = {"type": "alert_rule", "action": "deleted", "alert_type": "new_merchant"}
    _, deleted = behavior_rows(event(bare))
    assert (deleted.values["action"], deleted.values["rule_id"]) == ("deleted", None)


@pytest.mark.parametrize(
    "value",
    [
        event(ALERT_RULE | {"alert_type": "no_such_alert"}),  # the worker's dead letter
        event(MISSED | {"amount": "-3"}),  # invalid: the worker's dead letter, not ours
        event(PURCHASE | {"amount": "-1"}),
        event(PURCHASE | {"currency": "euro"}),
        event(MISSED, occurred_at="2025-03-14T12:00:00+00:00"),  # too far ahead: the same
        event(PAGE_VIEW, occurred_at="2025-03-14T09:30:00"),  # no time zone
        b'{"payment": "missed", broken',
        b"{not json at all",
        None,
    ],
)
def test_a_behaviour_event_the_worker_rejects_makes_no_row_and_no_dead_letter(value):
    assert behavior_rows(value) == ()


def test_a_behaviour_event_with_another_users_key_makes_no_row():
    assert behavior_rows(event(PURCHASE), key=b"other") == ()
    # Keyed by its own user (or not keyed), the same message is its rows.
    assert [r.table.name for r in behavior_rows(event(PURCHASE), key=b"user-1")] == [
        "user_days",
        "purchases",
    ]
    assert len(behavior_rows(event(PURCHASE), key=None)) == 2


@pytest.mark.parametrize(
    "spelling",
    [
        (b'"missed"', b'"\\u006dissed"'),
        (b'"payment"', b'"pay\\u006dent"'),
        (b'"purchase"', b'"pur\\u0063hase"'),
    ],
)
def test_an_event_spelled_with_json_escapes_is_kept_as_the_worker_reads_it(spelling):
    plain, escaped = spelling
    source = MISSED if plain != b'"purchase"' else PURCHASE
    value = event(source).replace(plain, escaped)
    assert plain not in value
    _, row = behavior_rows(value)
    assert row.table.name in {"missed_payments", "purchases"} and not row.rejected


# --- the pending batch ---------------------------------------------------------------------


def test_every_event_of_a_users_day_takes_the_room_of_one_row():
    batch = PendingBatch(max_size=10, max_age=60.0)
    messages = [
        (0, event(PAGE_VIEW)),
        (1, event(PURCHASE, event_id="ev-2")),  # same day: its purchase only
        (2, event(PAGE_VIEW, user="user-2")),
        (3, event(PAGE_VIEW, occurred_at="2025-03-13T08:00:00+00:00")),  # the day before
        (4, event(PURCHASE, event_id="ev-2")),  # the same purchase again: kept for the writer
        (5, event(PAGE_VIEW, event_id="ev-3")),
    ]
    for offset, value in messages:
        key = json.loads(value)["user_id"].encode()
        for row in ROUTES[BEHAVIOR_EVENTS].rows(
            behavior_source(value, key=key, offset=offset), NOW
        ):
            batch.add(row)
    assert [(r.table.name, r.key) for r in batch.rows] == [
        ("user_days", ("user-1", date(2025, 3, 14))),
        ("purchases", ("user-1", "ev-2")),
        ("user_days", ("user-2", date(2025, 3, 14))),
        ("user_days", ("user-1", date(2025, 3, 13))),
        ("purchases", ("user-1", "ev-2")),
    ]
    assert batch.folded == 3 and batch.room == 5 and len(batch) == 8
    (offsets,) = [meta.offset for meta in batch.offsets().values()]
    assert offsets == 6  # a folded row's message is committed with the batch
    batch.clear()
    assert (batch.rows, batch.folded, len(batch)) == ([], 0, 0)
    # After a clear, the same day is a row again: the table's key keeps it one row.
    (again,) = ROUTES[BEHAVIOR_EVENTS].rows(behavior_source(event(PAGE_VIEW)), NOW)
    batch.add(again)
    assert batch.rows == [again] and batch.folded == 0


def test_skipped_messages_move_offsets_and_the_clock_but_take_no_room():
    batch = PendingBatch(max_size=2, max_age=60.0)
    batch.skip(ConsumedMessage("p.e", 0, 4, None, b""))
    assert len(batch) == 1 and batch.rows == [] and batch.room == 2
    assert batch.time_left() < 60.0 and not batch.due()
    (row,) = behavior_rows(event(PAGE_VIEW))
    batch.add(row)
    batch.skip(ConsumedMessage("p.e", 0, 9, None, b""))
    batch.skip(ConsumedMessage("p.e", 1, 3, None, b""))
    offsets = {(tp.topic, tp.partition): meta.offset for tp, meta in batch.offsets().items()}
    assert offsets == {("p.e", 0): 10, ("p.e", 1): 4, ("p.behavior.events", 0): 41}
    old = PendingBatch(max_size=100, max_age=1e-9)
    old.skip(ConsumedMessage("p.e", 0, 1, None, b""))
    assert old.due()  # nothing to write, but the offsets are due to be committed
    old.clear()
    assert len(old) == 0 and old.offsets() == {} and not old.due()


# --- folding a user's day without decoding the event ----------------------------------------


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2025-03-14T10:30:00+01:00",
        "2025-03-14T00:30:00+01:00",
        "2025-03-13T19:30:00-05:00",
        "2025-03-14T09:30:00Z",
        "2025-03-14T09:30:00.123456+00:00",
        "2025-03-14T09:30+00:00",
        "2025-03-14 09:30:00+00:00",
    ],
)
def test_the_cheap_look_names_the_row_the_decoded_event_makes(occurred_at):
    source = behavior_source(event(PAGE_VIEW, occurred_at=occurred_at))
    shared = ROUTES[BEHAVIOR_EVENTS].shared_row
    assert shared is not None
    (row,) = ROUTES[BEHAVIOR_EVENTS].rows(source, NOW)
    assert shared(source) == ("user_days", *row.key)


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (event(PURCHASE), b"user-1"),  # a row of its own besides the day
        (event(MISSED), b"user-1"),
        (event(ALERT_RULE), b"user-1"),
        (event(PAGE_VIEW | {"path": "/\\u0070urchase"}), b"user-1"),  # an escape: decode
        (event(PAGE_VIEW), None),  # the user is the event's: decode
        (event(PAGE_VIEW), b"user-2"),
        (event(PAGE_VIEW, occurred_at="2025-03-14T09:30:00"), b"user-1"),  # no offset
        (event(PAGE_VIEW, occurred_at=1741944600), b"user-1"),
        (event(PAGE_VIEW, occurred_at="14/03/2025"), b"user-1"),
        (event(PAGE_VIEW, occurred_at="0001-01-01T00:00:00+01:00"), b"user-1"),
        (event(PAGE_VIEW, occurred_at=None), b"user-1"),
        (b'["occurred_at"]', b"user-1"),
        (b"{not json", b"user-1"),
        (b"\xff", b"user-1"),
        (None, b"user-1"),
        (event(PAGE_VIEW), b"\xff"),
    ],
)
def test_anything_but_a_plain_keyed_event_with_an_iso_time_is_decoded(value, key):
    shared = ROUTES[BEHAVIOR_EVENTS].shared_row
    assert shared is not None and shared(behavior_source(value, key=key)) is None


def test_stored_rows_remember_only_shared_rows_and_forget_the_older_half_when_full():
    stored = StoredRows(capacity=4)
    days = [
        ROUTES[BEHAVIOR_EVENTS].rows(behavior_source(event(PAGE_VIEW, user=f"u{n}"), key=None), NOW)
        for n in range(6)
    ]
    (purchase,) = [r for r in behavior_rows(event(PURCHASE)) if not r.shared]
    stored.remember([days[0][0], purchase, days[1][0], days[2][0], days[3][0]])
    assert len(stored) == 4 and ("user_days", "u0", date(2025, 3, 14)) in stored
    assert ("purchases", "user-1", "ev-1") not in stored
    stored.remember([days[4][0]])  # five: the oldest three go, two are kept, then u4
    assert [f"u{n}" for n in range(6) if ("user_days", f"u{n}", date(2025, 3, 14)) in stored] == [
        "u3",
        "u4",
    ]


class Consumer:
    """What the sink uses of its consumer to commit."""

    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.commits.append({tp: meta.offset for tp, meta in offsets.items()})


class Writer:
    """Stores every batch it is given."""

    def __init__(self) -> None:
        self.written: list[list[Row]] = []

    def write(self, rows: list[Row], now: datetime) -> WriteResult:
        self.written.append(list(rows))
        return WriteResult()


def record(value: bytes, offset: int, user: str = "user-1") -> ConsumerRecord:
    return ConsumerRecord(
        "p.behavior.events", 0, offset, 0, 0, user.encode(), value, None, 0, 0, []
    )


async def test_the_sink_decodes_one_event_of_a_users_day_until_the_row_is_forgotten(monkeypatch):
    decoded: list[int] = []
    real = inputs.decode_input

    def counting(source, now):
        decoded.append(source.offset)
        return real(source, now)

    monkeypatch.setattr(inputs, "decode_input", counting)
    settings = Settings(topic_prefix="p.", sink_batch_size=10)
    writer = Writer()
    sink = Sink(settings, Consumer(), writer, asyncio.Event())  # type: ignore[arg-type]
    first = [
        record(event(PAGE_VIEW), 0),
        record(event(PAGE_VIEW, event_id="ev-2"), 1),  # folded: the batch holds the day
        record(event(PURCHASE, event_id="ev-3"), 2),  # decoded: its purchase
        record(event(PAGE_VIEW, user="user-2"), 3, "user-2"),
    ]
    for message in first:
        sink.add(message, NOW)
    assert decoded == [0, 2, 3]
    assert await sink.write()
    assert [[(r.table.name, r.key) for r in batch] for batch in writer.written] == [
        [
            ("user_days", ("user-1", date(2025, 3, 14))),
            ("purchases", ("user-1", "ev-3")),
            ("user_days", ("user-2", date(2025, 3, 14))),
        ]
    ]
    # The next batch: both days are stored; another day is decoded and is a row.
    sink.add(record(event(PAGE_VIEW, event_id="ev-4"), 4), NOW)
    sink.add(record(event(PAGE_VIEW, event_id="ev-5", occurred_at="2025-03-13T12:00:00Z"), 5), NOW)
    assert decoded == [0, 2, 3, 5] and sink._batch.folded == 1
    assert [(r.table.name, r.key) for r in sink._batch.rows] == [
        ("user_days", ("user-1", date(2025, 3, 13)))
    ]


async def test_a_failed_write_forgets_the_stored_days_so_a_lost_row_is_written_again():
    # The database may come back without what it committed (a failover, a restore): after
    # a failed write, a day once stored is decoded and written again, not folded away.
    settings = Settings(topic_prefix="p.", sink_batch_size=10)
    writer = Writer()
    sink = Sink(settings, Consumer(), writer, asyncio.Event())  # type: ignore[arg-type]
    sink.add(record(event(PAGE_VIEW), 0), NOW)
    assert await sink.write()
    assert ("user_days", "user-1", date(2025, 3, 14)) in sink._stored

    def away(rows: list[Row], now: datetime) -> WriteResult:
        statement = "insert"
        raise OperationalError(statement, None, ConnectionRefusedError("refused"))

    sink.add(record(event(PURCHASE, event_id="ev-3"), 1), NOW)
    writer.write = away  # type: ignore[method-assign]
    assert not await sink.write()
    assert len(sink._stored) == 0
    sink.add(record(event(PAGE_VIEW, event_id="ev-4"), 2), NOW)
    assert ("user_days", ("user-1", date(2025, 3, 14))) in [
        (r.table.name, r.key) for r in sink._batch.rows
    ]
