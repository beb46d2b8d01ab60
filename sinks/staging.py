"""Bulk insert through a staging table: ``COPY`` the rows in, move the new ones over.

Per table and batch: one ``COPY staging (cols) FROM STDIN`` streams every row, then one
``INSERT INTO target (cols) SELECT cols FROM staging ON CONFLICT (pk) DO NOTHING
RETURNING pk`` keeps the new ones and names them. Three round trips whatever the batch
size, and the server parses rows in ``COPY``'s text format, not statement parameters. A
table that keeps the latest message per key (``sinks.latest``) is moved with ``ON
CONFLICT (pk) DO UPDATE SET ... WHERE`` the stored row is older, in key order (two sinks
writing the same keys lock them in one order, so they cannot deadlock), exactly as the
``INSERT`` path writes it.

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
from sqlalchemy import JSON, Connection, String, Table
from sqlalchemy.exc import DBAPIError

from sinks.latest import BYTE_ORDER, latest_by

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
    conflict = sql.SQL("ON CONFLICT ({key}) DO NOTHING").format(key=key)
    if latest_by(table):
        conflict = _replace_older(table, columns, key)
    return StagedStatements(
        create=sql.SQL(
            "CREATE TEMPORARY TABLE IF NOT EXISTS {staging} "
            "(LIKE {target} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        ).format(staging=staging, target=target),
        copy=sql.SQL("COPY {staging} ({names}) FROM STDIN").format(staging=staging, names=names),
        move=sql.SQL(
            "INSERT INTO {target} ({names}) SELECT {names} FROM {staging} {conflict} "
            "RETURNING {key}"
        ).format(target=target, names=names, staging=staging, conflict=conflict, key=key),
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


def _replace_older(table: Table, columns: tuple[str, ...], key: sql.Composable) -> sql.Composed:
    """Return ``ORDER BY pk ON CONFLICT (pk) DO UPDATE SET ... WHERE stored < proposed``.

    The same upsert as ``sinks.writer.insert_new`` builds (``sinks.latest``): the message's
    columns, the others their defaults (``recorded_at``: the write that replaced the row);
    the ordering columns compared as tuples, text byte by byte.
    """
    target = sql.Identifier(table.name)
    assignments = [
        sql.SQL("{column} = EXCLUDED.{column}").format(column=sql.Identifier(column.name))
        if column.name in columns
        else sql.SQL("{column} = DEFAULT").format(column=sql.Identifier(column.name))
        for column in table.columns
        if not column.primary_key and (column.name in columns or column.server_default)
    ]

    def ordered(source: sql.Composable, name: str) -> sql.Composable:
        value = sql.SQL("{source}.{column}").format(source=source, column=sql.Identifier(name))
        if isinstance(table.c[name].type, String):
            return sql.SQL("{value} COLLATE {order}").format(
                value=value, order=sql.Identifier(BYTE_ORDER)
            )
        return value

    order = latest_by(table)
    stored = sql.SQL(", ").join(ordered(target, name) for name in order)
    proposed = sql.SQL(", ").join(ordered(sql.SQL("EXCLUDED"), name) for name in order)
    return sql.SQL(
        "ORDER BY {key} ON CONFLICT ({key}) DO UPDATE SET {assignments} "
        "WHERE ({stored}) < ({proposed})"
    ).format(
        key=key,
        assignments=sql.SQL(", ").join(assignments),
        stored=stored,
        proposed=proposed,
    )
