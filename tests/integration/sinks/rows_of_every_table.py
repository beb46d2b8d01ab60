"""A row for any sink table, built from its columns (no tests of its own).

Erasure and retention must hold for every table, including one added later: these rows
are built from the SQLAlchemy metadata, so a new table gets rows here without a change.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Double,
    Engine,
    Integer,
    Numeric,
    Table,
    Text,
    insert,
)
from sqlalchemy.dialects.postgresql import JSONB


def column_value(column: Column[Any], tag: str, n: int, at: datetime) -> Any:
    """Return a value of ``column``'s type: text made unique by ``tag`` and ``n``."""
    kind = column.type
    values: list[tuple[type | tuple[type, ...], Any]] = [
        (DateTime, at), (Date, at.date()), ((BigInteger, Integer), n), (Double, 0.5),
        (Numeric, Decimal("1.5")), (Boolean, False), (JSONB, {}), (ARRAY, []),
        (Text, f"{tag}-{column.name}-{n}"),
    ]  # fmt: skip
    for types, value in values:  # the first that fits: Double is a Numeric, too
        if isinstance(kind, types):
            return value
    msg = f"no test value for {column.table.name}.{column.name} ({kind!r})"
    raise TypeError(msg)


def row_of(table: Table, n: int, at: datetime, /, **given: Any) -> dict[str, Any]:
    """Return a row for ``table``: ``given`` values, the rest made up (server defaults left)."""
    values: dict[str, Any] = {}
    for column in table.columns:
        if column.name in given:
            values[column.name] = given[column.name]
        elif column.server_default is None:
            values[column.name] = column_value(column, table.name, n, at)
    return values


def insert_rows(engine: Engine, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` into ``table`` in one transaction."""
    with engine.begin() as connection:
        connection.execute(insert(table), rows)
