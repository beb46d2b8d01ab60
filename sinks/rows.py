"""Output messages -> table rows: decoding, validation and conversion (no I/O).

A message that fails to decode or validate is not an error for the sink: it becomes a
``dead_letters`` row that keeps the original bytes (base64) and what was wrong (field
paths and error types, never the values: they may be personal data).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Table

from schemas.commands import SendCommunication, StartIntervention
from schemas.ids import dead_letter_id
from schemas.records import DeadLetter, RejectionKind, TriggerDecision
from schemas.topics import (
    BEHAVIOR_EVENTS_DLQ,
    COMMS_COMMANDS,
    COMMS_OUTCOMES_DLQ,
    INTERVENTIONS_COMMANDS,
    RISK_SCORES_DLQ,
    TRIGGER_DECISIONS,
    TopicSpec,
)
from schemas.validation import describe_validation_error
from sinks.tables import Base, Communication, DeadLetterRow, Intervention, TriggerEvent


def table_of(model: type[Base]) -> Table:
    """Return the Core table of a mapped class."""
    return Base.metadata.tables[model.__tablename__]


DEAD_LETTERS = table_of(DeadLetterRow)


@dataclass(frozen=True, slots=True)
class Route:
    """Which model a topic's messages are and which table they go to."""

    model: type[BaseModel]
    table: Table


#: The output topics the sink persists, with their message model and table.
ROUTES: Mapping[TopicSpec, Route] = {
    TRIGGER_DECISIONS: Route(TriggerDecision, table_of(TriggerEvent)),
    COMMS_COMMANDS: Route(SendCommunication, table_of(Communication)),
    INTERVENTIONS_COMMANDS: Route(StartIntervention, table_of(Intervention)),
    BEHAVIOR_EVENTS_DLQ: Route(DeadLetter, DEAD_LETTERS),
    RISK_SCORES_DLQ: Route(DeadLetter, DEAD_LETTERS),
    COMMS_OUTCOMES_DLQ: Route(DeadLetter, DEAD_LETTERS),
}


@dataclass(frozen=True, slots=True)
class Source:
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
    source: Source
    rejected: bool = False

    @property
    def key(self) -> tuple[Any, ...]:
        """Return the primary key values."""
        return tuple(self.values[column.name] for column in self.table.primary_key)


def topic_routes(prefix: str) -> dict[str, Route]:
    """Return the routes by full topic name for a deployment with ``prefix``."""
    return {spec.full_name(prefix): route for spec, route in ROUTES.items()}


def message_row(source: Source, route: Route, now: datetime) -> Row:
    """Return the row for one message, or its dead letter if it is unusable.

    Args:
        source: The message.
        route: The model and table of its topic.
        now: Timezone-aware time of the rejection, used only for a dead letter.
    """
    try:
        model = route.model.model_validate_json(source.value or b"")
    except ValidationError as exc:
        return dead_letter_row(source, rejection_kind(exc), describe_validation_error(exc), now)
    return Row(route.table, model_values(model, route.table), source)


def model_values(model: BaseModel, table: Table) -> dict[str, Any]:
    """Return the column values of ``table`` that ``model`` holds.

    Times stay timezone-aware ``datetime`` objects; enums become their values and nested
    models plain JSON. Columns the model lacks (server defaults, outcome columns filled
    later) are left out.
    """
    plain = model.model_dump(mode="json")
    values: dict[str, Any] = {}
    for column in table.columns:
        if column.name not in plain:
            continue
        value = getattr(model, column.name)
        values[column.name] = value if isinstance(value, datetime) else plain[column.name]
    return values


def dead_letter_row(source: Source, kind: RejectionKind, error: str, now: datetime) -> Row:
    """Return the ``dead_letters`` row of an unusable message.

    Its id derives from the message's topic, partition and offset, so reading the same
    message again is not a second dead letter.
    """
    values = {
        "dead_letter_id": dead_letter_id(source.topic, source.partition, source.offset),
        "topic": source.topic,
        "partition": source.partition,
        "offset": source.offset,
        "key": _base64(source.key),
        "value": _base64(source.value) or "",
        "kind": kind.value,
        "error": error,
        "failed_at": now,
    }
    return Row(DEAD_LETTERS, values, source, rejected=True)


def rejection_kind(exc: ValidationError) -> RejectionKind:
    """Return ``not_json`` when the bytes were not JSON at all, ``invalid`` otherwise."""
    if any(error["type"] == "json_invalid" for error in exc.errors()):
        return RejectionKind.NOT_JSON
    return RejectionKind.INVALID


def _base64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")
