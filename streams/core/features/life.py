"""Health and life-event features: exercise, stress, relationship, dates coming up.

Registered into ``streams.core.features.registry.COMPUTE``. Dates (birthday, lease end,
grace end) come from profile updates; "days until" counts whole UTC days from the evaluation's date.
"""

from __future__ import annotations

import calendar
from datetime import date

from schemas.events import HealthSignal
from streams.core.features.context import Feature, FeatureContext, Value


def _exercise_minutes(ctx: FeatureContext) -> Value:
    payload = ctx.payload
    if not isinstance(payload, HealthSignal) or payload.exercise_minutes is None:
        return None
    return float(payload.exercise_minutes)


def _stress_level(ctx: FeatureContext) -> Value:
    level = ctx.state.stress_level
    return None if level is None else float(level)


def _stress_reported_at(ctx: FeatureContext) -> Value:
    return ctx.state.stress_at if ctx.state.stress_level is not None else None


def _previous_relationship_status(ctx: FeatureContext) -> Value:
    return ctx.previous("relationship_status")


def _profile_date(ctx: FeatureContext, name: str) -> date | None:
    value = ctx.state.profile.get(name)
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _next_birthday_date(ctx: FeatureContext) -> date | None:
    born = _profile_date(ctx, "birthday")
    if born is None:
        return None
    today = ctx.at.date()
    upcoming = _anniversary(born, today.year)
    return upcoming if upcoming >= today else _anniversary(born, today.year + 1)


def _anniversary(born: date, year: int) -> date:
    """The birthday in ``year``; 29 February is celebrated on the 28th in other years."""
    day = 28 if (born.month, born.day) == (2, 29) and not calendar.isleap(year) else born.day
    return date(year, born.month, day)


def _next_birthday(ctx: FeatureContext) -> Value:
    upcoming = _next_birthday_date(ctx)
    return None if upcoming is None else upcoming.isoformat()


def _days_until_birthday(ctx: FeatureContext) -> Value:
    upcoming = _next_birthday_date(ctx)
    return None if upcoming is None else float((upcoming - ctx.at.date()).days)


def _days_until(name: str) -> Feature:
    def days(ctx: FeatureContext) -> Value:
        when = _profile_date(ctx, name)
        return None if when is None else float((when - ctx.at.date()).days)

    return days


def _date_text(name: str) -> Feature:
    def text(ctx: FeatureContext) -> Value:
        when = _profile_date(ctx, name)
        return None if when is None else when.isoformat()

    return text


COMPUTE: dict[str, Feature] = {
    "days_until_birthday": _days_until_birthday,
    "next_birthday": _next_birthday,
    "days_until_lease_end": _days_until("lease_end"),
    "lease_end": _date_text("lease_end"),
    "days_until_grace_end": _days_until("student_loan_grace_end"),
    "student_loan_grace_end": _date_text("student_loan_grace_end"),
    "exercise_minutes": _exercise_minutes,
    "stress_level": _stress_level,
    "stress_reported_at": _stress_reported_at,
    "previous_relationship_status": _previous_relationship_status,
}

DEPENDS: dict[str, tuple[str, ...]] = {}
