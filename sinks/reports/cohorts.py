"""``nudge report cohorts``: per weekly cohort, its size, retention, conversion and value.

A user's cohort is the ISO week (its Monday, UTC) of their first day with any event on
``behavior.events`` (the view ``user_cohorts``, migration 0009). Per cohort: its size; for
each week since, ``0`` to ``weeks``, the share of the cohort active that week
(``cohort_retention``; week 0 is every user's first week, so 100 %; a week that has not
come yet, as the data tells time, is empty); the share of its users who converted (a
purchase, a converted outcome or an experiment conversion); and lifetime value per user
(purchase amounts plus converted outcomes' values, ``cohort_value``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, text

from schemas.settings import Settings
from sinks.reports.build import read_sections
from sinks.reports.layout import Column, Report, Section

#: Weeks after the cohort's first shown unless asked otherwise (``--weeks``).
DEFAULT_WEEKS = 8
#: Most weeks a report shows: a column each.
MAX_WEEKS = 52

RETENTION = text(
    "SELECT cohort_week, weeks_since, cohort_size, active_users, retention"
    " FROM cohort_retention WHERE weeks_since <= :weeks ORDER BY cohort_week, weeks_since"
)
VALUE = text(
    "SELECT cohort_week, users, converted_users, converted_share, lifetime_value,"
    " value_per_user FROM cohort_value ORDER BY cohort_week"
)


def week_key(week: int) -> str:
    """Return the row key of the retention ``week`` weeks after the cohort's first."""
    return f"week_{week}"


def columns(weeks: int) -> tuple[Column, ...]:
    """Return the table's columns for retention weeks ``0`` to ``weeks``."""
    return (
        Column("cohort_week", "cohort (week of)", "text"),
        Column("cohort_size", "users"),
        *(Column(week_key(week), f"w{week}", "rate") for week in range(weeks + 1)),
        Column("converted_share", "converted", "rate"),
        Column("value_per_user", "LTV per user", "money"),
    )


def cohort_report(
    retention: Iterable[Mapping[str, Any]], value: Iterable[Mapping[str, Any]], weeks: int
) -> list[dict[str, Any]]:
    """Return one row per cohort, oldest first, from the two views' rows (no I/O).

    Each row has ``cohort_week``, ``cohort_size``, ``week_0`` .. ``week_<weeks>`` (the
    share active; ``None`` for a week not come yet), ``active`` (users active per week,
    a list), ``converted_users``, ``converted_share``, ``lifetime_value`` and
    ``value_per_user``.
    """
    rows: dict[Any, dict[str, Any]] = {}
    for found in retention:
        row = rows.setdefault(found["cohort_week"], _empty(found, weeks))
        if found["weeks_since"] <= weeks:
            row[week_key(found["weeks_since"])] = found["retention"]
            row["active"][found["weeks_since"]] = found["active_users"]
    for found in value:
        if found["cohort_week"] in rows:
            rows[found["cohort_week"]].update(
                {
                    "converted_users": found["converted_users"],
                    "converted_share": found["converted_share"],
                    "lifetime_value": found["lifetime_value"],
                    "value_per_user": found["value_per_user"],
                }
            )
    for row in rows.values():
        row["active"] = [users for users in row["active"] if users is not None]
    return [rows[week] for week in sorted(rows)]


def _empty(found: Mapping[str, Any], weeks: int) -> dict[str, Any]:
    return {
        "cohort_week": found["cohort_week"],
        "cohort_size": found["cohort_size"],
        **{week_key(week): None for week in range(weeks + 1)},
        "active": [None] * (weeks + 1),
        "converted_users": 0,
        "converted_share": 0.0,
        "lifetime_value": 0,
        "value_per_user": 0,
    }


def cohort_sections(connection: Connection, weeks: int) -> tuple[Section, ...]:
    """Read the cohorts on ``connection``; the rows are ``cohort_report``'s."""
    retention = [dict(row) for row in connection.execute(RETENTION, {"weeks": weeks}).mappings()]
    value = [dict(row) for row in connection.execute(VALUE).mappings()]
    rows = cohort_report(retention, value, weeks)
    return (Section("cohorts", "Weekly cohorts", columns(weeks), rows),)


def build_cohorts(settings: Settings, weeks: int = DEFAULT_WEEKS) -> Report:
    """Read the cohorts report from the database (``cohort_sections``).

    Raises:
        ReportError: The database cannot be reached or has no reporting views.
        ValueError: ``weeks`` outside 0 to ``MAX_WEEKS``.
    """
    if not 0 <= weeks <= MAX_WEEKS:
        msg = f"weeks: 0 to {MAX_WEEKS}, got {weeks}"
        raise ValueError(msg)
    generated_at, sections = read_sections(
        settings, lambda connection: cohort_sections(connection, weeks)
    )
    return Report("cohorts", None, generated_at, sections, options={"weeks": weeks})
