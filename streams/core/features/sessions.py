"""Features of the user's visits (sessions in event time): how often, how long, from where.

The visits are cut by ``streams.core.state.visits``. Windows end with the day of the
evaluation (UTC) and count visits by the day they started. Averages are over the last
7 days, the days whose pages and seconds the record keeps; ``None`` without a visit.
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.core.features.context import Feature, FeatureContext, Value
from streams.core.state.visits import SOURCE_BITS
from streams.core.units import day_number


def _window(ctx: FeatureContext, days: int) -> tuple[int, int, int, int]:
    """Return (visits, pages, seconds, active days) of the ``days`` days ending today."""
    today = day_number(ctx.at)
    visits = pages = seconds = active = 0
    for day, totals in ctx.state.visit_days.items():
        if today - days < day <= today:
            visits += totals[0]
            pages += totals[1]
            seconds += totals[2]
            active += 1
    return visits, pages, seconds, active


def _sessions_7d(ctx: FeatureContext) -> Value:
    return float(_window(ctx, 7)[0])


def _sessions_30d(ctx: FeatureContext) -> Value:
    return float(_window(ctx, 30)[0])


def _avg_session_minutes(ctx: FeatureContext) -> Value:
    visits, _, seconds, _ = _window(ctx, 7)
    return round(seconds / visits / 60, 2) if visits else None


def _pages_per_session(ctx: FeatureContext) -> Value:
    visits, pages, _, _ = _window(ctx, 7)
    return round(pages / visits, 2) if visits else None


def _time_spent_minutes(ctx: FeatureContext) -> Value:
    return round(_window(ctx, 7)[2] / 60, 2)


def _days_active_14d(ctx: FeatureContext) -> Value:
    return float(_window(ctx, 14)[3])


def _sources(ctx: FeatureContext) -> list[str]:
    bits = ctx.state.visit_sources
    return [name for name, bit in SOURCE_BITS.items() if bits & bit]


def _sources_used(ctx: FeatureContext) -> Value:
    return ",".join(_sources(ctx)) or None


def _sources_used_count(ctx: FeatureContext) -> Value:
    return float(len(_sources(ctx)))


COMPUTE: Mapping[str, Feature] = {
    "sessions_7d": _sessions_7d,
    "sessions_30d": _sessions_30d,
    "avg_session_minutes": _avg_session_minutes,
    "pages_per_session": _pages_per_session,
    "time_spent_minutes_7d": _time_spent_minutes,
    "days_active_14d": _days_active_14d,
    "sources_used": _sources_used,
    "sources_used_count": _sources_used_count,
}

DEPENDS: Mapping[str, tuple[str, ...]] = {}
