"""Health and life-event features: exercise, the latest stress level, relationship status.

Registered into ``streams.features.COMPUTE``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from schemas.events import HealthSignal

if TYPE_CHECKING:
    from streams.features import Context, Value


def _exercise_minutes(ctx: Context) -> Value:
    payload = ctx.event.payload
    if not isinstance(payload, HealthSignal) or payload.exercise_minutes is None:
        return None
    return float(payload.exercise_minutes)


def _stress_level(ctx: Context) -> Value:
    level = ctx.state.stress_level
    return None if level is None else float(level)


def _stress_reported_at(ctx: Context) -> Value:
    return ctx.state.stress_at if ctx.state.stress_level is not None else None


def _previous_relationship_status(ctx: Context) -> Value:
    return ctx.previous("relationship_status")


COMPUTE: dict[str, Callable[[Context], Value]] = {
    "exercise_minutes": _exercise_minutes,
    "stress_level": _stress_level,
    "stress_reported_at": _stress_reported_at,
    "previous_relationship_status": _previous_relationship_status,
}

DEPENDS: dict[str, tuple[str, ...]] = {}
