"""Retention against the real database: per table, old rows go and recent rows stay.

Every purgeable table (from ``sinks.retention.AGE_COLUMN``, checked against the metadata
by the unit tests) gets rows 40 and 10 days old and one 31 days old; a 30-day limit must
take the 40- and 31-day-old rows of exactly the tables that have one, in batches.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from schemas.settings import Settings
from sinks.retention import AGE_COLUMN, DEFAULT_DAYS, purge, retention_days
from sinks.tables import Base
from streams.runtime.processes import settings_env
from tests.integration.sinks.rows_of_every_table import insert_rows, row_of

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 5, 12, tzinfo=UTC)
AGES = (40, 31, 10)  # days


def seed(engine: Engine, now: datetime = NOW) -> None:
    for name in AGE_COLUMN:
        table = Base.metadata.tables[name]
        age = AGE_COLUMN[name]
        insert_rows(engine, table, [
            row_of(table, n, now, **{age: _at(table, age, now - timedelta(days=days))})
            for n, days in enumerate(AGES)
        ])  # fmt: skip


def _at(table, column: str, at: datetime):
    return at.date() if type(table.c[column].type).__name__ == "Date" else at


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(
                select(func.count()).select_from(Base.metadata.tables[name])
            ).scalar_one()
            for name in AGE_COLUMN
        }


def test_old_rows_go_and_recent_rows_stay_in_every_table_with_a_limit(engine: Engine) -> None:
    seed(engine)
    days = {name: 30 for name in AGE_COLUMN} | {"user_days": 0, "purchases": 0}
    would = purge(engine, days, NOW, dry_run=True)
    assert counts(engine) == {name: 3 for name in AGE_COLUMN}  # a dry run deletes nothing
    purged = purge(engine, days, NOW, batch_rows=1)  # one row a transaction: the loop
    assert purged == would == {name: 2 for name in AGE_COLUMN if days[name]}
    assert counts(engine) == {name: 1 if days[name] else 3 for name in AGE_COLUMN}
    with engine.connect() as connection:
        for name, column in AGE_COLUMN.items():
            if days[name]:
                table = Base.metadata.tables[name]
                (kept,) = connection.execute(select(table.c[column])).scalars()
                assert _at(table, column, NOW - timedelta(days=10)) == kept, name
    assert purge(engine, days, NOW) == {name: 0 for name in AGE_COLUMN if days[name]}


def test_the_defaults_purge_only_what_they_limit(engine: Engine) -> None:
    seed(engine, NOW - timedelta(days=365 - 30))  # now 375, 366 and 345 days old
    purged = purge(engine, retention_days(Settings()), NOW)
    for name, limit in DEFAULT_DAYS.items():
        expected = 0 if limit == 0 else sum(1 for d in AGES if d + 335 > limit)
        assert purged.get(name, 0) == expected, name


def test_nudge_db_purge_prints_per_table_and_dry_run_deletes_nothing(
    engine: Engine, settings: Settings
) -> None:
    seed(engine)
    env = settings_env(settings) | {"NUDGE_RETENTION_DAYS": "trigger_events=1"}
    command = [sys.executable, "-m", "streams.cli", "db", "purge"]
    dry = subprocess.run([*command, "--dry-run"], env=env, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "trigger_events: would delete 3 rows older than 1 days" in dry.stdout
    assert counts(engine)["trigger_events"] == 3
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "trigger_events: deleted 3 rows older than 1 days" in done.stdout
    assert "kept whole: " in done.stdout and "user_days" in done.stdout
    assert counts(engine)["trigger_events"] == 0
