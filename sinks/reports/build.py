r"""Effectiveness reports: the views of migration 0002, read and printed as tables or JSON.

``nudge report effectiveness`` shows, per trigger, how often its condition held and it
sent (``send rate`` = fired / (fired + suppressed)) and what the messages achieved; then
the same per template version and channel. ``nudge report interventions`` shows, per
intervention type, responses and prevented defaults. ``nudge report behavior`` counts the
behaviour changes recorded, per activity and direction. ``nudge report segments`` shows,
per segment, its members now and the joins and leaves of the window, then the same per day
(migration 0007). ``nudge report users`` counts the users active in the window per pattern
and per score band, from each one's latest snapshot (``sinks.reports.users``).
``nudge report personalization`` counts, per personalization rule, the users it matched and
what its messages achieved (``sinks.reports.personalization``). Every number
is over the last 7, 30 or 90 days (``--days``), relative to the database's clock when the
report runs (the segments report counts whole UTC days, today included); the views'
comments (``COMMENT ON VIEW``, shown by psql's ``\d+``) define each column.

Prevented defaults need 30 days of follow-up: they are counted over the users whose
intervention's follow-up *ended* in the window, and shown as ``pending`` when none did.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from schemas.records import INSIGHT_TRIGGER_IDS, RISK_INTERVENTION_TRIGGER_ID
from schemas.settings import Settings
from sinks.migrate import database_engine
from sinks.reports.cells import format_cell as format_cell
from sinks.reports.layout import Column as Column
from sinks.reports.layout import Kind as Kind
from sinks.reports.layout import Report as Report
from sinks.reports.layout import Section as Section
from sinks.reports.personalization import personalization_sections
from sinks.reports.users import user_sections

#: The windows the views report, in days.
WINDOWS = (7, 30, 90)
#: PostgreSQL's "undefined_table": the views are not there (the database is not migrated).
UNDEFINED_TABLE = "42P01"


class ReportError(RuntimeError):
    """The report cannot be made (database unreachable or not migrated)."""


@dataclass(frozen=True, slots=True)
class _Query:
    key: str
    title: str
    view: str
    order: str
    columns: tuple[Column, ...]
    where: str = "TRUE"
    """A constant filter (never input)."""
    window: str = "window_days = :days"
    """Keeps the rows of the window ``:days`` (a constant; the views have ``window_days``)."""


TRIGGERS = _Query(
    "triggers",
    "Triggers",
    "trigger_effectiveness",
    "trigger_id",
    (
        Column("trigger_id", "trigger", "text"),
        Column("fired", "fired"),
        Column("suppressed", "suppressed"),
        Column("send_rate", "send rate", "rate"),
        Column("sent", "sent"),
        Column("engaged", "engaged"),
        Column("engagement_rate", "engagement", "rate"),
        Column("converted", "converted"),
        Column("conversion_rate", "conversion", "rate"),
        Column("conversion_value", "value", "money"),
    ),
    # Risk decisions send interventions, not messages: the interventions report has them;
    # insights (behaviour and pattern changes) send nothing.
    where="trigger_id NOT IN ("
    + ", ".join(f"'{t}'" for t in sorted({RISK_INTERVENTION_TRIGGER_ID, *INSIGHT_TRIGGER_IDS}))
    + ")",
)
TEMPLATES = _Query(
    "templates",
    "Templates and channels",
    "template_effectiveness",
    "trigger_id, template_id, template_version, channel",
    (
        Column("trigger_id", "trigger", "text"),
        Column("template_id", "template", "text"),
        Column("template_version", "version"),
        Column("channel", "channel", "text"),
        Column("sent", "sent"),
        Column("delivery_rate", "delivered", "rate"),
        Column("engagement_rate", "engagement", "rate"),
        Column("conversion_rate", "conversion", "rate"),
        Column("opt_out_rate", "opt-out", "rate"),
    ),
)
INTERVENTIONS = _Query(
    "interventions",
    "Interventions",
    "intervention_effectiveness",
    "intervention_type",
    (
        Column("intervention_type", "type", "text"),
        Column("interventions", "interventions"),
        Column("users", "users"),
        Column("response_rate", "response", "rate"),
        Column("acceptance_rate", "acceptance", "rate"),
        Column("opted_out", "opted out"),
        Column("pending", "in follow-up"),
        Column("followed_up_users", "followed up"),
        Column("prevented_defaults", "prevented"),
        Column("prevented_default_rate", "prevented rate", "prevented"),
    ),
)
BEHAVIOR = _Query(
    "behavior",
    "Behaviour changes",
    "behavior_change_summary",
    "activity, direction",
    (
        Column("activity", "activity", "text"),
        Column("direction", "direction", "text"),
        Column("changes", "changes"),
        Column("users", "users"),
        Column("mean_change_pct", "mean change %", "text"),
    ),
)
SEGMENTS = _Query(
    "segments",
    "Segments",
    "segment_summary",
    "segment_id",
    (
        Column("segment_id", "segment", "text"),
        Column("members", "members now"),
        Column("joins", "joins"),
        Column("leaves", "leaves"),
    ),
)
SEGMENT_DAYS = _Query(
    "days",
    "Segment joins and leaves per day",
    "segment_change_days",
    "segment_id, day",
    (
        Column("segment_id", "segment", "text"),
        Column("day", "day (UTC)", "text"),
        Column("joins", "joins"),
        Column("leaves", "leaves"),
    ),
    # The UTC days of the window, today included, as segment_summary counts them.
    window="day > (now() AT TIME ZONE 'UTC')::date - :days",
)
#: Reads the sections of a report that is not a set of windowed views, on a connection in
#: a transaction, for a window in days and an optional pattern (``sinks.reports.users``).
SectionReader = Callable[[Connection, int, str | None], tuple[Section, ...]]

REPORTS: dict[str, tuple[_Query, ...] | SectionReader] = {
    "effectiveness": (TRIGGERS, TEMPLATES),
    "interventions": (INTERVENTIONS,),
    "behavior": (BEHAVIOR,),
    "segments": (SEGMENTS, SEGMENT_DAYS),
    "users": user_sections,
    "personalization": personalization_sections,
}


def build(settings: Settings, name: str, days: int = 30, pattern: str | None = None) -> Report:
    """Read report ``name`` for the last ``days`` days from the database.

    Args:
        settings: Where the database is.
        name: ``effectiveness``, ``interventions``, ``behavior``, ``segments`` or ``users``.
        days: One of ``WINDOWS``.
        pattern: ``users`` only: just this pattern's users, and a list of them.

    Raises:
        ReportError: The database cannot be reached or has no reporting views.
        ValueError: An unknown report or window.
    """
    if name not in REPORTS or days not in WINDOWS:
        msg = f"no report {name!r} over {days} days (reports {sorted(REPORTS)}, days {WINDOWS})"
        raise ValueError(msg)
    queries = REPORTS[name]
    if pattern is not None and not callable(queries):
        msg = f"the {name} report has no --pattern"
        raise ValueError(msg)

    def read(connection: Connection) -> tuple[Section, ...]:
        if callable(queries):
            return queries(connection, days, pattern)
        return tuple(
            Section(q.key, q.title, q.columns, _rows(connection, q, days)) for q in queries
        )

    generated_at, sections = read_sections(settings, read)
    return Report(name, days, generated_at, sections, pattern)


def read_sections(
    settings: Settings, read: Callable[[Connection], tuple[Section, ...]]
) -> tuple[datetime, tuple[Section, ...]]:
    """Return the database's ``now()`` and the sections ``read`` makes, in one transaction.

    One transaction at ``REPEATABLE READ``: one ``now()`` for every view, and every view
    sees the same rows (at PostgreSQL's default, ``READ COMMITTED``, each statement would
    see the commits made before it: an experiment's conversions read after its exposures
    could outnumber them while the sink writes).

    Raises:
        ReportError: The database cannot be reached or has no reporting views.
    """
    engine = database_engine(settings)
    try:
        with engine.execution_options(isolation_level="REPEATABLE READ").begin() as connection:
            generated_at = connection.execute(text("SELECT now()")).scalar_one()
            sections = read(connection)
    except ProgrammingError as exc:
        if getattr(exc.orig, "sqlstate", None) != UNDEFINED_TABLE:
            raise
        msg = "the database has no reporting views; run `nudge db upgrade`"
        raise ReportError(msg) from exc
    except OperationalError as exc:
        msg = f"cannot reach the database ({type(exc.orig).__name__})"
        raise ReportError(msg) from exc
    finally:
        engine.dispose()
    return generated_at, sections


def _rows(connection: Connection, query: _Query, days: int) -> list[dict[str, Any]]:
    # View and column names are this module's constants, never input.
    sql = (
        f"SELECT * FROM {query.view} WHERE {query.window} AND {query.where} "  # noqa: S608
        f"ORDER BY {query.order}"
    )
    found = connection.execute(text(sql), {"days": days}).mappings()
    return [{k: v for k, v in row.items() if k != "window_days"} for row in found]


def render_json(report: Report) -> str:
    """Return the report as JSON: every view column; rates as fractions, money as text.

    Days are ISO dates (``2025-06-01``), times ISO times; a report limited to one pattern
    names it (``pattern``).

    A rate without a denominator is ``null``; so is ``prevented_default_rate`` while
    pending.
    """
    document: dict[str, Any] = {"report": report.name}
    if report.window_days is not None:
        document["window_days"] = report.window_days
    document["generated_at"] = report.generated_at.isoformat()
    if report.pattern is not None:
        document["pattern"] = report.pattern
    document.update(report.options)
    for section in report.sections:
        document[section.key] = section.rows
    return json.dumps(document, indent=2, default=_json_value)


def _json_value(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    msg = f"not JSON serialisable: {type(value).__name__}"
    raise TypeError(msg)


def render_text(report: Report) -> str:
    """Return the report as titled tables with aligned columns."""
    stamp = report.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = []
    window = "" if report.window_days is None else f", last {report.window_days} days"
    for section in report.sections:
        heading = f"{section.title}{window} (as of {stamp})"
        table = render_table(section.columns, section.rows)
        if not section.rows and report.window_days is None:
            table = "(nothing yet)"
        parts.append(f"{heading}\n\n{table}")
    return "\n\n".join(parts)


def render_table(columns: Sequence[Column], rows: Sequence[dict[str, Any]]) -> str:
    """Return ``rows`` as a table: text left-aligned, numbers right-aligned, two spaces apart."""
    if not rows:
        return "(nothing in this window)"
    cells = [[format_cell(column, row.get(column.key)) for column in columns] for row in rows]
    widths = [
        max(len(column.header), *(len(line[i]) for line in cells))
        for i, column in enumerate(columns)
    ]
    lines = [[column.header for column in columns], *cells]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if column.kind == "text" else cell.rjust(width)
            for cell, width, column in zip(line, widths, columns, strict=True)
        ).rstrip()
        for line in lines
    )
