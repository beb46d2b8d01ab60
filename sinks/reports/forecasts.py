"""``nudge report forecasts``: each user's spending forecast and savings-goal odds.

From each user's latest analytics snapshot (the view ``user_analytics``): the forecast of
their next seven days' debits (``models.online.forecast``), by how much their spending
since the last pay plus the forecast until the next passes their usual pay
(**overspend**, negative when money is left), and the probability of reaching their least
likely savings goal by its deadline (``models.online.goals``). A summary over every user,
then up to ``LISTED_USERS`` users, those forecast to overspend most first, then the
least likely goals; ``--user`` shows one user.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from schemas.settings import Settings
from sinks.reports.build import read_sections
from sinks.reports.layout import Column, Report, Section

#: Users listed (all users: the most at risk first).
LISTED_USERS = 20
#: A goal below this probability counts as at risk in the summary.
AT_RISK = 0.5

SUMMARY = text(
    "SELECT count(*) FILTER (WHERE spend_forecast_week IS NOT NULL) AS forecast_users,"
    " round(avg(spend_forecast_week)::numeric, 2) AS mean_forecast,"
    " count(*) FILTER (WHERE forecast_overspend_pct > 0) AS overspend_users,"
    " count(*) FILTER (WHERE goal_probability IS NOT NULL) AS goal_users,"
    " count(*) FILTER (WHERE goal_probability < :at_risk) AS goals_at_risk"
    " FROM user_analytics"
)

USERS = text(
    "SELECT user_id, as_of, spend_week, spend_forecast_week,"
    " forecast_overspend_pct / 100 AS overspend, goal_probability, goal_days_left"
    " FROM user_analytics"
    " WHERE (spend_forecast_week IS NOT NULL OR goal_probability IS NOT NULL)"
    " AND (CAST(:user AS text) IS NULL OR user_id = :user)"
    " ORDER BY forecast_overspend_pct DESC NULLS LAST, goal_probability ASC NULLS LAST,"
    " user_id LIMIT :limit"
)

SUMMARY_COLUMNS = (
    Column("forecast_users", "users with a forecast"),
    Column("mean_forecast", "mean next 7 days", "money"),
    Column("overspend_users", "forecast to overspend"),
    Column("goal_users", "with a goal and deadline"),
    Column("goals_at_risk", f"goal under {AT_RISK:.0%}"),
)

USER_COLUMNS = (
    Column("user_id", "user", "text"),
    Column("spend_week", "last 7 days", "money"),
    Column("spend_forecast_week", "next 7 days", "money"),
    Column("overspend", "overspend by payday", "change"),
    Column("goal_probability", "goal reached", "rate"),
    Column("goal_days_left", "days left", "score"),
    Column("as_of", "as of", "time"),
)


def forecast_sections(connection: Connection, user: str | None) -> tuple[Section, ...]:
    """Read the summary and the users most at risk (or ``user``) on ``connection``."""
    summary = [dict(row) for row in connection.execute(SUMMARY, {"at_risk": AT_RISK}).mappings()]
    rows: list[dict[str, Any]] = [
        dict(row)
        for row in connection.execute(USERS, {"user": user, "limit": LISTED_USERS}).mappings()
    ]
    title = f"User {user}" if user else f"Users most at risk (up to {LISTED_USERS})"
    return (
        Section("summary", "Forecasts and goals, every user", SUMMARY_COLUMNS, summary),
        Section("users", title, USER_COLUMNS, rows),
    )


def build_forecasts(settings: Settings, user: str | None = None) -> Report:
    """Read the forecasts report from the database (``forecast_sections``).

    Raises:
        ReportError: The database cannot be reached or has no reporting views.
    """
    generated_at, sections = read_sections(
        settings, lambda connection: forecast_sections(connection, user)
    )
    return Report("forecasts", None, generated_at, sections, options={"user": user})
