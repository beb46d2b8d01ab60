"""What the online models learn from an event beyond its fold: outcomes credited to hours.

The debit anomaly model learns in the fold (``streams.core.state.fold``: it must see the
merchant bitmap before the debit is added to it); an outcome is credited here, after the
fold, to the hour its message went at (``models.online.send_time``).
"""

from __future__ import annotations

from models.online import anomaly, send_time
from schemas.events import CommsOutcome, Event, Transaction
from streams.core.state.record import UserState


def credit_outcome(state: UserState, event: Event) -> list[int]:
    """Credit an open or click to its send's hour; return that hour (or nothing)."""
    payload = event.payload
    if not isinstance(payload, CommsOutcome) or state.send_hours is None:
        return []
    hour = send_time.note_outcome(state.send_hours, payload.command_id, payload.outcome)
    return [] if hour is None else [hour]


def debit_score(state: UserState, event: Event) -> float | None:
    """Return the anomaly score the fold gave this event, if it is a scored debit."""
    payload = event.payload
    if not isinstance(payload, Transaction) or payload.direction != "debit":
        return None
    return anomaly.last_score(state.anomaly)[0]
