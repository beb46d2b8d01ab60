"""The producer helper: it sends what the worker accepts, where it belongs, and refuses early."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from schemas import examples
from schemas.client import (
    HEADERS,
    InvalidEvent,
    OutgoingRecord,
    prepare,
    publish,
    publish_async,
)
from schemas.events import MAX_TEXT_LENGTH, Event
from schemas.intake import MAX_DEPTH, MAX_MESSAGE_BYTES, decode_event
from schemas.records import RejectionKind
from tests.unit.schemas.intake_samples import NOW, USER, raw_event

#: Appears in inputs that must not leak into error texts.
MARKER = "ZQXJ7781"


def payload(**fields: Any) -> dict[str, Any]:
    document = raw_event()
    document["payload"] = {**document["payload"], **fields}
    return document


def refused(event: Any) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        prepare(event, now=NOW)
    return caught.value


class Queue:
    """A confluent-kafka style producer that keeps what it is given."""

    def __init__(self) -> None:
        self.produced: list[tuple[str, dict[str, Any]]] = []

    def produce(
        self, topic: str, *, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        self.produced.append((topic, {"value": value, "key": key, "headers": headers}))


class Sender:
    """An aiokafka style producer that keeps what it is given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def send_and_wait(
        self, topic: str, *, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> str:
        self.sent.append((topic, {"value": value, "key": key, "headers": headers}))
        return "metadata"


@pytest.mark.parametrize(
    ("event", "topic"),
    [
        (examples.transaction(), "behavior.events"),
        (examples.page_view(), "behavior.events"),
        (examples.profile_update(), "behavior.events"),
        (examples.risk_score(), "risk.scores"),
        (examples.comms_outcome(), "comms.outcomes"),
    ],
    ids=lambda value: value.type if isinstance(value, Event) else value,
)
def test_each_type_goes_to_its_topic_keyed_by_its_user(event: Event, topic: str) -> None:
    record = prepare(event, topic_prefix="staging.", now=event.occurred_at)
    assert record.topic == f"staging.{topic}"
    assert record.key == event.user_id.encode()
    assert record.headers == HEADERS == (("content-type", b"application/json"),)
    assert record.event == event


def test_what_is_sent_is_what_the_worker_accepts_as_the_same_event() -> None:
    record = prepare(raw_event(), now=NOW)
    decoded, report = decode_event(record.key, record.value, now=NOW)
    assert decoded == record.event
    assert report.removed == report.truncated == 0


def test_a_mapping_with_python_values_and_its_model_give_the_same_record() -> None:
    as_python = payload(amount=Decimal("12.50"))
    as_python["occurred_at"] = datetime(2026, 3, 1, 12, tzinfo=UTC)
    from_mapping = prepare(as_python, now=NOW)
    from_model = prepare(Event.model_validate(raw_event()), now=NOW)
    assert from_mapping == from_model


def test_secrets_card_numbers_and_unknown_fields_never_leave_the_producer() -> None:
    document = payload(merchant="4111 1111 1111 1111", password=MARKER)
    document["api_token"] = MARKER
    document["not_in_the_contract"] = MARKER
    record = prepare(document, now=NOW)
    assert MARKER.encode() not in record.value
    assert b"4111" not in record.value
    assert b"[redacted]" in record.value


def test_over_long_text_is_cut_as_the_intake_cuts_it_not_refused() -> None:
    record = prepare(payload(merchant="m" * (MAX_TEXT_LENGTH + 500)), now=NOW)
    assert record.event.payload.merchant == "m" * MAX_TEXT_LENGTH  # type: ignore[union-attr]


def broken(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(raw_event())
    change(document)
    return document


def nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    for _ in range(depth):
        node = {"x": node}
    return node


@pytest.mark.parametrize(
    ("event", "kind", "error"),
    [
        (broken(lambda d: d.pop("user_id")), "invalid", "user_id: Field required"),
        (
            broken(lambda d: d.update(occurred_at="2026-03-01T12:00:00")),
            "invalid", "occurred_at: Input should have timezone info",
        ),
        (payload(amount=MARKER), "invalid", "payload.transaction.amount:"),
        (payload(amount="-1"), "invalid", "payload.transaction.amount:"),
        (payload(type=MARKER), "invalid", "payload: unknown type"),
        (broken(lambda d: d.update(source=MARKER)), "invalid", "source: not one of the allowed"),
        (broken(lambda d: d.update(user_id=f"a\u200b{MARKER}")), "invalid", "user_id:"),
        (
            broken(lambda d: d.update(occurred_at=(NOW + timedelta(hours=2)).isoformat())),
            "invalid", "occurred_at: more than 1:00:00 ahead",
        ),
        (broken(lambda d: d.update(context=nested(MAX_DEPTH))), "invalid", "nested deeper"),
        (payload(merchant="x" * MAX_MESSAGE_BYTES), "too_large", "the intake reads at most"),
        (broken(lambda d: d.update(session_id=object())), "not_json", "not JSON"),
    ],
    ids=[
        "no user", "naive time", "amount not a number", "negative amount", "unknown type",
        "unknown source", "zero-width in an id", "from the future", "too deep", "too large",
        "not serialisable",
    ],
)  # fmt: skip
def test_an_event_the_intake_refuses_is_refused_naming_the_field_never_the_value(
    event: dict[str, Any], kind: str, error: str
) -> None:
    refusal = refused(event)
    assert refusal.kind is RejectionKind(kind)
    assert error in refusal.error
    assert MARKER not in str(refusal)
    assert str(refusal).startswith(f"event refused ({kind}): ")


def test_a_model_built_without_validation_is_checked_all_the_same() -> None:
    unchecked = Event.model_construct(**{**examples.transaction().__dict__, "user_id": ""})
    assert "user_id:" in refused(unchecked).error


def test_something_else_than_an_event_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="expected an Event or a mapping, got list"):
        prepare([raw_event()], now=NOW)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got TriggerDecision"):
        prepare(examples.trigger_decision(), now=NOW)  # type: ignore[arg-type]


def test_publish_queues_the_prepared_record_on_a_confluent_style_producer() -> None:
    queue = Queue()
    record = publish(raw_event(), queue, topic_prefix="p.", now=NOW)
    assert isinstance(record, OutgoingRecord)
    assert queue.produced == [
        ("p.behavior.events", {"value": record.value, "key": USER.encode(), "headers": [*HEADERS]})
    ]


async def test_publish_async_sends_the_prepared_record_on_an_aiokafka_style_producer() -> None:
    sender = Sender()
    record = await publish_async(examples.risk_score(), sender, now=examples.AT)
    assert sender.sent == [
        ("risk.scores", {"value": record.value, "key": b"user-42", "headers": [*HEADERS]})
    ]


async def test_a_refused_event_sends_nothing() -> None:
    queue, sender = Queue(), Sender()
    bad = payload(amount="lots")
    with pytest.raises(InvalidEvent):
        publish(bad, queue, now=NOW)
    with pytest.raises(InvalidEvent):
        await publish_async(bad, sender, now=NOW)
    assert queue.produced == sender.sent == []
