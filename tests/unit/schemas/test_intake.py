"""The edge: raw bytes to a validated event or a typed rejection, and dead letters."""

from __future__ import annotations

import base64
import copy
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import MAX_TEXT_LENGTH, Event, Transaction
from schemas.ids import dead_letter_id
from schemas.intake import REDACTED, Rejection, Sanitised, dead_letter, decode_event, sanitise
from schemas.records import DeadLetter, RejectionKind
from tests.unit.schemas.intake_samples import NOW, USER, decode, encode, raw_event

#: Appears in inputs that must not leak into error texts.
MARKER = "ZQXJ7781"


def with_payload(**fields: Any) -> dict[str, Any]:
    document = raw_event()
    document["payload"] = {**document["payload"], **fields}
    return document


def accepted(document: Any) -> tuple[Event, Sanitised]:
    result, report = decode(document)
    assert isinstance(result, Event), result
    return result, report


def rejected(document: Any, key: bytes | None = USER.encode()) -> Rejection:
    result, _ = decode(document, key)
    assert isinstance(result, Rejection), result
    return result


# --- valid events ------------------------------------------------------------------------


def test_valid_event_decodes() -> None:
    event, report = accepted(raw_event())
    assert event.event_id == "evt-1"
    assert event.user_id == USER
    assert event.occurred_at == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert event.type == "transaction"
    assert isinstance(event.payload, Transaction)
    assert event.payload.amount == Decimal("12.50")
    assert event.payload.merchant == "Corner Shop"
    assert report == Sanitised(removed=0, truncated=0)


def test_valid_event_round_trips_through_its_json() -> None:
    event, _ = accepted(raw_event())
    again, report = decode_event(USER.encode(), event.model_dump_json().encode(), now=NOW)
    assert again == event
    assert report == Sanitised()


def test_unknown_fields_are_ignored() -> None:
    event, _ = accepted({**raw_event(), "added_later": {"x": 1}})
    assert event == accepted(raw_event())[0]


def test_key_none_is_accepted() -> None:
    result, _ = decode(raw_event(), key=None)
    assert isinstance(result, Event)
    assert result.user_id == USER


# --- rejections --------------------------------------------------------------------------


@pytest.mark.parametrize("value", [b"", None, b"{not json", b"\xff\xfe\x00", b'{"a": 1'])
def test_not_json_is_rejected(value: bytes | None) -> None:
    result, report = decode_event(USER.encode(), value, now=NOW)
    assert isinstance(result, Rejection)
    assert result.kind is RejectionKind.NOT_JSON
    assert result.error.startswith("not JSON: ")
    assert report == Sanitised()


@pytest.mark.parametrize(
    ("document", "got"),
    [([raw_event()], "list"), ("evt", "str"), (42, "int"), (None, "NoneType")],
)
def test_json_that_is_not_an_object_is_invalid(document: Any, got: str) -> None:
    rejection = rejected(document)
    assert rejection == Rejection(RejectionKind.INVALID, f"expected a JSON object, got {got}")


def test_missing_event_id_names_the_field_and_no_value() -> None:
    document = raw_event(user_id=f"user-{MARKER}")
    document["payload"]["merchant"] = f"Shop {MARKER}"
    del document["event_id"]
    rejection = rejected(document, key=None)
    assert rejection.kind is RejectionKind.INVALID
    assert rejection.error == "event_id: Field required"
    assert MARKER not in rejection.error


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("amount", f"-{MARKER}", "payload.transaction.amount"),
        ("currency", MARKER, "payload.transaction.currency"),
        ("direction", MARKER, "payload.transaction.direction"),
        ("amount", "-5", "payload.transaction.amount"),
    ],
)
def test_wrong_payload_field_names_the_path_and_no_value(field: str, value: str, path: str) -> None:
    rejection = rejected(with_payload(**{field: value}))
    assert rejection.kind is RejectionKind.INVALID
    assert rejection.error.startswith(f"{path}: ")
    assert MARKER not in rejection.error


@pytest.mark.parametrize("when", ["2026-03-01T12:00:00", "2026-03-01 12:00", "2026-03-01"])
def test_naive_datetime_is_invalid(when: str) -> None:
    rejection = rejected(raw_event(occurred_at=when))
    assert rejection.kind is RejectionKind.INVALID
    assert rejection.error.startswith("occurred_at: ")
    assert rejection.error == "occurred_at: Input should have timezone info"


def test_unknown_payload_type_is_invalid() -> None:
    rejection = rejected(with_payload(type="teleportation"))
    assert rejection.kind is RejectionKind.INVALID
    assert rejection.error.startswith("payload: ")
    assert rejection.error == "payload: unknown type (see the list of event types)"


def test_unknown_payload_type_error_does_not_echo_the_type() -> None:
    rejection = rejected(with_payload(type=MARKER))
    assert rejection.kind is RejectionKind.INVALID
    assert MARKER not in rejection.error
    assert rejection.error == "payload: unknown type (see the list of event types)"


def test_invalid_dict_key_is_not_echoed_in_the_error() -> None:
    document = raw_event(payload={"type": "profile_update", "consent": {f"{MARKER}@x.io": True}})
    rejection = rejected(document)
    assert rejection.kind is RejectionKind.INVALID
    assert MARKER not in rejection.error
    # The path stops at the map: the offending key is shown as *, the reason stays.
    assert rejection.error == "payload.profile_update.consent.*.*: not one of the allowed values"


@pytest.mark.parametrize("key", [b"someone-else", b"", b"user-1 ", b"USER-1"])
def test_key_other_than_user_id_is_rejected(key: bytes) -> None:
    rejection = rejected(raw_event(), key=key)
    assert rejection.kind is RejectionKind.KEY_MISMATCH
    assert (
        rejection.error == "message key is not the event's user_id (events must be keyed by user)"
    )


def test_schema_version_other_than_1_is_invalid() -> None:
    rejection = rejected(raw_event(schema_version=2))
    assert rejection.kind is RejectionKind.INVALID
    assert rejection.error.startswith("schema_version: ")
    assert rejection.error == "schema_version: Input should be 1"


# --- sanitising --------------------------------------------------------------------------


def test_sensitive_keys_are_removed_and_counted() -> None:
    document = raw_event(password="hunter2")  # noqa: S106 - a test value
    document["payload"]["api_key"] = "k-123"
    document["payload"]["card_number"] = "not even a number"
    document["context"]["authToken"] = "tok"
    document["context"]["nested"] = {"db-Password": "x", "keep": "me"}
    event, report = accepted(document)
    assert report == Sanitised(removed=5, truncated=0)
    assert event.payload == accepted(raw_event())[0].payload

    clean = sanitise(copy.deepcopy(document), Sanitised())
    assert "password" not in clean
    assert set(clean["payload"]) == {"type", "amount", "merchant"}
    assert clean["context"] == {"country": "US", "nested": {"keep": "me"}}


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("password", True),
        ("API-Key", True),
        ("cardNumber", True),
        ("refresh_token", True),
        ("client_secret_v2", True),
        ("cvv", True),
        ("merchant", False),
        ("session_id", False),
        ("amount", False),
    ],
)
def test_sensitive_key_spellings(key: str, sensitive: bool) -> None:
    report = Sanitised()
    clean = sanitise({key: "v"}, report)
    assert (clean == {}) is sensitive
    assert report.removed == int(sensitive)


@pytest.mark.parametrize(
    "card",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "378282246310005",
        "5555 5555 5555 4444",
        "4012888888881881",
        "6011111111111117",
    ],
)
def test_luhn_valid_card_number_is_redacted(card: str) -> None:
    event, report = accepted(with_payload(merchant=card))
    assert isinstance(event.payload, Transaction)
    assert event.payload.merchant == REDACTED
    assert report == Sanitised(removed=1, truncated=0)


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",
        "5555555555554445",
        "4012888888881882",
        "1234567890123456",
        "411111111111",
        "Card 4111111111111111",
    ],
)
def test_other_digit_strings_are_kept(text: str) -> None:
    event, report = accepted(with_payload(merchant=text))
    assert isinstance(event.payload, Transaction)
    assert event.payload.merchant == text
    assert report == Sanitised()


def _with_luhn_digit(body: str) -> str:
    """``body`` followed by its Luhn check digit (computed here, independently)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # doubled: these become the odd positions once the check digit is added
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def test_numeric_identifiers_are_not_redacted() -> None:
    first = _with_luhn_digit("123456789012345678")
    second = _with_luhn_digit("123456789012345679")
    a, _ = accepted(raw_event(event_id=first))
    b, _ = accepted(raw_event(event_id=second))
    assert (a.event_id, b.event_id) == (first, second)


def test_the_luhn_helper_matches_known_card_numbers() -> None:
    assert _with_luhn_digit("411111111111111") == "4111111111111111"
    assert _with_luhn_digit("37828224631000") == "378282246310005"


def test_over_long_text_is_truncated_and_counted() -> None:
    event, report = accepted(with_payload(merchant="m" * 5000))
    assert isinstance(event.payload, Transaction)
    assert event.payload.merchant == "m" * MAX_TEXT_LENGTH
    assert report == Sanitised(removed=0, truncated=1)


def test_text_of_exactly_the_limit_is_kept() -> None:
    event, report = accepted(with_payload(merchant="m" * MAX_TEXT_LENGTH))
    assert isinstance(event.payload, Transaction)
    assert event.payload.merchant == "m" * MAX_TEXT_LENGTH
    assert report == Sanitised()


# --- dead letters ------------------------------------------------------------------------

FAILED_AT = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (b"user-1", b"\xff\x00{not json\n\xc3"),
        (None, b"[1, 2]"),
        (b"\x00\xff", None),
    ],
)
def test_dead_letter_keeps_the_original_bytes(key: bytes | None, value: bytes | None) -> None:
    rejection, _ = decode_event(key, value, now=NOW)
    assert isinstance(rejection, Rejection)
    letter = dead_letter(
        rejection, topic="behavior.events", partition=3, offset=42, key=key, value=value,
        failed_at=FAILED_AT,
    )  # fmt: skip
    assert isinstance(letter, DeadLetter)
    assert base64.b64decode(letter.value) == (value or b"")
    if key is None:
        assert letter.key is None
    else:
        assert letter.key is not None
        assert base64.b64decode(letter.key) == key
    assert (letter.topic, letter.partition, letter.offset) == ("behavior.events", 3, 42)
    assert letter.kind is rejection.kind
    assert letter.error == rejection.error
    assert letter.failed_at == FAILED_AT
    restored = DeadLetter.model_validate_json(letter.model_dump_json())
    assert restored == letter


def test_dead_letter_id_is_deterministic_per_position() -> None:
    rejection = Rejection(RejectionKind.INVALID, "x: bad")

    def letter(topic: str, partition: int, offset: int, value: bytes = b"v") -> DeadLetter:
        return dead_letter(
            rejection, topic=topic, partition=partition, offset=offset, key=None, value=value,
            failed_at=FAILED_AT,
        )  # fmt: skip

    same = letter("t", 1, 7)
    assert same.dead_letter_id == letter("t", 1, 7, value=b"other").dead_letter_id
    assert same.dead_letter_id == dead_letter_id("t", 1, 7)
    ids = {
        letter(*pos).dead_letter_id for pos in [("t", 1, 7), ("t", 1, 8), ("t", 2, 7), ("u", 1, 7)]
    }
    assert len(ids) == 4
    # Parts are separated, so ("t", 11, 7) and ("t1", 1, 7) cannot collide.
    assert letter("t", 11, 7).dead_letter_id != letter("t1", 1, 7).dead_letter_id


# --- never raises ------------------------------------------------------------------------

#: How the errors that have no field path begin.
_ERROR_STARTS = ("not JSON: ", "expected a JSON object, got ", "message key is not the event's")
#: A field path (``payload.transaction.amount``, ``context.*``) and a reason after it.
_PATH = re.compile(r"[a-z_][a-z0-9_.*]*: \S")


def _check_outcome(result: Event | Rejection, report: Sanitised) -> None:
    assert isinstance(result, Event | Rejection)
    assert report.removed >= 0 and report.truncated >= 0
    if isinstance(result, Rejection):
        assert result.kind in set(RejectionKind)
        assert result.error
        # A rejection says where: a field path, or what the bytes were not.
        assert result.error.startswith(_ERROR_STARTS) or _PATH.match(result.error), result.error
    else:
        # What is accepted is what downstream reads back: its own JSON decodes to itself.
        again, _ = decode_event(None, result.model_dump_json().encode(), now=NOW)
        assert again == result


@settings(max_examples=300)
@given(key=st.none() | st.binary(max_size=20), value=st.none() | st.binary(max_size=300))
def test_decode_event_never_raises_on_bytes(key: bytes | None, value: bytes | None) -> None:
    _check_outcome(*decode_event(key, value, now=NOW))


_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
_SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _TEXT
_JSONISH = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_TEXT, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150)
@given(st.dictionaries(_TEXT, _JSONISH, max_size=6))
def test_decode_event_never_raises_on_json_objects(document: dict[str, Any]) -> None:
    _check_outcome(*decode_event(None, encode(document), now=NOW))


_FIELDS = ["event_id", "user_id", "occurred_at", "source", "context", "payload", "session_id"]
_PAYLOAD_FIELDS = ["type", "amount", "currency", "merchant", "direction", "consent", "first_name"]


@settings(max_examples=150)
@given(
    top=st.dictionaries(st.sampled_from(_FIELDS), _JSONISH, max_size=3),
    inner=st.dictionaries(st.sampled_from(_PAYLOAD_FIELDS), _JSONISH, max_size=3),
    key=st.none() | st.just(USER.encode()) | st.binary(max_size=8),
)
def test_decode_event_never_raises_on_near_valid_events(
    top: dict[str, Any], inner: dict[str, Any], key: bytes | None
) -> None:
    document = raw_event()
    document["payload"].update(inner)
    document.update(top)
    _check_outcome(*decode_event(key, encode(document), now=NOW))


AHEAD = "occurred_at: more than 1:00:00 ahead of the processing clock"
OUT_OF_RANGE = "occurred_at: Value error, must be between 2000-01-01 and 2100-01-01 UTC"


@pytest.mark.parametrize(
    ("occurred_at", "accepted_", "error"),
    [
        ("2026-03-02T12:59:00+00:00", True, None),  # within the hour of clock drift
        ("2026-03-02T13:01:00+00:00", False, AHEAD),
        ("2099-01-01T00:00:00+00:00", False, AHEAD),
        ("9999-12-31T23:00:00-14:00", False, OUT_OF_RANGE),  # would overflow UTC arithmetic
        ("0001-01-01T00:00:00+05:00", False, OUT_OF_RANGE),
        ("1999-12-31T23:59:59+00:00", False, OUT_OF_RANGE),
    ],
)
def test_event_times_outside_the_plausible_range_are_rejected(
    occurred_at: str, accepted_: bool, error: str | None
) -> None:
    result, _ = decode(raw_event(occurred_at=occurred_at))
    assert isinstance(result, Event) is accepted_
    if accepted_:
        assert isinstance(result, Event)
        assert result.occurred_at == datetime.fromisoformat(occurred_at)
    if not accepted_:
        assert isinstance(result, Rejection)
        assert result.kind is RejectionKind.INVALID
        assert result.error.startswith("occurred_at: ")
        assert result.error == error


def test_future_tolerance_is_an_hour() -> None:
    edge = (NOW + timedelta(hours=1)).isoformat()
    assert isinstance(decode(raw_event(occurred_at=edge))[0], Event)
    assert accepted(raw_event(occurred_at=edge))[0].occurred_at == NOW + timedelta(hours=1)
    # A second more is past the tolerance.
    late = (NOW + timedelta(hours=1, seconds=1)).isoformat()
    assert rejected(raw_event(occurred_at=late)).error == AHEAD
