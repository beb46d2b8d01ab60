r"""What the sink reads and writes: a consumed message, a row, and a message's dead letter.

A message that cannot be used is not an error for the sink: it becomes a ``dead_letters``
row that keeps the original bytes (base64; redacted and cut exactly as the worker's dead
letters, by ``schemas.intake.dead_letter``) and what was wrong (field paths and error
types, never the values: they may be personal data).

Every text a row holds is made storable first: PostgreSQL's ``text`` and ``jsonb`` cannot
hold NUL (U+0000), which JSON, Python and Kafka can, so a NUL anywhere in a row's values
(strings, mapping keys, nested JSON) is stored as U+FFFD, the replacement character. The
row is kept, not refused: a command that was published must have its row. Two ids that
differ only there (``a\x00`` and ``a\ufffd``) would share a key; the event schema refuses
control characters in identifiers (issue 8), so only text fields should carry one this far.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Table

from schemas.intake import NUL_REPLACEMENT, Rejection, dead_letter
from schemas.records import RejectionKind
from sinks.tables import SHARED_ROWS, Base, DeadLetterRow


def table_of(model: type[Base]) -> Table:
    """Return the Core table of a mapped class."""
    return Base.metadata.tables[model.__tablename__]


DEAD_LETTERS = table_of(DeadLetterRow)


@dataclass(frozen=True, slots=True)
class ConsumedMessage:
    """Where a message was read, with its original bytes."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Row:
    """One row to insert, with the message it came from.

    Attributes:
        table: The table it goes to.
        values: Column name -> value; columns with a server default are left out.
        source: The Kafka message it was made from.
        rejected: ``True`` when the message was unusable and this is its dead letter.
    """

    table: Table
    values: dict[str, Any]
    source: ConsumedMessage
    rejected: bool = False
    nul_free: bool = field(default=False, compare=False, repr=False)
    """``True`` when whoever builds the row knows no value holds a NUL (``message_row``
    knows it from the message's bytes, see ``JSON_NUL``): the values are not walked."""

    def __post_init__(self) -> None:
        """Make every value storable (see the module's docstring), keys included."""
        if not self.nul_free:
            object.__setattr__(self, "values", storable(self.values))

    @property
    def key(self) -> tuple[Any, ...]:
        """Return the primary key values."""
        values = self.values
        return tuple([values[name] for name in key_columns(self.table)])

    @property
    def shared(self) -> bool:
        """Return whether many messages make this one row (``sinks.tables.SHARED_ROWS``)."""
        return bool(self.table.info.get(SHARED_ROWS))


@functools.cache
def key_columns(table: Table) -> tuple[str, ...]:
    """Return the names of ``table``'s primary key columns (looked up once per table)."""
    return tuple(column.name for column in table.primary_key)


def dead_letter_row(source: ConsumedMessage, kind: RejectionKind, error: str, now: datetime) -> Row:
    """Return the ``dead_letters`` row of an unusable message.

    Its id derives from the message's topic, partition and offset, so reading the same
    message again is not a second dead letter (nor is the stream worker's dead letter of
    the same input message: it has the same id).
    """
    letter = dead_letter(
        Rejection(kind, error),
        topic=source.topic,
        partition=source.partition,
        offset=source.offset,
        key=source.key,
        value=source.value,
        failed_at=now,
    )
    values = letter.model_dump(mode="python", exclude={"schema_version"})
    values["kind"] = kind.value
    return Row(DEAD_LETTERS, values, source, rejected=True)


#: PostgreSQL ``text`` and ``jsonb`` refuse this character (SQLSTATE 22021 / 22P05).
NUL = "\x00"
#: The only way JSON text can hold a NUL: the parser refuses raw control characters in
#: strings, so a message whose bytes lack this escape decodes to no NUL at all. (A
#: false alarm, ``"\\u0000"`` spelling the six characters, only costs the walk.)
JSON_NUL = b"\\u0000"


def storable(value: Any) -> Any:
    """Return ``value`` with every NUL in its text replaced by U+FFFD.

    Strings, and the keys and items of dicts, lists and tuples (JSON columns) at any depth;
    other values (numbers, times, ``None``) are returned as they are.
    """
    if isinstance(value, str):
        return value.replace(NUL, NUL_REPLACEMENT) if NUL in value else value
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(storable(item) for item in value)
    return value


def rejection_kind(exc: ValidationError) -> RejectionKind:
    """Return ``not_json`` when the bytes were not JSON at all, ``invalid`` otherwise."""
    if any(error["type"] == "json_invalid" for error in exc.errors()):
        return RejectionKind.NOT_JSON
    return RejectionKind.INVALID
