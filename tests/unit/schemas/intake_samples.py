"""A sample raw event and the intake's decode at a fixed time (no tests of its own).

Shared by the intake's tests and its bounds' tests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.events import Event
from schemas.intake import Rejection, Sanitised, decode_event

USER = "user-1"
#: Processing time: a day after the sample event.
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def raw_event(**changes: Any) -> dict[str, Any]:
    """A valid event as a producer would send it, with top-level ``changes``."""
    document: dict[str, Any] = {
        "event_id": "evt-1",
        "user_id": USER,
        "occurred_at": "2026-03-01T12:00:00+00:00",
        "source": "app",
        "context": {"country": "US"},
        "payload": {"type": "transaction", "amount": "12.50", "merchant": "Corner Shop"},
    }
    document.update(changes)
    return document


def encode(document: Any) -> bytes:
    return orjson.dumps(document)


def decode(document: Any, key: bytes | None = USER.encode()) -> tuple[Event | Rejection, Sanitised]:
    return decode_event(key, encode(document), now=NOW)
