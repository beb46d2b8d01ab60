"""Output messages -> sink rows, without a database: conversion, dead letters, batches."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import BaseModel

from schemas.commands import ChannelMessage, SendCommunication, StartIntervention
from schemas.ids import command_id, dead_letter_id, decision_id
from schemas.records import DeadLetter, TriggerDecision
from schemas.segments import SegmentChange, SegmentChangeKind
from schemas.topics import (
    BEHAVIOR_EVENTS_DLQ,
    COMMS_COMMANDS,
    COMMS_OUTCOMES_DLQ,
    INTERVENTIONS_COMMANDS,
    RISK_SCORES_DLQ,
    SEGMENTS_CHANGES,
    TRIGGER_DECISIONS,
    USERS_ANALYTICS,
)
from schemas.user_analytics import UserAnalytics
from sinks.batch import PendingBatch
from sinks.messages import storable
from sinks.rows import DEAD_LETTERS, ROUTES, ConsumedMessage, Row, message_row, topic_routes

AT = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
NOW = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


def source(
    model: BaseModel | bytes | None, *, topic: str = "p.topic", offset: int = 7
) -> ConsumedMessage:
    value = model.model_dump_json().encode() if isinstance(model, BaseModel) else model
    return ConsumedMessage(topic, 1, offset, b"user-1", value)


def fired() -> TriggerDecision:
    return TriggerDecision(
        decision_id=decision_id("spending_spike", "user-1", "event-1"),
        user_id="user-1",
        trigger_id="spending_spike",
        outcome="fired",
        detail="weekly spend 135% of baseline (>= 120%)",
        source_event_id="event-1",
        event_type="transaction",
        occurred_at=datetime(2025, 3, 14, 10, 30, tzinfo=CET),
        features={"spend_ratio": 1.35, "weekly_spend": 540.0},
        command_ids=[command_id("spending_spike", "user-1", "event-1", "sms")],
    )


def sms() -> SendCommunication:
    return SendCommunication(
        command_id=command_id("spending_spike", "user-1", "event-1", "sms"),
        user_id="user-1",
        decision_id=decision_id("spending_spike", "user-1", "event-1"),
        source_event_id="event-1",
        created_at=AT,
        trigger_id="spending_spike",
        channel="sms",
        template_id="spending_spike_sms",
        template_version=2,
        body="Hi Ana, your spending is up 35% this week.",
        variables={"first_name": "Ana", "ratio": "35%"},
        priority="high",
        send_at=AT + timedelta(hours=1),
        experiment="tone",
        variant="b",
        reason="weekly spend 135% of baseline",
    )


def intervention() -> StartIntervention:
    return StartIntervention(
        command_id=command_id("risk", "user-1", "bucket-1", "intervention"),
        user_id="user-1",
        decision_id=decision_id("risk", "user-1", "bucket-1"),
        source_event_id=None,
        created_at=AT,
        intervention_type="payment_assistance",
        urgency="critical",
        actions=["call", "offer_plan"],
        timeline="contact within 24 hours",
        channels=["phone", "email"],
        messages=[
            ChannelMessage(
                channel="email",
                subject="We can help",
                body="Let's talk.",
                template_id="payment_assistance.email",
                template_version=3,
            )
        ],
        risk_score=0.86,
        risk_level="critical",
        trend="increasing",
        drivers=["missed_payment", "utilisation"],
    )


def letter() -> DeadLetter:
    return DeadLetter(
        dead_letter_id=dead_letter_id("p.behavior.events", 0, 41),
        topic="p.behavior.events",
        partition=0,
        offset=41,
        key=base64.b64encode(b"user-1").decode(),
        value=base64.b64encode(b"{oops").decode(),
        kind="not_json",
        error="<message>: Invalid JSON",
        failed_at=AT,
    )


def left() -> SegmentChange:
    return SegmentChange(
        change_id="change-1",
        user_id="user-1",
        segment_id="window_shoppers",
        change=SegmentChangeKind.LEFT,
        reason="when.all.0: no page_view in the last 7d",
        occurred_at=datetime(2025, 3, 14, 10, 30, tzinfo=CET),
        source_event_id=None,
        member_since=AT - timedelta(days=3),
    )


def test_a_segment_change_becomes_a_segment_changes_row():
    row = message_row(source(left()), ROUTES[SEGMENTS_CHANGES], NOW)
    assert row.table.name == "segment_changes" and not row.rejected
    assert row.values == {
        "change_id": "change-1",
        "user_id": "user-1",
        "segment_id": "window_shoppers",
        "change": "left",
        "reason": "when.all.0: no page_view in the last 7d",
        "occurred_at": AT,
        "source_event_id": None,
        "member_since": AT - timedelta(days=3),
    }
    assert type(row.values["change"]) is str and row.values["occurred_at"].tzinfo
    assert row.key == ("change-1",)
    # The database numbers and stamps the row: arrival order and recorded_at.
    assert set(row.table.columns.keys()) - set(row.values) == {"arrival", "recorded_at"}


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"occurred_at": "2025-03-14T09:30:00"}, "occurred_at: Input should have timezone info"),
        ({"member_since": "2025-03-14T09:30:00"}, "member_since: Input should have timezone"),
        ({"change": "stayed"}, "change: not one of the allowed values"),
        ({"segment_id": "Window Shoppers"}, "segment_id: String should match pattern"),
        ({"schema_version": 2}, "schema_version: Input should be 1"),
    ],
)
def test_an_unusable_segment_change_is_a_dead_letter(change, error):
    value = json.dumps(left().model_dump(mode="json") | change).encode()
    row = message_row(source(value, topic="p.segments.changes"), ROUTES[SEGMENTS_CHANGES], NOW)
    assert row.rejected and row.table is DEAD_LETTERS
    assert row.values["kind"] == "invalid" and row.values["error"].startswith(error)
    assert row.values["dead_letter_id"] == dead_letter_id("p.segments.changes", 1, 7)


def snapshot() -> UserAnalytics:
    return UserAnalytics(
        snapshot_id="snapshot-1",
        user_id="user-1",
        as_of=datetime(2025, 3, 14, 10, 30, tzinfo=CET),
        source_event_id="event-1",
        engagement_score=72.5,
        interest_score=40.0,
        intent_score=100,
        conversion_probability=12.25,
        pattern="high_intent",
        segments=["big_spenders", "window_shoppers"],
        sessions_7d=3,
        sessions_30d=9,
        avg_session_minutes=4.5,
        pages_per_session=None,
        time_spent_minutes_7d=13.5,
        days_active_14d=5,
        last_activity_at=AT - timedelta(minutes=5),
    )


def test_a_user_analytics_snapshot_becomes_a_score_history_row():
    row = message_row(source(snapshot()), ROUTES[USERS_ANALYTICS], NOW)
    assert row.table.name == "score_history" and not row.rejected
    assert row.values == {
        "snapshot_id": "snapshot-1",
        "user_id": "user-1",
        "as_of": AT,
        "source_event_id": "event-1",
        "engagement_score": 72.5,
        "interest_score": 40.0,
        "intent_score": 100.0,
        "conversion_probability": 12.25,
        "pattern": "high_intent",
        "segments": ["big_spenders", "window_shoppers"],
        "sessions_7d": 3,
        "sessions_30d": 9,
        "avg_session_minutes": 4.5,
        "pages_per_session": None,
        "time_spent_minutes_7d": 13.5,
        "days_active_14d": 5,
        "last_activity_at": AT - timedelta(minutes=5),
        "spend_week": None,
        "savings_rate_pct": None,
        "personalization": None,
        "spend_forecast_week": None,
        "forecast_overspend_pct": None,
        "goal_probability": None,
        "goal_days_left": None,
    }
    assert row.values["as_of"].tzinfo and row.key == ("snapshot-1",)
    # The database numbers and stamps the row: arrival order and recorded_at.
    assert set(row.table.columns.keys()) - set(row.values) == {"arrival", "recorded_at"}


def test_a_snapshot_without_pattern_activity_or_segments_is_a_row_too():
    bare = snapshot().model_copy(
        update={"pattern": None, "segments": [], "last_activity_at": None, "source_event_id": None}
    )
    row = message_row(source(bare), ROUTES[USERS_ANALYTICS], NOW)
    assert not row.rejected
    assert {k: row.values[k] for k in ("pattern", "segments", "last_activity_at")} == {
        "pattern": None,
        "segments": [],
        "last_activity_at": None,
    }


@pytest.mark.parametrize(
    ("change", "kind", "error"),
    [
        ({"as_of": "2025-03-14T09:30:00"}, "invalid", "as_of: Input should have timezone info"),
        ({"engagement_score": 100.5}, "invalid", "engagement_score: Input should be less than"),
        ({"intent_score": -1}, "invalid", "intent_score: Input should be greater than"),
        ({"days_active_14d": 15}, "invalid", "days_active_14d: Input should be less than"),
        ({"segments": ["Big Spenders"]}, "invalid", "segments.0: String should match pattern"),
        ({"schema_version": 2}, "invalid", "schema_version: Input should be 1"),
        ({"surprise": 1}, "invalid", "surprise: Extra inputs are not permitted"),
    ],
)
def test_an_unusable_snapshot_is_a_dead_letter(change, kind, error):
    value = json.dumps(snapshot().model_dump(mode="json") | change).encode()
    row = message_row(source(value, topic="p.users.analytics"), ROUTES[USERS_ANALYTICS], NOW)
    assert row.rejected and row.table is DEAD_LETTERS
    assert row.values["kind"] == kind and row.values["error"].startswith(error)
    assert row.values["dead_letter_id"] == dead_letter_id("p.users.analytics", 1, 7)


def test_snapshot_bytes_that_are_not_json_are_a_dead_letter():
    row = message_row(source(b"{oops", topic="p.users.analytics"), ROUTES[USERS_ANALYTICS], NOW)
    assert row.rejected and row.values["kind"] == "not_json"
    assert base64.b64decode(row.values["value"]) == b"{oops"


def test_a_decision_becomes_a_trigger_events_row_with_plain_values():
    row = message_row(source(fired()), ROUTES[TRIGGER_DECISIONS], NOW)
    assert row.table.name == "trigger_events" and not row.rejected
    assert row.values == {
        "decision_id": fired().decision_id,
        "user_id": "user-1",
        "trigger_id": "spending_spike",
        "outcome": "fired",
        "reason": None,
        "detail": "weekly spend 135% of baseline (>= 120%)",
        "source_event_id": "event-1",
        "event_type": "transaction",
        "occurred_at": AT,  # 10:30+01:00 is the same instant
        "features": {"spend_ratio": 1.35, "weekly_spend": 540.0},
        "command_ids": [command_id("spending_spike", "user-1", "event-1", "sms")],
        "behavior_change": None,
        "pattern_change": None,
        "experiment": None,
        "variant": None,
    }
    assert row.values["occurred_at"].utcoffset() == timedelta(hours=1)  # stays aware
    assert row.key == (fired().decision_id,)


def test_a_decision_that_exposed_a_user_names_the_experiment_and_arm():
    held_out = TriggerDecision.model_validate(
        fired().model_dump()
        | {"outcome": "suppressed", "reason": "holdout", "command_ids": []}
        | {"experiment": "tone_test", "variant": "control"}
    )
    row = message_row(source(held_out), ROUTES[TRIGGER_DECISIONS], NOW)
    assert not row.rejected and row.values["reason"] == "holdout"
    assert (row.values["experiment"], row.values["variant"]) == ("tone_test", "control")
    global_control = TriggerDecision.model_validate(
        held_out.model_dump() | {"reason": "global_control", "experiment": "global_control"}
    )
    row = message_row(source(global_control), ROUTES[TRIGGER_DECISIONS], NOW)
    assert not row.rejected and row.values["reason"] == "global_control"


def test_a_communication_row_leaves_outcome_columns_and_recorded_at_to_the_database():
    row = message_row(source(sms()), ROUTES[COMMS_COMMANDS], NOW)
    assert row.table.name == "communications"
    assert row.values["channel"] == "sms" and row.values["priority"] == "high"
    assert row.values["subject"] is None and row.values["template_version"] == 2
    assert row.values["variables"] == {"first_name": "Ana", "ratio": "35%"}
    assert row.values["send_at"] == datetime(2025, 3, 14, 10, 30, tzinfo=UTC)
    assert (row.values["experiment"], row.values["variant"]) == ("tone", "b")
    left_out = {
        "recorded_at",
        "delivered_at",
        "opened_at",
        "clicked_at",
        "replied_at",
        "converted_at",
        "opted_out_at",
        "conversion_value",
    }
    assert set(row.table.columns.keys()) - set(row.values) == left_out
    assert "kind" not in row.values and "schema_version" not in row.values


def test_an_intervention_row_holds_nested_messages_as_json():
    row = message_row(source(intervention()), ROUTES[INTERVENTIONS_COMMANDS], NOW)
    assert row.values["messages"] == [
        {
            "channel": "email",
            "subject": "We can help",
            "body": "Let's talk.",
            "template_id": "payment_assistance.email",
            "template_version": 3,
        }
    ]
    assert row.values["channels"] == ["phone", "email"]
    assert row.values["intervention_type"] == "payment_assistance"
    assert (row.values["urgency"], row.values["trend"]) == ("critical", "increasing")
    assert row.values["risk_score"] == 0.86 and row.values["source_event_id"] is None
    json.dumps({k: v for k, v in row.values.items() if k != "created_at"})  # JSON-ready


@pytest.mark.parametrize("spec", [BEHAVIOR_EVENTS_DLQ, RISK_SCORES_DLQ, COMMS_OUTCOMES_DLQ])
def test_a_dead_letter_from_a_dlq_topic_is_stored_as_it_came(spec):
    row = message_row(source(letter()), ROUTES[spec], NOW)
    assert row.table is DEAD_LETTERS and not row.rejected
    assert row.values | {"failed_at": None} == letter().model_dump(exclude={"schema_version"}) | {
        "failed_at": None
    }
    assert row.values["failed_at"] == AT and row.values["kind"] == "not_json"


@pytest.mark.parametrize(
    ("value", "kind", "error"),
    [
        (b"{not json", "not_json", "(root): Invalid JSON"),
        (None, "not_json", "(root): Invalid JSON: EOF"),
        (b"[1, 2]", "invalid", "(root): Input should be an object"),
        (
            json.dumps(
                fired().model_dump(mode="json") | {"occurred_at": "2025-03-14T09:30:00"}
            ).encode(),
            "invalid",
            "occurred_at: Input should have timezone info",
        ),
        (
            json.dumps(fired().model_dump(mode="json") | {"outcome": "maybe", "extra": 1}).encode(),
            "invalid",
            "outcome: not one of the allowed values; extra: Extra inputs are not permitted",
        ),
    ],
)
def test_an_unusable_message_becomes_its_own_dead_letter(value, kind, error):
    row = message_row(
        source(value, topic="p.trigger.decisions", offset=12), ROUTES[TRIGGER_DECISIONS], NOW
    )
    assert row.rejected and row.table is DEAD_LETTERS
    assert row.values["dead_letter_id"] == dead_letter_id("p.trigger.decisions", 1, 12)
    assert (row.values["topic"], row.values["partition"], row.values["offset"]) == (
        "p.trigger.decisions",
        1,
        12,
    )
    assert base64.b64decode(row.values["key"]) == b"user-1"
    assert base64.b64decode(row.values["value"]) == (value or b"")
    assert row.values["kind"] == kind and row.values["failed_at"] == NOW
    assert row.values["error"].startswith(error)


def test_dead_letter_errors_name_fields_but_never_quote_values():
    personal = sms().model_dump(mode="json") | {
        "priority": "ana@example.com",
        "template_version": "555-0100",
    }
    row = message_row(source(json.dumps(personal).encode()), ROUTES[COMMS_COMMANDS], NOW)
    assert row.values["error"] == (
        "template_version: Input should be a valid integer, unable to parse string as an "
        "integer; priority: not one of the allowed values"
    )
    assert "ana@example.com" not in row.values["error"] and "555" not in row.values["error"]


def test_a_message_with_many_errors_is_described_briefly():
    row = message_row(source(b"{}"), ROUTES[INTERVENTIONS_COMMANDS], NOW)
    parts = row.values["error"].split("; ")
    assert len(parts) == 11 and parts[-1] == "... 5 more"
    assert parts[0] == "command_id: Field required"


def test_reading_the_same_message_twice_gives_the_same_row():
    again = [
        message_row(source(v), ROUTES[TRIGGER_DECISIONS], NOW)
        for v in (fired(), b"?", fired(), b"?")
    ]
    assert again[0].key == again[2].key and again[1].key == again[3].key
    assert again[0].values == again[2].values
    assert again[1].values == again[3].values and again[1].rejected and again[3].rejected


def test_topic_routes_use_the_deployment_prefix():
    routes = topic_routes("blue.")
    assert set(routes) == {
        "blue.trigger.decisions",
        "blue.comms.commands",
        "blue.interventions.commands",
        "blue.segments.changes",
        "blue.models.checkpoints",
        "blue.users.analytics",
        "blue.experiments.assignments",
        "blue.experiments.conversions",
        "blue.funnels.steps",
        "blue.alerts.profiles",
        "blue.alerts.recommendations",
        "blue.behavior.events.dlq",
        "blue.risk.scores.dlq",
        "blue.comms.outcomes.dlq",
        "blue.comms.outcomes",
        "blue.behavior.events",
    }
    assert routes["blue.comms.commands"].model is SendCommunication
    assert routes["blue.segments.changes"].model is SegmentChange
    assert routes["blue.users.analytics"].model is UserAnalytics
    assert routes["blue.behavior.events"].table.name == "user_days"


@pytest.mark.parametrize(
    ("spec", "model"),
    [
        (TRIGGER_DECISIONS, fired),
        (COMMS_COMMANDS, sms),
        (INTERVENTIONS_COMMANDS, intervention),
        (BEHAVIOR_EVENTS_DLQ, letter),
        (SEGMENTS_CHANGES, left),
        (USERS_ANALYTICS, snapshot),
    ],
)
def test_every_required_column_is_filled_from_its_message(spec, model):
    row = message_row(source(model()), ROUTES[spec], NOW)
    required = {c.name for c in row.table.columns if not c.nullable and c.server_default is None}
    assert required <= set(row.values)
    assert set(row.values) <= set(row.table.columns.keys())


def row_at(partition: int, offset: int) -> Row:
    return message_row(
        ConsumedMessage("p.t", partition, offset, None, b"?"), ROUTES[TRIGGER_DECISIONS], NOW
    )


def test_a_batch_commits_one_past_the_highest_offset_of_each_partition():
    batch = PendingBatch(max_size=10, max_age=60.0)
    for partition, offset in [(0, 5), (1, 9), (0, 6), (0, 7), (1, 10)]:
        batch.add(row_at(partition, offset))
    offsets = {(tp.topic, tp.partition): meta.offset for tp, meta in batch.offsets().items()}
    assert offsets == {("p.t", 0): 8, ("p.t", 1): 11}
    assert batch.room == 5 and not batch.due()


def test_a_batch_is_due_when_full_or_old_and_never_when_empty():
    full = PendingBatch(max_size=2, max_age=60.0)
    assert not full.due() and full.time_left() == 60.0
    full.add(row_at(0, 1))
    assert not full.due() and 0 < full.time_left() <= 60.0
    full.add(row_at(0, 2))
    assert full.due() and full.room == 0
    old = PendingBatch(max_size=100, max_age=1e-9)
    assert not old.due()
    old.add(row_at(0, 1))
    assert old.due() and old.time_left() == 0.0
    old.clear()
    assert len(old) == 0 and not old.due() and old.offsets() == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a\x00b\x00", "a\ufffdb\ufffd"),
        ("clean", "clean"),
        ({"k\x00": ["v\x00", ("t\x00", 1)]}, {"k\ufffd": ["v\ufffd", ("t\ufffd", 1)]}),
        (
            {"n": None, "d": Decimal("1.5"), "t": AT, "i": 3},
            {"n": None, "d": Decimal("1.5"), "t": AT, "i": 3},
        ),
    ],
)
def test_text_the_database_cannot_hold_is_made_storable(value, expected):
    assert storable(value) == expected


def test_every_row_is_storable_whoever_builds_it():
    values = {"decision_id": "d\x00", "features": {"f\x00": 1.0}}
    row = Row(ROUTES[TRIGGER_DECISIONS].table, values, source(b"{}"))
    assert row.values == {"decision_id": "d\ufffd", "features": {"f\ufffd": 1.0}}
    assert row.key == ("d\ufffd",)


def test_a_message_without_the_nul_escape_skips_the_walk_and_one_with_it_is_made_storable():
    clean = message_row(source(sms()), ROUTES[COMMS_COMMANDS], NOW)
    assert clean.nul_free and clean.values["body"] == sms().body
    escaped = sms().model_copy(update={"body": "a\x00b", "variables": {"k\x00": "v"}})
    value = escaped.model_dump_json().encode()
    assert b"\\u0000" in value
    row = message_row(source(value), ROUTES[COMMS_COMMANDS], NOW)
    assert not row.nul_free
    assert (row.values["body"], row.values["variables"]) == ("a\ufffdb", {"k\ufffd": "v"})


def test_a_raw_nul_byte_in_a_json_string_is_refused_by_the_parser_not_stored():
    # What lets message_row trust a message without the escape: JSON has no other way.
    value = sms().model_dump_json().encode().replace(b'"body":"', b'"body":"\x00', 1)
    row = message_row(source(value), ROUTES[COMMS_COMMANDS], NOW)
    assert row.rejected and row.values["kind"] == "not_json"
