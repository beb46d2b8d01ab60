"""The erasure request at the intake, and the retention setting's format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from schemas.events import Event
from schemas.intake import Rejection, decode_event, decode_input
from schemas.privacy import ErasureRequest, parse_retention
from schemas.records import RejectionKind
from schemas.settings import Settings

NOW = datetime(2026, 6, 5, 12, tzinfo=UTC)
REQUEST = {
    "control": "erasure_request",
    "erasure_id": "5f0c6d8e-0000-4000-8000-000000000001",
    "user_id": "ada",
    "requested_at": NOW.isoformat(),
}
EVENT = {
    "event_id": "ev-1",
    "user_id": "ada",
    "occurred_at": NOW.isoformat(),
    "source": "app",
    "payload": {"type": "login"},
}


def test_the_intake_tells_an_erasure_request_from_an_event() -> None:
    decoded, _ = decode_input(b"ada", orjson.dumps(REQUEST), now=NOW)
    assert decoded == ErasureRequest.model_validate(REQUEST)
    event, _ = decode_input(b"ada", orjson.dumps(EVENT), now=NOW)
    assert isinstance(event, Event)


def test_an_erasure_request_is_no_event_to_those_that_read_only_events() -> None:
    decoded, _ = decode_event(b"ada", orjson.dumps(REQUEST), now=NOW)
    assert isinstance(decoded, Rejection) and decoded.kind is RejectionKind.INVALID


@pytest.mark.parametrize(
    ("change", "key", "kind", "says"),
    [
        ({"user_id": ""}, None, RejectionKind.INVALID, "user_id"),
        ({"control": "forget_everyone"}, b"ada", RejectionKind.INVALID, "control"),
        ({"erasure_id": None}, b"ada", RejectionKind.INVALID, "erasure_id"),
        ({"requested_at": "2026-06-05T12:00:00"}, b"ada", RejectionKind.INVALID, "requested_at"),
        (
            {"requested_at": (NOW + timedelta(hours=2)).isoformat()},
            b"ada",
            RejectionKind.INVALID,
            "requested_at",
        ),
        ({}, b"bob", RejectionKind.KEY_MISMATCH, "user_id"),
    ],
)
def test_a_malformed_erasure_request_is_refused_with_the_field_named(
    change: dict, key: bytes | None, kind: RejectionKind, says: str
) -> None:
    decoded, _ = decode_input(key, orjson.dumps({**REQUEST, **change}), now=NOW)
    assert isinstance(decoded, Rejection)
    assert decoded.kind is kind and says in decoded.error


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("", {}),
        ("trigger_events=30", {"trigger_events": 30}),
        (" trigger_events = 30 , dead_letters=0,", {"trigger_events": 30, "dead_letters": 0}),
        ("user_days=36500", {"user_days": 36500}),
    ],
)
def test_retention_pairs_parse(text: str, parsed: dict[str, int]) -> None:
    assert dict(parse_retention(text)) == parsed


@pytest.mark.parametrize(
    "text",
    ["trigger_events", "trigger_events=", "=30", "trigger_events=-1", "trigger_events=1.5",
     "trigger_events=36501", "a=1,a=2", "trigger_events=30days"],
)  # fmt: skip
def test_a_malformed_retention_setting_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="table=days|twice"):
        parse_retention(text)
    with pytest.raises(ValueError, match="NUDGE_RETENTION_DAYS|retention_days"):
        Settings(retention_days=text)
