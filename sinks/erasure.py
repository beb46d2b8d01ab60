"""Erasing one user from the database: every row that names them goes, in one transaction.

``nudge users forget`` calls :func:`erase_user` once the worker has applied the erasure
request and the sinks have stored everything published before it (``docs/privacy.md``).
Which rows name a user:

- every row of every table with a ``user_id`` column, found from the SQLAlchemy metadata
  (:func:`user_tables`), so a table added later with that column is erased without a
  change here; the reporting views are derived from these tables and need nothing;
- ``dead_letters`` whose Kafka key is the user's id, or whose kept value holds the id as a
  JSON string (``"<id>"``): a rejected event of the user with no key, or a wrong one.
  A value that names the user only in text that is not a JSON string (not JSON at all)
  is not found; the dead-letter retention (``sinks.retention``) bounds how long it stays.

Rows are deleted, not anonymised: a row's other columns (a rendered message with the
first name, a page path, an amount at a merchant) can name a user as well as the id, and
anonymising them column by column would have to be right for every column forever. The
reports lose the user, as if they had never been there. Then an ``erasures`` row records
how many rows went from each table, and nothing about whom.

Tables that hold no personal data are listed in ``NO_PERSONAL_DATA``; a test checks that
every table is either erased by ``user_id``, is ``dead_letters``, or is listed there, and
that no other column looks like it names a person.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime

import orjson
from sqlalchemy import Connection, Engine, Table, TextClause, delete, insert, text

from sinks.messages import DEAD_LETTERS, table_of
from sinks.tables import Base, ErasureRow

#: The column that names the user a row is about.
USER_COLUMN = "user_id"
#: Tables without personal data: the model registry and the online models' checkpoints
#: (population counts), and the erasure records themselves.
NO_PERSONAL_DATA = frozenset({"model_versions", "model_checkpoints", "erasures"})

ERASURES = table_of(ErasureRow)


def user_tables() -> tuple[Table, ...]:
    """Return every table with a ``user_id`` column, by name."""
    tables = Base.metadata.tables.values()
    return tuple(sorted((t for t in tables if USER_COLUMN in t.columns), key=lambda t: t.name))


def erase_user(
    engine: Engine, user_id: str, *, erasure_id: str, requested_at: datetime, now: datetime
) -> dict[str, int]:
    """Delete every row naming ``user_id`` and record the erasure, in one transaction.

    Running it again for the same user is safe: it deletes what arrived since (nothing,
    usually) and records one more erasure.

    Args:
        engine: The database.
        user_id: The user to forget (never stored, never logged).
        erasure_id: The erasure's random id (``ErasureRequest.erasure_id``).
        requested_at: When the erasure was asked for.
        now: When it completes (``completed_at``).

    Returns:
        Table name -> rows deleted, for every table that can name a user.
    """
    with engine.begin() as connection:
        counts = delete_user_rows(connection, user_id)
        connection.execute(
            insert(ERASURES).values(
                erasure_id=erasure_id,
                requested_at=requested_at,
                completed_at=now,
                rows_by_table=counts,
            )
        )
    return counts


def delete_user_rows(connection: Connection, user_id: str) -> dict[str, int]:
    """Delete the rows naming ``user_id`` on ``connection`` (the caller's transaction).

    Returns:
        Table name -> rows deleted.
    """
    counts: dict[str, int] = {}
    for table in user_tables():
        deleted = connection.execute(delete(table).where(table.c[USER_COLUMN] == user_id))
        counts[table.name] = deleted.rowcount
    deleted = connection.execute(dead_letters_of(user_id))
    counts[DEAD_LETTERS.name] = deleted.rowcount
    return counts


def dead_letters_of(user_id: str) -> TextClause:
    """Return the ``DELETE`` of the dead letters that name ``user_id`` (see the module).

    ``key`` and ``value`` are base64 of the original bytes (``schemas.intake.dead_letter``);
    ``position`` on ``bytea`` finds the quoted id in the decoded value.
    """
    return _DEAD_LETTERS_OF.bindparams(
        key=base64.b64encode(user_id.encode()).decode(),
        quoted=orjson.dumps(user_id),  # the id as a JSON string, quotes included
    )


_DEAD_LETTERS_OF = text(
    f"DELETE FROM {DEAD_LETTERS.name} "  # noqa: S608 - a table name of ours, not input
    "WHERE key = :key OR position(CAST(:quoted AS bytea) IN decode(value, 'base64')) > 0"
)


def total(counts: Mapping[str, int]) -> int:
    """Return the rows deleted in all tables."""
    return sum(counts.values())
