"""Consumed messages -> table rows: which topic goes where, decoding and conversion (no I/O).

Output topics (decisions, commands, dead-letter topics) are Nudge's own messages: each
becomes one row, or a dead letter when it fails to decode or validate. Input topics
(``comms.outcomes``, ``behavior.events``) are read for the little the reports need; see
``sinks.inputs``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Table

from schemas.commands import SendCommunication, StartIntervention
from schemas.events import Event
from schemas.records import DeadLetter, TriggerDecision
from schemas.topics import (
    BEHAVIOR_EVENTS,
    BEHAVIOR_EVENTS_DLQ,
    COMMS_COMMANDS,
    COMMS_OUTCOMES,
    COMMS_OUTCOMES_DLQ,
    INTERVENTIONS_COMMANDS,
    RISK_SCORES_DLQ,
    TRIGGER_DECISIONS,
    TopicSpec,
)
from schemas.validation import describe_validation_error
from sinks.inputs import missed_payment_row, outcome_row
from sinks.messages import (
    DEAD_LETTERS,
    Row,
    Source,
    dead_letter_row,
    rejection_kind,
    table_of,
)
from sinks.tables import (
    Communication,
    Intervention,
    MissedPayment,
    OutcomeRow,
    TriggerEvent,
)

__all__ = [
    "DEAD_LETTERS",
    "ROUTES",
    "Route",
    "Row",
    "Source",
    "dead_letter_row",
    "message_row",
    "model_values",
    "rejection_kind",
    "table_of",
    "topic_routes",
]


def message_row(source: Source, route: Route, now: datetime) -> Row:
    """Return the row for one output message, or its dead letter if it is unusable.

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


#: Turns one message into its row, its dead letter, or ``None``: nothing to store, but
#: its offset is still committed (most input events are of no interest to the sink).
Decoder = Callable[[Source, "Route", datetime], Row | None]


@dataclass(frozen=True, slots=True)
class Route:
    """Which model a topic's messages are, which table they go to, and how."""

    model: type[BaseModel]
    table: Table
    decode: Decoder = message_row

    def row(self, source: Source, now: datetime) -> Row | None:
        """Return the row of one message of this topic (see ``Decoder``)."""
        return self.decode(source, self, now)


#: The topics the sink persists, with their message model and table.
ROUTES: Mapping[TopicSpec, Route] = {
    TRIGGER_DECISIONS: Route(TriggerDecision, table_of(TriggerEvent)),
    COMMS_COMMANDS: Route(SendCommunication, table_of(Communication)),
    INTERVENTIONS_COMMANDS: Route(StartIntervention, table_of(Intervention)),
    BEHAVIOR_EVENTS_DLQ: Route(DeadLetter, DEAD_LETTERS),
    RISK_SCORES_DLQ: Route(DeadLetter, DEAD_LETTERS),
    COMMS_OUTCOMES_DLQ: Route(DeadLetter, DEAD_LETTERS),
    COMMS_OUTCOMES: Route(Event, table_of(OutcomeRow), outcome_row),
    BEHAVIOR_EVENTS: Route(Event, table_of(MissedPayment), missed_payment_row),
}


def topic_routes(prefix: str) -> dict[str, Route]:
    """Return the routes by full topic name for a deployment with ``prefix``."""
    return {spec.full_name(prefix): route for spec, route in ROUTES.items()}


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
