"""A user's analytics now: scores, pattern, segments, session figures (``users.analytics``).

The worker sends a snapshot on a user's first fresh event of each UTC day of event time,
and whenever the user's pattern, segments or personalization rule change (on an event or
by the timer): the sink keeps every snapshot as score history and gives the latest per
user as a view over it (migration 0008), so the history grows by at most about one row per
active user and day, plus one per change.
``snapshot_id`` is derived from the cause (the event, or the timer's judgement), so a
snapshot repeated after a crash keeps its id and is stored once.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.events import SegmentId

Score = Annotated[float, Field(ge=0, le=100)]


class UserAnalytics(BaseModel):
    """One user's analytics at ``as_of``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    snapshot_id: str
    user_id: str
    as_of: AwareDatetime
    """The event's time, or the timer's clock."""
    source_event_id: str | None = None
    """The event that caused the snapshot; ``None`` when the timer did."""
    engagement_score: Score
    interest_score: Score
    intent_score: Score
    conversion_probability: Score
    """In percent."""
    pattern: str | None
    """``high_intent``, ``qualified_interest``, ``researching``, ``exploring``,
    ``at_risk``; ``None`` for a user with no web, app or email activity yet."""
    segments: list[SegmentId]
    """The live segments the user is in, sorted."""
    sessions_7d: Annotated[int, Field(ge=0)]
    sessions_30d: Annotated[int, Field(ge=0)]
    avg_session_minutes: Annotated[float, Field(ge=0)] | None
    pages_per_session: Annotated[float, Field(ge=0)] | None
    time_spent_minutes_7d: Annotated[float, Field(ge=0)]
    days_active_14d: Annotated[int, Field(ge=0, le=14)]
    last_activity_at: AwareDatetime | None
    """The user's newest event time."""
    spend_week: Annotated[float, Field(ge=0)] | None = None
    """Debit spending over the last 7 UTC days (peer distributions compare it)."""
    savings_rate_pct: float | None = None
    """Share of the usual monthly income not spent over 30 days; ``None`` without one."""
    personalization: str | None = None
    """The personalization rule that applies to the user, if any."""
    spend_forecast_week: Annotated[float, Field(ge=0)] | None = None
    """Forecast of the next 7 days' debits (``models.online.forecast``); ``None`` before
    two complete weeks of spending."""
    forecast_overspend_pct: float | None = None
    """Spending since the last pay plus the forecast until the next, above the usual
    deposit, in percent of it (negative: money left); ``None`` when not paid regularly."""
    goal_probability: Annotated[float, Field(ge=0, le=1)] | None = None
    """The probability of reaching the least likely open savings goal with a deadline by
    that deadline (``models.online.goals``); ``None`` when there is none to judge."""
    goal_days_left: float | None = None
    """Days until that goal's deadline."""
