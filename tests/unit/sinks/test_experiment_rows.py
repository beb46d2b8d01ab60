"""Experiment assignments, conversions and funnel steps -> sink rows, without a database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel

from schemas.experiments import ExperimentAssignment, ExperimentConversion
from schemas.funnels import FunnelStep
from schemas.ids import assignment_id, conversion_id, dead_letter_id, funnel_step_id
from schemas.topics import EXPERIMENTS_ASSIGNMENTS, EXPERIMENTS_CONVERSIONS, FUNNELS_STEPS
from sinks.rows import DEAD_LETTERS, ROUTES, ConsumedMessage, Row, message_row

AT = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
NOW = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


def assignment() -> ExperimentAssignment:
    return ExperimentAssignment(
        message_id=assignment_id("tone_test", "user-1"),
        experiment_id="tone_test",
        variant="friendly",
        user_id="user-1",
        trigger_id="spending_spike",
        decision_id="decision-1",
        exposed_at=datetime(2025, 3, 14, 10, 30, tzinfo=CET),
    )


def conversion(value: float | None = 19.5) -> ExperimentConversion:
    return ExperimentConversion(
        message_id=conversion_id("tone_test", "user-1", "purchase"),
        experiment_id="tone_test",
        variant="friendly",
        user_id="user-1",
        metric="purchase",
        converted_at=AT + timedelta(hours=2),
        exposed_at=AT,
        source_event_id="event-9",
        event_type="purchase",
        value=value,
    )


def step(kind: str = "reached", number: int = 2) -> FunnelStep:
    return FunnelStep(
        step_id=funnel_step_id("onboarding", "user-1", 1_741_944_600, number, kind),
        funnel_id="onboarding",
        user_id="user-1",
        kind=kind,
        step=number,
        step_name="quote",
        at=AT + timedelta(minutes=5),
        entered_at=AT,
        seconds_from_previous=300.0 if kind == "reached" else None,
        source_event_id="event-2" if kind != "dropped" else None,
    )


def source(model: BaseModel | bytes, topic: str) -> ConsumedMessage:
    value = model if isinstance(model, bytes) else model.model_dump_json().encode()
    return ConsumedMessage(f"p.{topic}", 1, 7, b"user-1", value)


def row_of(model: BaseModel | bytes, spec) -> Row:
    return message_row(source(model, spec.name), ROUTES[spec], NOW)


def test_an_assignment_becomes_an_experiment_assignments_row():
    row = row_of(assignment(), EXPERIMENTS_ASSIGNMENTS)
    assert row.table.name == "experiment_assignments" and not row.rejected
    assert row.values == {
        "message_id": assignment_id("tone_test", "user-1"),
        "experiment_id": "tone_test",
        "variant": "friendly",
        "user_id": "user-1",
        "trigger_id": "spending_spike",
        "decision_id": "decision-1",
        "exposed_at": AT,  # 10:30+01:00 is 09:30 UTC: the same instant
    }
    assert row.values["exposed_at"].tzinfo and row.key == (assignment().message_id,)


def test_a_conversion_becomes_an_experiment_conversions_row_with_or_without_value():
    row = row_of(conversion(), EXPERIMENTS_CONVERSIONS)
    assert row.table.name == "experiment_conversions" and not row.rejected
    assert row.values == {
        "message_id": conversion_id("tone_test", "user-1", "purchase"),
        "experiment_id": "tone_test",
        "variant": "friendly",
        "user_id": "user-1",
        "metric": "purchase",
        "converted_at": AT + timedelta(hours=2),
        "exposed_at": AT,
        "source_event_id": "event-9",
        "event_type": "purchase",
        "value": 19.5,
    }
    assert row_of(conversion(None), EXPERIMENTS_CONVERSIONS).values["value"] is None


@pytest.mark.parametrize(("kind", "number"), [("reached", 2), ("completed", 3), ("dropped", 1)])
def test_a_funnel_step_becomes_a_funnel_steps_row(kind, number):
    row = row_of(step(kind, number), FUNNELS_STEPS)
    assert row.table.name == "funnel_steps" and not row.rejected
    assert row.values == {
        "step_id": step(kind, number).step_id,
        "funnel_id": "onboarding",
        "user_id": "user-1",
        "kind": kind,
        "step": number,
        "step_name": "quote",
        "at": AT + timedelta(minutes=5),
        "entered_at": AT,
        "seconds_from_previous": 300.0 if kind == "reached" else None,
        "source_event_id": None if kind == "dropped" else "event-2",
    }


@pytest.mark.parametrize(
    ("spec", "model", "change", "error"),
    [
        (EXPERIMENTS_ASSIGNMENTS, assignment, {"exposed_at": "2025-03-14T09:30:00"}, "exposed_at"),
        (EXPERIMENTS_ASSIGNMENTS, assignment, {"variant": None}, "variant: Input should be"),
        (EXPERIMENTS_CONVERSIONS, conversion, {"value": "lots"}, "value: Input should be"),
        (EXPERIMENTS_CONVERSIONS, conversion, {"schema_version": 2}, "schema_version"),
        (FUNNELS_STEPS, step, {"kind": "wandered"}, "kind: Input should be"),
        (FUNNELS_STEPS, step, {"step": 0}, "step: Input should be greater than"),
        (FUNNELS_STEPS, step, {"seconds_from_previous": -1}, "seconds_from_previous"),
        (FUNNELS_STEPS, step, {"surprise": 1}, "surprise: Extra inputs are not permitted"),
    ],
)
def test_an_unusable_message_is_a_dead_letter(spec, model, change, error):
    value = json.dumps(model().model_dump(mode="json") | change).encode()
    row = row_of(value, spec)
    assert row.rejected and row.table is DEAD_LETTERS
    assert row.values["kind"] == "invalid" and row.values["error"].startswith(error)
    assert row.values["dead_letter_id"] == dead_letter_id(f"p.{spec.name}", 1, 7)
    assert row_of(b"{oops", spec).values["kind"] == "not_json"


@pytest.mark.parametrize(
    ("spec", "model"),
    [
        (EXPERIMENTS_ASSIGNMENTS, assignment),
        (EXPERIMENTS_CONVERSIONS, conversion),
        (FUNNELS_STEPS, step),
    ],
)
def test_every_required_column_is_filled_and_only_recorded_at_is_left_out(spec, model):
    row = row_of(model(), spec)
    required = {c.name for c in row.table.columns if not c.nullable and c.server_default is None}
    assert required <= set(row.values) <= set(row.table.columns.keys())
    assert set(row.table.columns.keys()) - set(row.values) == {"recorded_at"}
    assert ROUTES[spec].rows(source(model(), spec.name), NOW) == (row,)
