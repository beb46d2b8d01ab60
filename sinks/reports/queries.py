"""Read helpers over the sink tables, for the demo summary and operators.

Each call opens a short-lived engine and disposes of it: these run rarely, from the
command line, not on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, select
from sqlalchemy.orm import InstrumentedAttribute

from schemas.settings import Settings
from sinks.migrate import database_engine
from sinks.tables import (
    Base,
    Communication,
    DeadLetterRow,
    Intervention,
    OutcomeRow,
    TriggerEvent,
)


@contextmanager
def _connection(settings: Settings) -> Iterator[Connection]:
    engine = database_engine(settings)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _counts(connection: Connection, query: Select[Any]) -> list[dict[str, Any]]:
    return [dict(row) for row in connection.execute(query).mappings()]


def _grouped(
    since: datetime | None,
    recorded_at: InstrumentedAttribute[Any],
    *columns: InstrumentedAttribute[Any],
) -> Select[Any]:
    """Return ``columns`` with a row count per distinct combination, largest first."""
    count = func.count().label("count")
    query = select(*columns, count).group_by(*columns).order_by(count.desc(), *columns)
    return query if since is None else query.where(recorded_at >= since)


def summary(settings: Settings, *, since: datetime | None = None) -> dict[str, Any]:
    """Return what the sinks recorded, counted by the dimensions an operator asks about.

    Args:
        settings: Where the database is.
        since: Only rows recorded at or after this time (``None``: all).

    Returns:
        ``{"communications": [{"trigger_id", "channel", "count"}, ...],
        "decisions": [{"trigger_id", "outcome", "reason", "count"}, ...],
        "interventions": [{"intervention_type", "risk_level", "count"}, ...],
        "dead_letters": [{"topic", "kind", "count"}, ...],
        "totals": {table name: rows}}``; each list sorted by count, largest first.
    """
    queries = {
        "communications": _grouped(
            since, Communication.recorded_at, Communication.trigger_id, Communication.channel
        ),
        "decisions": _grouped(
            since,
            TriggerEvent.recorded_at,
            TriggerEvent.trigger_id,
            TriggerEvent.outcome,
            TriggerEvent.reason,
        ),
        "interventions": _grouped(
            since, Intervention.recorded_at, Intervention.intervention_type, Intervention.risk_level
        ),
        "dead_letters": _grouped(
            since, DeadLetterRow.recorded_at, DeadLetterRow.topic, DeadLetterRow.kind
        ),
    }
    with _connection(settings) as connection:
        result: dict[str, Any] = {name: _counts(connection, q) for name, q in queries.items()}
    result["totals"] = {
        "communications": sum(row["count"] for row in result["communications"]),
        "trigger_events": sum(row["count"] for row in result["decisions"]),
        "interventions": sum(row["count"] for row in result["interventions"]),
        "dead_letters": sum(row["count"] for row in result["dead_letters"]),
    }
    return result


def recent_communications(
    settings: Settings, limit: int = 10, *, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Return the last ``limit`` communications recorded (since ``since``), newest first.

    Each dict has the command's columns (``command_id``, ``user_id``, ``trigger_id``,
    ``channel``, ``subject``, ``body``, ``send_at``, ``reason``...).
    """
    table = Base.metadata.tables[Communication.__tablename__]
    # Rows of one batch share recorded_at (the transaction's time): order within it too.
    query = (
        select(table)
        .order_by(table.c.recorded_at.desc(), table.c.created_at.desc(), table.c.command_id)
        .limit(limit)
    )
    if since is not None:
        query = query.where(table.c.recorded_at >= since)
    with _connection(settings) as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def fired_users(settings: Settings, *, since: datetime | None = None) -> dict[str, set[str]]:
    """Return trigger id -> the users for whom it fired (decisions recorded since ``since``)."""
    query = select(TriggerEvent.trigger_id, TriggerEvent.user_id).where(
        TriggerEvent.outcome == "fired"
    )
    if since is not None:
        query = query.where(TriggerEvent.recorded_at >= since)
    fired: dict[str, set[str]] = {}
    with _connection(settings) as connection:
        for trigger_id, user_id in connection.execute(query):
            fired.setdefault(trigger_id, set()).add(user_id)
    return fired


def decided_commands(settings: Settings, *, since: datetime | None = None) -> dict[str, int]:
    """Return trigger id -> commands its fired decisions named (recorded since ``since``).

    Against the ``communications`` rows of the same trigger, the difference is what is
    still held for a later ``send_at`` (quiet hours) or not yet written by the sink.
    """
    named = func.coalesce(func.sum(func.cardinality(TriggerEvent.command_ids)), 0)
    query = (
        select(TriggerEvent.trigger_id, named)
        .where(TriggerEvent.outcome == "fired")
        .group_by(TriggerEvent.trigger_id)
    )
    if since is not None:
        query = query.where(TriggerEvent.recorded_at >= since)
    with _connection(settings) as connection:
        return {trigger_id: int(count) for trigger_id, count in connection.execute(query)}


def intervention_users(settings: Settings) -> dict[str, set[str]]:
    """Return intervention type -> the users an intervention of that type started for."""
    started: dict[str, set[str]] = {}
    query = select(Intervention.intervention_type, Intervention.user_id)
    with _connection(settings) as connection:
        for kind, user_id in connection.execute(query):
            started.setdefault(kind, set()).add(user_id)
    return started


def users_by_reason(settings: Settings, trigger_id: str) -> dict[str, set[str]]:
    """Return decision reason -> the users a decision of ``trigger_id`` gave it to.

    Every suppression reason, and ``escalated`` (a risk intervention fired inside its
    cool-off); decisions without a reason are left out.
    """
    query = select(TriggerEvent.reason, TriggerEvent.user_id).where(
        TriggerEvent.trigger_id == trigger_id, TriggerEvent.reason.is_not(None)
    )
    users: dict[str, set[str]] = {}
    with _connection(settings) as connection:
        for reason, user_id in connection.execute(query):
            users.setdefault(str(reason), set()).add(user_id)
    return users


def behavior_change_users(settings: Settings) -> dict[tuple[str, str], set[str]]:
    """Return (activity, direction) -> the users a ``behavior_change`` decision named."""
    change = TriggerEvent.behavior_change
    query = select(
        change["activity"].astext, change["direction"].astext, TriggerEvent.user_id
    ).where(change.is_not(None))
    users: dict[tuple[str, str], set[str]] = {}
    with _connection(settings) as connection:
        for activity, moved, user_id in connection.execute(query):
            users.setdefault((str(activity), str(moved)), set()).add(user_id)
    return users


def recent_interventions(settings: Settings, limit: int = 10) -> list[dict[str, Any]]:
    """Return the last ``limit`` interventions recorded, newest first (every column)."""
    table = Base.metadata.tables[Intervention.__tablename__]
    query = (
        select(table)
        .order_by(table.c.recorded_at.desc(), table.c.created_at.desc(), table.c.command_id)
        .limit(limit)
    )
    with _connection(settings) as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def stored_outcomes(settings: Settings) -> int:
    """Return how many outcomes (``comms.outcomes`` events) the sink has stored."""
    with _connection(settings) as connection:
        return int(connection.execute(select(func.count()).select_from(OutcomeRow)).scalar_one())
