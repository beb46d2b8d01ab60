"""The user's analytics now, as one ``users.analytics`` message (``schemas.user_analytics``).

Sent on a user's first fresh event of each UTC day of event time (the event's day differs
from the day of the newest event before it: no field in the record needed), and whenever
the pattern, the segments or the personalization rule change, on an event or by the
timer. The sink keeps the latest per user and every snapshot as score history: at most
about one row per active user and day, plus one per change. (An hour was measured first:
on the benchmark's workload 62 % of events then sent a snapshot, and the pipeline fell
below bare Faust.)
"""

from __future__ import annotations

from datetime import UTC, datetime

from models.online import goals
from schemas.ids import derived_id
from schemas.user_analytics import UserAnalytics
from streams.core.features.context import FeatureContext
from streams.core.state.record import UserState
from streams.core.units import SECONDS_PER_DAY


def new_day(before: float, at: float) -> bool:
    """Whether ``at`` falls on a later UTC day than ``before`` (0: no event before)."""
    return before <= 0 or int(at // SECONDS_PER_DAY) > int(before // SECONDS_PER_DAY)


def snapshot(ctx: FeatureContext, at: float, cause: str | None) -> UserAnalytics:
    """Return the user's analytics at ``at`` (epoch seconds).

    Args:
        ctx: The evaluation (an event's, or the timer's), after the pattern and the
            segments were updated.
        at: The event's time, or the timer's clock.
        cause: The event's id; ``None`` for the timer, whose id then derives from what
            the record says (a pass repeated after a crash repeats it).
    """
    state = ctx.state
    segments = sorted(state.segments)
    reason = cause or f"timer:{int(state.watermark)}:{state.pattern}:{','.join(segments)}"

    def number(name: str) -> float:
        value = ctx.value(name)
        return float(value) if isinstance(value, int | float) else 0.0

    def score(name: str) -> float:
        return min(max(number(name), 0.0), 100.0)

    def optional(name: str) -> float | None:
        value = ctx.value(name)
        return float(value) if isinstance(value, int | float) else None

    return UserAnalytics(
        snapshot_id=derived_id("analytics", ctx.user_id, reason),
        user_id=ctx.user_id,
        as_of=datetime.fromtimestamp(at, UTC),
        source_event_id=cause,
        engagement_score=score("engagement_score"),
        interest_score=score("interest_score"),
        intent_score=score("intent_score"),
        conversion_probability=score("conversion_probability"),
        pattern=state.pattern,
        segments=segments,
        sessions_7d=int(number("sessions_7d")),
        sessions_30d=int(number("sessions_30d")),
        avg_session_minutes=optional("avg_session_minutes"),
        pages_per_session=optional("pages_per_session"),
        time_spent_minutes_7d=number("time_spent_minutes_7d"),
        days_active_14d=int(number("days_active_14d")),
        last_activity_at=(
            datetime.fromtimestamp(state.watermark, UTC) if state.watermark > 0 else None
        ),
        spend_week=optional("spend_week"),
        savings_rate_pct=optional("savings_rate_pct"),
        personalization=state.personalization,
        spend_forecast_week=optional("spend_forecast_week"),
        forecast_overspend_pct=optional("forecast_overspend_pct"),
        **_least_likely_goal(state, at),
    )


def _least_likely_goal(state: UserState, at: float) -> dict[str, float | None]:
    """Return the probability and days left of the open goal least likely to be reached."""
    goal = goals.least_likely(state.goal_progress, at)
    if goal is None:
        return {"goal_probability": None, "goal_days_left": None}
    left = goals.days_left(goal, at)
    return {
        "goal_probability": goals.probability(goal, at),
        "goal_days_left": None if left is None else round(left, 2),
    }
