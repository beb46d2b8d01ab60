"""Insert a batch of rows in one transaction, idempotently on each table's primary key.

``ON CONFLICT (pk) DO NOTHING RETURNING pk`` tells new rows from replays: a replayed
message is counted as a duplicate, never written twice. A table that keeps the latest
message per key (``alert_profiles``, ``sinks.latest``) is written with ``ON CONFLICT (pk)
DO UPDATE ... WHERE`` the stored row is older: its new rows are those inserted or
replaced, its duplicates the messages no newer than the row stored. A batch goes in through ``COPY``
and a staging table (``sinks.staging``, the default) or as a multi-row ``INSERT``
(``NUDGE_SINK_WRITE=insert``). A batch with a refused row is written again row by row
with plain ``INSERT``s: one round trip a row, where ``COPY`` takes three. When the batch
holds commands, outcomes or missed payments, a second short transaction after the commit
fills the commands' outcome columns (``sinks.linking`` says why after). The writer is
synchronous (SQLAlchemy Core on psycopg 3); the worker runs it in a thread.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, Table, create_engine, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from schemas.records import RejectionKind
from schemas.settings import Settings
from sinks.latest import keep_latest, latest_by, newer_than_stored
from sinks.linking import LinkResult, link, needs_linking
from sinks.messages import Row, dead_letter_row
from sinks.staging import copy_new

#: Give up connecting after this long (seconds) and retry the batch with back-off.
CONNECT_TIMEOUT_SECONDS = 10
#: A batch insert takes milliseconds; a statement hung this long (ms) is aborted and retried.
STATEMENT_TIMEOUT_MS = 60_000
#: Errors that a given row causes (bad value, constraint): retrying cannot fix them.
ROW_ERRORS = (DataError, IntegrityError)

#: ``SET column = DEFAULT``: a column the message lacks, as an insert would fill it.
DEFAULT = text("DEFAULT")

#: Inserts one table's rows (keys unique) skipping keys already there; returns the new keys.
Inserter = Callable[[Connection, Table, Sequence[dict[str, Any]]], list[tuple[Any, ...]]]


@dataclass
class WriteResult:
    """What one batch write did.

    Attributes:
        inserted: New rows by table name (and rows replaced by a later message, in a
            table that keeps the latest per key).
        duplicates: Rows already present (replays), by table name (and messages no later
            than the row stored, in a table that keeps the latest per key).
        rejected: Dead letters written instead of rows the database refused.
        new_rows: The values of the new rows, by table name.
        links: What linking outcomes to their commands did.
    """

    inserted: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    rejected: list[Row] = field(default_factory=list)
    new_rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    links: LinkResult = field(default_factory=LinkResult)

    @property
    def new(self) -> int:
        """Return how many rows were new, over all tables."""
        return sum(self.inserted.values())

    def merge(self, other: WriteResult) -> None:
        """Add another result's counts to this one."""
        self.inserted.update(other.inserted)
        self.duplicates.update(other.duplicates)
        self.rejected.extend(other.rejected)
        for table, rows in other.new_rows.items():
            self.new_rows.setdefault(table, []).extend(rows)


def create_sink_engine(settings: Settings) -> Engine:
    """Return the sink's engine; it connects lazily, on the first write.

    Parameters are hidden from error messages: rows may hold personal data.
    """
    return create_engine(
        settings.database_url.get_secret_value(),
        pool_pre_ping=True,
        pool_size=2,
        hide_parameters=True,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        },
    )


class BatchWriter:
    """Writes batches of rows, each batch in one transaction.

    Args:
        engine: The sink's engine (``create_sink_engine``).
        method: ``copy`` (``COPY`` through a staging table) or ``insert`` (multi-row
            ``INSERT``): ``Settings.sink_write``.
    """

    def __init__(self, engine: Engine, method: Literal["copy", "insert"] = "copy") -> None:
        self._engine = engine
        self._insert: Inserter = copy_new if method == "copy" else insert_new

    def write(self, rows: Sequence[Row], now: datetime) -> WriteResult:
        """Insert ``rows`` in one transaction; return what was new.

        If the database refuses a row (a value PostgreSQL cannot store), the batch is
        written again row by row and each refused row becomes a dead letter, so one bad
        message cannot stall the sink. Then, in a second transaction, the stored rows'
        commands get their outcome columns (``sinks.linking``). Connection errors
        propagate: the caller retries the whole batch, which is idempotent.

        Args:
            rows: The batch, in consumption order.
            now: Timezone-aware time stamped on dead letters of refused rows.
        """
        try:
            with self._engine.begin() as connection:
                result = insert_rows(connection, rows, self._insert)
        except ROW_ERRORS:
            result = self._write_each(rows, now)
        refused = {dead.source for dead in result.rejected}
        stored = [row for row in rows if not row.rejected and row.source not in refused]
        if needs_linking(stored):
            with self._engine.begin() as connection:
                result.links = link(connection, stored, result.new_rows)
        return result

    def _write_each(self, rows: Sequence[Row], now: datetime) -> WriteResult:
        result = WriteResult()
        for row in rows:
            try:
                with self._engine.begin() as connection:
                    result.merge(insert_rows(connection, [row]))
            except ROW_ERRORS as exc:
                error = f"database refused the row: sqlstate {sqlstate(exc)}"
                dead = dead_letter_row(row.source, RejectionKind.INVALID, error, now)
                with self._engine.begin() as connection:
                    result.merge(insert_rows(connection, [dead]))
                result.rejected.append(dead)
        return result


def insert_rows(
    connection: Connection, rows: Iterable[Row], inserter: Inserter | None = None
) -> WriteResult:
    """Insert rows on an open transaction, skipping keys already present.

    Args:
        connection: In a transaction.
        rows: Any tables' rows; a key twice in ``rows`` is one row and one duplicate (but
            shared rows, ``Row.shared``, are never counted as duplicates); of a table that
            keeps the latest per key, the row kept is the latest (``sinks.latest``).
        inserter: How each table's rows go in: ``insert_new`` (the default) or
            ``sinks.staging.copy_new``.
    """
    inserter = inserter or insert_new
    result = WriteResult()
    for table, group in _by_table(rows).items():
        unique = keep_latest(group)
        keys = inserter(connection, table, list(unique.values()))
        result.new_rows.setdefault(table.name, []).extend(unique[key] for key in keys)
        result.inserted[table.name] += len(keys)
        if not group[0].shared:  # a user's day stored already is no replay: not counted
            result.duplicates[table.name] += len(group) - len(keys)
    return result


def insert_new(
    connection: Connection, table: Table, values: Sequence[dict[str, Any]]
) -> list[tuple[Any, ...]]:
    """Insert with one multi-row ``INSERT ... ON CONFLICT DO NOTHING``; return the new keys.

    A table that keeps the latest per key (``sinks.latest``) gets ``ON CONFLICT DO UPDATE``
    instead, where the stored row is older; the keys returned are those inserted or
    replaced. Its rows go in key order, so two sinks writing the same keys lock them in the
    same order and cannot deadlock.
    """
    primary_key = list(table.primary_key.columns)
    statement = insert(table)
    if not latest_by(table):
        upsert = statement.on_conflict_do_nothing(index_elements=primary_key)
    else:
        values = sorted(values, key=lambda row: tuple(row[c.name] for c in primary_key))
        upsert = statement.on_conflict_do_update(
            index_elements=primary_key,
            set_=replacement(table, values[0], statement.excluded),
            where=newer_than_stored(table, statement.excluded),
        )
    return [tuple(key) for key in connection.execute(upsert.returning(*primary_key), values)]


def replacement(table: Table, values: dict[str, Any], excluded: Any) -> dict[str, Any]:
    """Return the ``SET`` of an upsert: the message's columns, the others their defaults.

    A replaced row is written as a new one would be: ``recorded_at`` is the time of the
    write that replaced it.
    """
    return {
        column.name: excluded[column.name] if column.name in values else DEFAULT
        for column in table.columns
        if not column.primary_key and (column.name in values or column.server_default)
    }


def sqlstate(exc: DBAPIError) -> str:
    """Return the PostgreSQL error code of a database error (no message: it may quote values)."""
    return str(getattr(exc.orig, "sqlstate", None) or "unknown")


def _by_table(rows: Iterable[Row]) -> dict[Table, list[Row]]:
    groups: dict[Table, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.table, []).append(row)
    return groups
