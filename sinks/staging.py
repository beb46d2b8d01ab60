"""Bulk insert through a staging table: ``COPY`` the rows in, move the new ones over.

Per table and batch: one ``COPY staging (cols) FROM STDIN`` streams every row, then one
``INSERT INTO target (cols) SELECT cols FROM staging ON CONFLICT (pk) DO NOTHING
RETURNING pk`` keeps the new ones and names them. Three round trips whatever the batch
size, and the server parses rows in ``COPY``'s text format, not statement parameters.

The staging table is a temporary table of the session (``pg_temp``, so two sinks never
share one), created once per connection with ``CREATE ... IF NOT EXISTS`` in every batch's
transaction and emptied by the server at each commit (``ON COMMIT DELETE ROWS``), so:

- no table is created and dropped per batch (``ON COMMIT DROP`` would write and delete
  catalog rows, ``pg_class`` and ``pg_attribute``, fifty times a second and bloat them);
- a batch that fails leaves nothing behind: its rows are rolled back with it, and a
  staging table created in it is gone too and made again by the next one;
- it works through a pooler that hands each transaction another server session.

``LIKE target INCLUDING DEFAULTS`` gives the staging table the target's columns, types,
``NOT NULL`` and defaults, so a value PostgreSQL refuses (out of range, ``NOT NULL``)
fails in ``COPY`` as it would in ``INSERT``, and the caller's fallback takes over. Errors
are raised as SQLAlchemy's (``DataError``, ``IntegrityError``, ``OperationalError``
...), as the rest of the sink expects; as with the engine's own statements, PostgreSQL's
message may quote a value, so the sink reports only the SQLSTATE.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, Connection, Table
from sqlalchemy.exc import DBAPIError

#: Prefix of the staging tables' names (``pg_temp.nudge_staging_<table>``).
STAGING_PREFIX = "nudge_staging_"


@dataclass(frozen=True, slots=True)
class StagedStatements:
    """The statements that write one table's batch through its staging table."""

    create: sql.Composed
    copy: sql.Composed
    move: sql.Composed
    clear: sql.Composed
    #: Positions of jsonb columns in the column list (their values are sent as JSON).
    json_positions: frozenset[int]
    #: Those of them whose ``None`` is SQL NULL (``JSON(none_as_null=True)``), not JSON
    #: ``null``: as SQLAlchemy's INSERT writes them.
    null_positions: frozenset[int] = frozenset()


def copy_new(
    connection: Connection, table: Table, values: Sequence[dict[str, Any]]
) -> list[tuple[Any, ...]]:
    """Insert rows of ``table`` whose key is not there yet; return the new rows' keys.

    Args:
        connection: In a transaction; its driver connection must be psycopg 3.
        table: The target table.
        values: Column name -> value of each row, keys unique within the batch. Rows
            normally share one column set; rows with another set go in a second pass.

    Raises:
        sqlalchemy.exc.DBAPIError: The subclass for the psycopg error (``DataError`` for
            a value PostgreSQL refuses, ``OperationalError`` for a lost connection).
    """
    driver = connection.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        msg = "the COPY write path needs a psycopg 3 connection (postgresql+psycopg://)"
        raise TypeError(msg)
    keys: list[tuple[Any, ...]] = []
    for index, (columns, group) in enumerate(_by_columns(values).items()):
        statements = staged_statements(table, columns)
        try:
            keys += _copy(driver, statements, columns, group, clear=index > 0)
        except psycopg.Error as exc:
            raise DBAPIError.instance(
                statements.copy.as_string(driver), None, exc, psycopg.Error, hide_parameters=True
            ) from exc
    return keys


def _copy(
    driver: psycopg.Connection[Any],
    statements: StagedStatements,
    columns: tuple[str, ...],
    group: list[dict[str, Any]],
    *,
    clear: bool,
) -> list[tuple[Any, ...]]:
    with driver.cursor() as cursor:
        cursor.execute(statements.create)
        if clear:  # a second column set in one transaction: the first one's rows are there
            cursor.execute(statements.clear)
        with cursor.copy(statements.copy) as copy:
            for record in _records(columns, group, statements):
                copy.write_row(record)
        cursor.execute(statements.move)
        return [tuple(key) for key in cursor.fetchall()]


def _records(
    columns: tuple[str, ...], group: list[dict[str, Any]], statements: StagedStatements
) -> Iterator[list[Any]]:
    nulls = statements.null_positions
    for values in group:
        record = [values[column] for column in columns]
        for position in statements.json_positions:
            if record[position] is not None or position not in nulls:
                record[position] = Jsonb(record[position], dumps=_json_text)
        yield record


def _json_text(value: Any) -> str:
    """Serialise a jsonb value (orjson: several times faster than ``json.dumps``)."""
    return orjson.dumps(value).decode()


def _by_columns(values: Sequence[dict[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in values:
        groups.setdefault(tuple(row), []).append(row)
    return groups


@functools.cache
def staged_statements(table: Table, columns: tuple[str, ...]) -> StagedStatements:
    """Return the statements for ``table`` with ``columns`` (built once per pair)."""
    target = sql.Identifier(table.name)
    staging = sql.Identifier(STAGING_PREFIX + table.name)
    names = sql.SQL(", ").join(sql.Identifier(column) for column in columns)
    key = sql.SQL(", ").join(sql.Identifier(column.name) for column in table.primary_key)
    return StagedStatements(
        create=sql.SQL(
            "CREATE TEMPORARY TABLE IF NOT EXISTS {staging} "
            "(LIKE {target} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        ).format(staging=staging, target=target),
        copy=sql.SQL("COPY {staging} ({names}) FROM STDIN").format(staging=staging, names=names),
        move=sql.SQL(
            "INSERT INTO {target} ({names}) SELECT {names} FROM {staging} "
            "ON CONFLICT ({key}) DO NOTHING RETURNING {key}"
        ).format(target=target, names=names, staging=staging, key=key),
        clear=sql.SQL("DELETE FROM {staging}").format(staging=staging),
        json_positions=frozenset(
            position
            for position, column in enumerate(columns)
            if isinstance(table.c[column].type, JSON)
        ),
        null_positions=frozenset(
            position
            for position, column in enumerate(columns)
            if getattr(table.c[column].type, "none_as_null", False)
        ),
    )
