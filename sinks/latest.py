"""Tables that keep the latest message per key (``sinks.tables.LATEST_BY``): which one wins.

``alert_profiles`` holds one row per user, the latest profile: a message replaces the
stored row only if it is greater on the table's ``LATEST_BY`` columns (``as_of``, then
``profile_id``). The order is total, so the row ends as the greatest message whatever
order the messages arrive in: a replay (equal) and a late older profile (less) change
nothing, and two profiles of one instant leave the same row on every run. Within a batch
the greatest message of each key is kept (``keep_latest``), in the database the stored
row is replaced only by a greater one (``newer_than_stored``, the ``WHERE`` of ``ON
CONFLICT DO UPDATE``; ``sinks.staging`` writes the same condition for ``COPY``).

Why this is right when two sinks write one user at once (a rebalance hands a partition
over while the old owner still writes): ``INSERT ... ON CONFLICT DO UPDATE`` locks the
row it conflicts with and evaluates the ``WHERE`` against its latest committed version
(at ``READ COMMITTED``, the sink's level), so the second writer compares with what the
first wrote, never with a stale copy; an insert racing an insert of the same new key
waits for it and then takes the update path. Text columns are compared byte by byte
(``COLLATE "C"``): the database's collation could order two ids otherwise than Python,
and then a batch and the table would disagree on which profile is the latest.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, String, Table, tuple_

from sinks.messages import Row
from sinks.tables import LATEST_BY

#: Byte order for text: the order Python compares ``str`` in (UTF-8 keeps code points').
BYTE_ORDER = "C"


def latest_by(table: Table) -> tuple[str, ...]:
    """Return the columns ordering a key's messages; empty for an insert-only table."""
    return tuple(table.info.get(LATEST_BY, ()))


def keep_latest(rows: Iterable[Row]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Return each key's greatest row's values (``LATEST_BY``), keys in first-seen order.

    For an insert-only table (no ``LATEST_BY``), the last row of each key: they are all
    the same message.
    """
    kept: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        order = latest_by(row.table)
        held = kept.get(row.key)
        if held is None or _rank(row.values, order) >= _rank(held, order):
            kept[row.key] = row.values
    return kept


def _rank(values: dict[str, Any], order: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(values[column] for column in order)


def newer_than_stored(table: Table, excluded: Any) -> ColumnElement[bool]:
    """Return ``(stored ordering columns) < (proposed ones)``, text compared byte by byte.

    Args:
        table: A ``LATEST_BY`` table.
        excluded: The proposed row (``insert(table).excluded``).
    """
    order = latest_by(table)
    return tuple_(*(_ordered(table.c[name]) for name in order)) < tuple_(
        *(_ordered(excluded[name]) for name in order)
    )


def _ordered(column: Any) -> Any:
    return column.collate(BYTE_ORDER) if isinstance(column.type, String) else column
