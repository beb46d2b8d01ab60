"""Retention: how long each table keeps its rows, and the purge that deletes older ones.

A row's age is the time of the fact it records (``AGE_COLUMN``: when the decision was
made, the command created, the event happened), not when the sink wrote it: a history
replayed today is as old as it was. ``NUDGE_RETENTION_DAYS`` (``table=days,...``)
overrides ``DEFAULT_DAYS`` per table; ``0`` keeps a table's rows forever.

The defaults keep a year of what the reports read (commands, interventions, outcomes,
missed payments, funnel steps), three months of the high-volume operational records
(every decision, fired or suppressed; dead letters; checkpoints) and six months of score
snapshots and recommendations. Tables whose meaning needs their whole history are kept
forever: ``segment_changes`` (membership is the latest change, however old),
experiments (an experiment's result must not change because its early rows aged out),
``user_days`` and ``purchases`` (cohorts and lifetime value), ``alert_actions`` (the
recommender's labels), ``alert_profiles`` (one row per user, the latest) and
``erasures`` (the record that a user was forgotten). ``model_versions`` is never purged:
the version in force must stay.

The purge deletes in batches of ``BATCH_ROWS``, each its own transaction, so it never
holds many locks or a long transaction against the sinks' writes; stopped half way,
the next run finishes it. It is run by ``nudge db purge`` (daily, by the Kubernetes
CronJob ``nudge-db-purge``; see ``docs/privacy.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Date,
    Engine,
    Table,
    delete,
    func,
    literal_column,
    select,
)

from schemas.privacy import parse_retention
from schemas.settings import SettingError, Settings
from sinks.tables import Base

#: Table -> the column whose time is a row's age.
AGE_COLUMN: Mapping[str, str] = MappingProxyType(
    {
        "alert_actions": "occurred_at",
        "alert_profiles": "as_of",
        "alert_recommendations": "created_at",
        "communications": "created_at",
        "dead_letters": "failed_at",
        "erasures": "completed_at",
        "experiment_assignments": "exposed_at",
        "experiment_conversions": "converted_at",
        "funnel_steps": "at",
        "interventions": "created_at",
        "missed_payments": "occurred_at",
        "model_checkpoints": "taken_at",
        "outcomes": "occurred_at",
        "purchases": "occurred_at",
        "score_history": "as_of",
        "segment_changes": "occurred_at",
        "trigger_events": "occurred_at",
        "user_days": "day",
    }
)
#: Tables no setting may purge: the model registry (the version in force must stay).
NEVER_PURGED = frozenset({"model_versions"})

#: Days each table keeps its rows by default (``0``: forever); see the module.
DEFAULT_DAYS: Mapping[str, int] = MappingProxyType(
    {
        "alert_actions": 0,
        "alert_profiles": 0,
        "alert_recommendations": 180,
        "communications": 365,
        "dead_letters": 90,
        "erasures": 0,
        "experiment_assignments": 0,
        "experiment_conversions": 0,
        "funnel_steps": 365,
        "interventions": 365,
        "missed_payments": 365,
        "model_checkpoints": 90,
        "outcomes": 365,
        "purchases": 0,
        "score_history": 180,
        "segment_changes": 0,
        "trigger_events": 90,
        "user_days": 0,
    }
)

#: Rows one purge transaction deletes at most: a few hundred milliseconds of work.
BATCH_ROWS = 10_000


def retention_days(settings: Settings) -> dict[str, int]:
    """Return each purgeable table's days: the defaults with ``NUDGE_RETENTION_DAYS`` over them.

    Raises:
        SettingError: The setting names a table that is not purgeable (unknown, or
            ``model_versions``).
    """
    overrides = parse_retention(settings.retention_days)
    unknown = sorted(set(overrides) - set(AGE_COLUMN))
    if unknown:
        variable = Settings.variable("retention_days")
        msg = (
            f"{variable} names tables that cannot be purged: {', '.join(unknown)} "
            f"(purgeable: {', '.join(sorted(AGE_COLUMN))})"
        )
        raise SettingError(msg)
    return {**DEFAULT_DAYS, **overrides}


def cutoffs(days: Mapping[str, int], now: datetime) -> dict[str, datetime]:
    """Return, per table with a limit, the time before which rows go (``0`` days: none)."""
    return {table: now - timedelta(days=n) for table, n in sorted(days.items()) if n > 0}


def purge(
    engine: Engine,
    days: Mapping[str, int],
    now: datetime,
    *,
    dry_run: bool = False,
    batch_rows: int = BATCH_ROWS,
) -> dict[str, int]:
    """Delete (or, with ``dry_run``, count) the rows older than each table's retention.

    Args:
        engine: The database.
        days: Table -> days kept (``retention_days``); ``0``: the table is left alone.
        now: The time ages are measured from (timezone-aware).
        dry_run: Count what would go; delete nothing.
        batch_rows: Most rows one transaction deletes.

    Returns:
        Table name -> rows deleted (or that would be), for every table with a limit.
    """
    purged: dict[str, int] = {}
    for name, cutoff in cutoffs(days, now).items():
        table = Base.metadata.tables[name]
        column = table.c[AGE_COLUMN[name]]
        limit = cutoff.date() if isinstance(column.type, Date) else cutoff
        old = column < limit
        if dry_run:
            with engine.connect() as connection:
                count = select(func.count()).select_from(table).where(old)
                purged[name] = int(connection.execute(count).scalar_one())
            continue
        purged[name] = _delete_in_batches(engine, table, old, batch_rows)
    return purged


def _delete_in_batches(
    engine: Engine, table: Table, old: ColumnElement[bool], batch_rows: int
) -> int:
    """Delete ``table``'s rows matching ``old``, ``batch_rows`` per transaction; return how many."""
    ctid: ColumnClause[Any] = literal_column("ctid")
    deleted = 0
    while True:
        batch = select(ctid).select_from(table).where(old).limit(batch_rows)
        with engine.begin() as connection:
            gone = connection.execute(delete(table).where(ctid.in_(batch))).rowcount
        deleted += gone
        if gone < batch_rows:
            return deleted
