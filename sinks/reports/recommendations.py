"""``nudge report recommendations``: per alert type and model version, how many accepted.

From the view ``recommendation_acceptance`` (migration 0010): per alert type, model and
model version, the users the alert was recommended to (**recommended**), those of them who
turned it on (an ``alert_rule`` created or enabled) after a recommendation and within
``ACCEPTANCE_DAYS`` days of it (**accepted**), and their share (**acceptance**); a user
counts once per version and alert type however many recommendations they got. **vs
previous** is the acceptance minus that of the model's version before, for the same alert
type, in percentage points: whether a new version is recommended more usefully. Over every
recommendation stored, whenever it was made: those of the last ``ACCEPTANCE_DAYS`` days
may still be accepted, so a version still being served reads low (**last recommended**
says how recent it is).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, text

from schemas.settings import Settings
from sinks.reports.build import read_sections
from sinks.reports.layout import Column, Report, Section

#: The view's window: turning the alert on this long after a recommendation accepts it.
ACCEPTANCE_DAYS = 30

ACCEPTANCE = text(
    "SELECT alert_type, model_name, model_version, recommended_users, accepted_users,"
    " acceptance_rate, first_recommended_at, last_recommended_at"
    " FROM recommendation_acceptance"
)

COLUMNS = (
    Column("alert_type", "alert", "text"),
    Column("model_name", "model", "text"),
    Column("model_version", "version"),
    Column("recommended_users", "recommended"),
    Column("accepted_users", "accepted"),
    Column("acceptance_rate", "acceptance", "rate"),
    Column("change_from_previous", "vs previous", "points"),
    Column("last_recommended_at", "last recommended", "time"),
)


def acceptance_report(found: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return the report's rows by alert type, model and version, from the view's rows (no I/O).

    Each row is the view's, with ``change_from_previous``: its acceptance rate minus that
    of the next lower version of the same model and alert type that has a row (``None``
    for the first such version).
    """
    rows = sorted(
        (dict(row) for row in found),
        key=lambda row: (row["alert_type"], row["model_name"], row["model_version"]),
    )
    previous: dict[tuple[str, str], float] = {}
    for row in rows:
        series = (row["alert_type"], row["model_name"])
        rate = float(row["acceptance_rate"])
        before = previous.get(series)
        row["change_from_previous"] = None if before is None else rate - before
        previous[series] = rate
    return rows


def recommendation_sections(connection: Connection) -> tuple[Section, ...]:
    """Read the acceptance of every model version on ``connection`` (``acceptance_report``)."""
    found = [dict(row) for row in connection.execute(ACCEPTANCE).mappings()]
    title = f"Alert recommendations accepted within {ACCEPTANCE_DAYS} days"
    return (Section("acceptance", title, COLUMNS, acceptance_report(found)),)


def build_recommendations(settings: Settings) -> Report:
    """Read the recommendations report from the database (``recommendation_sections``).

    Raises:
        ReportError: The database cannot be reached or has no reporting views.
    """
    generated_at, sections = read_sections(settings, recommendation_sections)
    return Report(
        "recommendations",
        None,
        generated_at,
        sections,
        options={"acceptance_days": ACCEPTANCE_DAYS},
    )
