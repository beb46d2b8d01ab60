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
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import DateTime, Table

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


#: Turns one message into its row, its dead letter, or ``None``: nothing to store, but
#: its offset is still committed (most input events are of no interest to the sink).
Decoder = Callable[[ConsumedMessage, "Route", datetime], Row | None]


@dataclass(frozen=True, slots=True)
class Route:
    """Which model a topic's messages are, which table they go to, and how."""

    model: type[BaseModel]
    table: Table
    decode: Decoder = message_row

    def row(self, source: ConsumedMessage, now: datetime) -> Row | None:
        """Return the row of one message of this topic (see ``Decoder``)."""
        return self.decode(source, self, now)


def model_values(model: BaseModel, table: Table) -> dict[str, Any]:
    """Return the column values of ``table`` that ``model`` holds.

    Times stay timezone-aware ``datetime`` objects; enums become their values and nested
    models plain JSON. Columns the model lacks (server defaults, outcome columns filled
    later) are left out.
    """
    names, times = _layout(type(model), table)
    plain = model.model_dump(mode="json")
    values = {name: plain[name] for name in names if name in plain}
    for name in times:
        if name in values:
            values[name] = getattr(model, name)
    return values


@functools.cache
def _layout(model: type[BaseModel], table: Table) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return the model's fields that are columns, and which of them are times (once a pair)."""
    fields = model.model_fields
    names = tuple(column.name for column in table.columns if column.name in fields)
    times = tuple(name for name in names if isinstance(table.c[name].type, DateTime))
    return names, times
