"""How one topic's messages become rows: their model, their table, and the decoder (no I/O).

A ``Route`` is the general shape; ``sinks.rows`` names the route of every topic the sink
reads. The decoders of input topics (``sinks.inputs``) take a route, so the shape lives
here, apart from the table of routes that names them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Table

from schemas.validation import describe_validation_error
from sinks.messages import JSON_NUL, ConsumedMessage, Row, dead_letter_row, rejection_kind


def message_row(source: ConsumedMessage, route: Route, now: datetime) -> Row:
    """Return the row for one output message, or its dead letter if it is unusable.

    Args:
        source: The message.
        route: The model and table of its topic.
        now: Timezone-aware time of the rejection, used only for a dead letter.
    """
    value = source.value or b""
    try:
        model = route.model.model_validate_json(value)
    except ValidationError as exc:
        return dead_letter_row(source, rejection_kind(exc), describe_validation_error(exc), now)
    values = model_values(model, route.table)
    return Row(route.table, values, source, nul_free=JSON_NUL not in value)


def message_rows(source: ConsumedMessage, route: Route, now: datetime) -> tuple[Row, ...]:
    """Return the one row of an output message, or its dead letter (``message_row``)."""
    return (message_row(source, route, now),)


#: Turns one message into the rows it makes: an output message into its row or its dead
#: letter; an input event into none (nothing to store, but its offset is still committed),
#: one, or two (a behaviour event is its user's day, and a purchase's also its purchase).
Decoder = Callable[[ConsumedMessage, "Route", datetime], tuple[Row, ...]]


#: A cheap look at a message, before decoding it: the one shared row it can make
#: (``(table name, *key)``, ``Row.shared``) when that is all it can make, or ``None``: decode
#: it. A message whose row the pending batch holds already is folded into it undecoded.
SharedRow = Callable[[ConsumedMessage], tuple[Any, ...] | None]


@dataclass(frozen=True, slots=True)
class Route:
    """Which model a topic's messages are, which table they go to (the main one), and how."""

    model: type[BaseModel]
    table: Table
    decode: Decoder = message_rows
    shared_row: SharedRow | None = None

    def rows(self, source: ConsumedMessage, now: datetime) -> tuple[Row, ...]:
        """Return the rows of one message of this topic (see ``Decoder``)."""
        return self.decode(source, self, now)


def model_values(model: BaseModel, table: Table) -> dict[str, Any]:
    """Return the column values of ``table`` that ``model`` holds.

    Times stay timezone-aware ``datetime`` objects; enums become their values and nested
    models plain JSON. Columns the model lacks (server defaults, outcome columns filled
    later) are left out.

    The same values as ``model.model_dump(mode="json")`` with the times kept, without
    dumping the whole model: a field holding text, an integer, a flag, a time or nothing
    is taken as it is (JSON would not change it), an enum as its value; only the others
    (containers, nested models, decimals, floats: JSON turns NaN into null) are dumped.
    """
    names = _columns(type(model), table)
    fields = model.__dict__
    values: dict[str, Any] = {}
    dumped: set[str] = set()
    for name in names:
        value = fields[name]
        kind = type(value)
        if kind in AS_THEY_ARE:
            values[name] = value
        elif isinstance(value, Enum) and type(value.value) in AS_THEY_ARE:
            values[name] = value.value
        else:
            values[name] = None  # keeps the column order; filled just below
            dumped.add(name)
    if dumped:
        values.update(model.model_dump(mode="json", include=dumped))
    return values


#: Python types whose value ``model_dump(mode="json")`` returns unchanged (and times, which
#: the rows keep as ``datetime``). ``bool`` is listed apart from ``int``: ``type()`` is exact.
AS_THEY_ARE = frozenset({str, int, bool, type(None), datetime})


@functools.cache
def _columns(model: type[BaseModel], table: Table) -> tuple[str, ...]:
    """Return the model's fields that are columns of ``table`` (looked up once a pair)."""
    fields = model.model_fields
    return tuple(column.name for column in table.columns if column.name in fields)
