"""Issue 8: the intake bounds what the arithmetic and libraries downstream can hold.

Each of these messages made a whole batch fail before (an exception escaped the agent,
and Faust acknowledged the batch unprocessed). Now each is a dead letter whose reason
names the field path, and nothing raises.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from schemas.events import Event
from schemas.intake import (
    DEAD_LETTER_VALUE_BYTES,
    MAX_DEPTH,
    MAX_MESSAGE_BYTES,
    NUL_REPLACEMENT,
    Rejection,
    dead_letter,
    decode_event,
)
from schemas.records import DeadLetter, RejectionKind
from tests.unit.schemas.intake_samples import NOW, USER, decode, raw_event

FAILED_AT = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
#: A Luhn-valid test card number.
CARD = "4111 1111 1111 1111"


def payload(**fields: Any) -> dict[str, Any]:
    return raw_event(payload=fields)


def nested(depth: int) -> Any:
    node: Any = 1
    for _ in range(depth):
        node = [node]
    return node


#: The reasons the cases below are refused for.
NOT_A_ZONE = "Value error, not an IANA time zone name (such as Europe/Paris or UTC)"
NO_CONTROL = "String should match pattern"
DIGITS_18 = "Decimal input should have no more than 18 digits in total"
DATE_RANGE = "Value error, must be between 1900-01-01 and 2199-12-31"


@pytest.mark.parametrize(
    ("document", "path", "reason"),
    [
        (payload(type="profile_update", timezone="America"), "payload.profile_update.timezone",
         NOT_A_ZONE),
        (payload(type="profile_update", timezone="Europe"), "payload.profile_update.timezone",
         NOT_A_ZONE),
        (payload(type="profile_update", timezone="../../etc/passwd"),
         "payload.profile_update.timezone", NOT_A_ZONE),
        (payload(type="profile_update", timezone="x" * 300), "payload.profile_update.timezone",
         "String should have at most 64 characters"),
        (payload(type="profile_update", timezone="UTC\u0000"), "payload.profile_update.timezone",
         NOT_A_ZONE),
        (raw_event(context={"timezone": "America"}), "context.timezone", NOT_A_ZONE),
        (payload(type="balance_snapshot", balance="1E+999999"),
         "payload.balance_snapshot.balance", DIGITS_18),
        (payload(type="balance_snapshot", balance="-1E+999999"),
         "payload.balance_snapshot.balance", DIGITS_18),
        (payload(type="balance_snapshot", balance="NaN"), "payload.balance_snapshot.balance",
         "Input should be a finite number"),
        (payload(type="transaction", amount="1e14"), "payload.transaction.amount",
         "Decimal input should have no more than 14 digits before the decimal point"),
        (payload(type="transaction", amount=1e300), "payload.transaction.amount", DIGITS_18),
        (payload(type="app_session", duration_seconds=1e308),
         "payload.app_session.duration_seconds", "Input should be less than or equal to 31622400"),
        (payload(type="app_session", duration_seconds=1, screens=10**12),
         "payload.app_session.screens", "Input should be less than or equal to 1000000"),
        (payload(type="profile_update", birthday="9999-12-31"), "payload.profile_update.birthday",
         DATE_RANGE),
        (payload(type="profile_update", lease_end="0001-01-01"),
         "payload.profile_update.lease_end", DATE_RANGE),
        (payload(type="profile_update", segments=["Students Club"]),
         "payload.profile_update.segments.0", "String should match pattern"),
        (payload(type="profile_update", segments=[f"s{i}" for i in range(33)]),
         "payload.profile_update.segments", "List should have at most 32 items"),
        (raw_event(user_id="user\u00001"), "user_id", NO_CONTROL),
        (raw_event(event_id="evt\u202e1"), "event_id", NO_CONTROL),
        (raw_event(event_id="evt\n1"), "event_id", NO_CONTROL),
        (raw_event(session_id="s\u200b1"), "session_id", NO_CONTROL),
    ],
)  # fmt: skip
def test_values_the_core_cannot_hold_are_refused_with_their_field_path(
    document: dict[str, Any], path: str, reason: str
) -> None:
    key = document["user_id"].encode() if "\u0000" not in document["user_id"] else None
    result, _ = decode(document, key=key)
    assert isinstance(result, Rejection), result
    assert result.kind is RejectionKind.INVALID
    assert result.error.startswith(path), result.error
    assert result.error.startswith(f"{path}: {reason}"), result.error


def with_deep_field(depth: int) -> bytes:
    """A valid event with an ignored field of arrays nested ``depth`` deep (as text:
    orjson will not write that deep)."""
    head = orjson.dumps(raw_event())[:-1]
    return head + b',"extra":{"deep":' + b"[" * depth + b"1" + b"]" * depth + b"}}"


@pytest.mark.parametrize("depth", [MAX_DEPTH, 500, 1000])
def test_deep_nesting_is_refused_even_in_an_ignored_field(depth: int) -> None:
    result, _ = decode_event(USER.encode(), with_deep_field(depth), now=NOW)
    assert isinstance(result, Rejection)
    assert result.kind is RejectionKind.INVALID
    assert result.error.startswith("extra.deep.0.0")
    assert "nested deeper than" in result.error


def test_nesting_deeper_than_the_parser_reads_is_not_json() -> None:
    result, _ = decode_event(USER.encode(), with_deep_field(5000), now=NOW)
    assert isinstance(result, Rejection)
    assert result.kind is RejectionKind.NOT_JSON
    assert result.error == "not JSON: depth limit exceeded"


def test_nesting_just_under_the_limit_is_read() -> None:
    # The envelope is one level, extra another: the array may nest MAX_DEPTH - 2 deep
    # (MAX_DEPTH levels in all), and one level more is refused.
    result, _ = decode(raw_event(extra={"deep": nested(MAX_DEPTH - 3)}))
    assert isinstance(result, Event)
    assert result == decode(raw_event())[0]  # read, then ignored like any unknown field
    at_the_limit, _ = decode(raw_event(extra={"deep": nested(MAX_DEPTH - 2)}))
    assert at_the_limit == result
    over, _ = decode(raw_event(extra={"deep": nested(MAX_DEPTH - 1)}))
    assert isinstance(over, Rejection)
    assert over.error == (
        f"extra.deep{'.0' * (MAX_DEPTH - 2)}: objects and arrays nested deeper than "
        f"{MAX_DEPTH} levels"
    )


@pytest.mark.parametrize("size", [MAX_MESSAGE_BYTES + 1, 1_000_000])
def test_a_message_larger_than_the_intake_reads_is_too_large(size: int) -> None:
    result, _ = decode_event(USER.encode(), b"x" * size, now=NOW)
    assert isinstance(result, Rejection)
    assert result.kind is RejectionKind.TOO_LARGE
    assert str(size) in result.error
    assert result.error == f"message is {size} bytes; the intake reads at most {MAX_MESSAGE_BYTES}"
    # At the limit itself the message is read (and here found not to be JSON).
    at_limit, _ = decode_event(USER.encode(), b"x" * MAX_MESSAGE_BYTES, now=NOW)
    assert isinstance(at_limit, Rejection) and at_limit.kind is RejectionKind.NOT_JSON


def test_nul_in_free_text_is_replaced_not_stored() -> None:
    document = payload(type="transaction", amount="1.00", merchant="Shop\u0000\u0000One")
    result, report = decode(document)
    assert isinstance(result, Event)
    assert result.payload.merchant == f"Shop{NUL_REPLACEMENT * 2}One"  # type: ignore[union-attr]
    assert report.replaced == 1


# --- dead letters: bounded, redacted, described ------------------------------------


def letter_of(key: bytes | None, value: bytes) -> DeadLetter:
    rejection, _ = decode_event(key, value, now=NOW)
    assert isinstance(rejection, Rejection)
    return dead_letter(
        rejection, topic="behavior.events", partition=0, offset=9, key=key, value=value,
        failed_at=FAILED_AT,
    )  # fmt: skip


@pytest.mark.parametrize(("key_size", "value_size"), [(10, 1_000_000), (900_000, 100)])
def test_a_dead_letter_fits_a_kafka_record_whatever_came_in(key_size: int, value_size: int) -> None:
    value = b"\xff" * value_size
    letter = letter_of(b"k" * key_size, value)
    assert len(letter.model_dump_json()) < 200_000  # Kafka's default record limit is 1 MiB
    assert letter.truncated
    assert letter.value_length == value_size
    assert letter.value_sha256 == hashlib.sha256(value).hexdigest()
    assert len(base64.b64decode(letter.value)) == min(value_size, DEAD_LETTER_VALUE_BYTES)


def test_a_dead_letter_of_json_keeps_no_secret_or_card_number() -> None:
    document = raw_event(occurred_at="nonsense", password="hunter2", note=CARD)
    value = orjson.dumps(document)
    letter = letter_of(USER.encode(), value)
    stored = base64.b64decode(letter.value)
    assert b"hunter2" not in stored and b"4111" not in stored
    assert letter.redacted and not letter.truncated
    assert orjson.loads(stored)["event_id"] == "evt-1"  # the rest is kept
    assert letter.value_length == len(value)
    assert letter.value_sha256 == hashlib.sha256(value).hexdigest()


@pytest.mark.parametrize(
    "value",
    [
        b'{"user_id": "u", "password": "hunter2", "card": "4111111111111111"',  # cut off
        b"user=u&password=hunter2&card_number=4111-1111-1111-1111",
        b"pan 4111111111111111 token: hunter2",
    ],
)
def test_a_dead_letter_of_text_scrubs_secrets_and_card_numbers(value: bytes) -> None:
    letter = letter_of(None, value)
    stored = base64.b64decode(letter.value)
    assert b"hunter2" not in stored and b"41111" not in stored and b"4111-1111" not in stored
    assert letter.redacted


def test_a_dead_letter_without_secrets_keeps_the_original_bytes() -> None:
    value = b"order 1234567890123 shipped"  # 13 digits, but not Luhn-valid
    letter = letter_of(None, value)
    assert base64.b64decode(letter.value) == value
    assert not letter.redacted and not letter.truncated
