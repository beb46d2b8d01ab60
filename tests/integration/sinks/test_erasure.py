"""Erasing a user from the real database: every row naming them goes, others stay.

Every table with a ``user_id`` column gets rows for two users (built from the metadata,
so a table added later is covered), the dead letters get rows naming the user by key and
inside the value, and :func:`sinks.erasure.erase_user` must delete exactly the user's
rows in one transaction and record the erasure without any personal data.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import Engine, Table, func, select, text

from sinks.erasure import ERASURES, erase_user, user_tables
from sinks.messages import DEAD_LETTERS
from tests.integration.sinks.rows_of_every_table import insert_rows, row_of

pytestmark = pytest.mark.integration

AT = datetime(2026, 6, 5, 12, tzinfo=UTC)
USER, OTHER = "ada", "adam"  # "adam" contains "ada": only whole ids may match


def letter(n: int, key: bytes | None, value: bytes) -> dict:
    return row_of(
        DEAD_LETTERS, n, AT,
        key=None if key is None else base64.b64encode(key).decode(),
        value=base64.b64encode(value).decode(),
    )  # fmt: skip


def event_of(user: str) -> bytes:
    return orjson.dumps({"event_id": "e", "user_id": user, "payload": {"type": "x"}})


def users_rows(table: Table) -> int:
    """Two rows of the user per table; one where the user is the whole key."""
    return 1 if [c.name for c in table.primary_key] == ["user_id"] else 2


def seed(engine: Engine) -> None:
    for table in user_tables():
        users = [USER] * users_rows(table) + [OTHER]
        insert_rows(engine, table, [
            row_of(table, n, AT - timedelta(days=n), user_id=user)
            for n, user in enumerate(users)
        ])  # fmt: skip
    insert_rows(engine, DEAD_LETTERS, [
        letter(1, USER.encode(), b"not json at all"),  # keyed by the user
        letter(2, None, event_of(USER)),  # no key; the id inside, as a JSON string
        letter(3, b"someone-else", b'{"user_id": "ada", "oops": 1'),  # broken JSON, quoted id
        letter(4, OTHER.encode(), event_of(OTHER)),
        letter(5, None, b"plain ada in text"),  # not quoted: not found (documented)
    ])  # fmt: skip


def counts_by_user(engine: Engine, user: str) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.execute(
                select(func.count()).select_from(table).where(table.c.user_id == user)
            ).scalar_one()
            for table in user_tables()
        }


def letter_ids(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        found = connection.execute(select(DEAD_LETTERS.c.dead_letter_id)).scalars()
        return sorted(found)


def test_forgetting_a_user_deletes_every_row_naming_them_and_records_no_personal_data(
    engine: Engine,
) -> None:
    seed(engine)
    keep = [row_of(DEAD_LETTERS, n, AT)["dead_letter_id"] for n in (4, 5)]
    counts = erase_user(
        engine, USER, erasure_id="e-1", requested_at=AT, now=AT + timedelta(seconds=3)
    )
    assert set(counts_by_user(engine, USER).values()) == {0}
    assert set(counts_by_user(engine, OTHER).values()) == {1}
    assert letter_ids(engine) == sorted(keep)
    assert counts == {**{t.name: users_rows(t) for t in user_tables()}, DEAD_LETTERS.name: 3}
    with engine.connect() as connection:
        (erasure,) = connection.execute(select(ERASURES)).mappings().all()
        as_text = connection.execute(text("SELECT erasures::text FROM erasures")).scalar_one()
    assert erasure["erasure_id"] == "e-1"
    assert erasure["requested_at"] == AT
    assert erasure["completed_at"] == AT + timedelta(seconds=3)
    assert erasure["rows_by_table"] == counts
    assert USER not in as_text  # no user id, in any column


def test_forgetting_again_is_safe_and_deletes_rows_that_arrived_late(engine: Engine) -> None:
    seed(engine)
    erase_user(engine, USER, erasure_id="e-1", requested_at=AT, now=AT)
    late = user_tables()[0]
    insert_rows(engine, late, [row_of(late, 9, AT, user_id=USER)])
    again = erase_user(engine, USER, erasure_id="e-2", requested_at=AT, now=AT)
    assert again[late.name] == 1 and sum(again.values()) == 1
    assert set(counts_by_user(engine, USER).values()) == {0}
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(ERASURES)).scalar_one() == 2


def test_the_erasure_is_one_transaction(engine: Engine) -> None:
    """If recording the erasure fails, no row is deleted either."""
    seed(engine)
    erase_user(engine, USER, erasure_id="e-1", requested_at=AT, now=AT)
    tables = user_tables()
    insert_rows(engine, tables[0], [row_of(tables[0], 9, AT, user_id=USER)])
    with pytest.raises(Exception, match="pk_erasures"):
        erase_user(engine, USER, erasure_id="e-1", requested_at=AT, now=AT)  # id taken
    assert counts_by_user(engine, USER)[tables[0].name] == 1
