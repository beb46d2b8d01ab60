"""Messages and helpers of the sink's integration tests (no tests of its own).

Every wait is on a condition (rows in the database, committed offsets, a metric) with a
deadline; nothing sleeps and hopes.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import REGISTRY
from pydantic import BaseModel
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from schemas.alerts import (
    ALERT_RECOMMENDER,
    AlertFeatureValues,
    AlertProfile,
    AlertRecommendation,
    AlertType,
)
from schemas.commands import ChannelMessage, SendCommunication, StartIntervention
from schemas.experiments import ExperimentAssignment, ExperimentConversion
from schemas.funnels import FunnelStep
from schemas.ids import (
    alert_profile_id,
    assignment_id,
    command_id,
    conversion_id,
    dead_letter_id,
    decision_id,
    derived_id,
    funnel_step_id,
    recommendation_id,
)
from schemas.records import DeadLetter, TriggerDecision
from schemas.segments import SegmentChange, SegmentChangeKind
from schemas.settings import Settings
from schemas.topics import (
    ALERTS_PROFILES,
    ALERTS_RECOMMENDATIONS,
    BEHAVIOR_EVENTS_DLQ,
    COMMS_COMMANDS,
    EXPERIMENTS_ASSIGNMENTS,
    EXPERIMENTS_CONVERSIONS,
    FUNNELS_STEPS,
    INTERVENTIONS_COMMANDS,
    SEGMENTS_CHANGES,
    TRIGGER_DECISIONS,
    USERS_ANALYTICS,
    TopicSpec,
)
from schemas.user_analytics import UserAnalytics
from sinks.rows import ROUTES
from sinks.worker import run_sink
from streams.runtime.kafka_admin import ensure_topics
from tests.unit.factories import ALERT_FEATURES

AT = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
TIMEOUT = 60.0
SINK_TOPICS = tuple(ROUTES)


# --- messages ---------------------------------------------------------------------------


def decision(user: str, n: int, *, suppressed: bool = False) -> TriggerDecision:
    cause = f"{user}-event-{n}"
    return TriggerDecision(
        decision_id=decision_id("spending_spike", user, cause),
        user_id=user,
        trigger_id="spending_spike",
        outcome="suppressed" if suppressed else "fired",
        reason="cooldown" if suppressed else None,
        detail=f"weekly spend {120 + n}% of baseline",
        source_event_id=cause,
        event_type="transaction",
        occurred_at=AT + timedelta(minutes=n),
        features={"spend_ratio": 1.2 + n / 100},
        command_ids=[] if suppressed else [command_id("spending_spike", user, cause, "email")],
    )


def communication(user: str, n: int, channel: str = "email") -> SendCommunication:
    cause = f"{user}-event-{n}"
    return SendCommunication(
        command_id=command_id("spending_spike", user, cause, channel),
        user_id=user,
        decision_id=decision_id("spending_spike", user, cause),
        source_event_id=cause,
        created_at=AT + timedelta(minutes=n),
        trigger_id="spending_spike",
        channel=channel,
        template_id=f"spending_spike_{channel}",
        template_version=3,
        subject="Your spending this week" if channel == "email" else None,
        body=f"Hi {user}, spending is up {20 + n}%.",
        variables={"first_name": user, "ratio": f"{20 + n}%"},
        priority="high",
        send_at=AT + timedelta(minutes=n, hours=1),
        reason="weekly spend above baseline",
    )


def intervention(user: str, n: int) -> StartIntervention:
    cause = f"{user}-bucket-{n}"
    return StartIntervention(
        command_id=command_id("risk", user, cause, "intervention"),
        user_id=user,
        decision_id=decision_id("risk", user, cause),
        source_event_id=None,
        created_at=AT + timedelta(minutes=n),
        intervention_type="payment_assistance",
        urgency="critical",
        actions=["call", "offer_plan"],
        timeline="contact within 24 hours",
        channels=["phone", "email"],
        messages=[
            ChannelMessage(
                channel="email",
                subject="We can help",
                body=f"Hello {user}",
                template_id="payment_assistance.email",
                template_version=1,
            )
        ],
        risk_score=0.85,
        risk_level="critical",
        trend="increasing",
        drivers=["missed_payment"],
    )


def letter(settings: Settings, user: str, offset: int) -> DeadLetter:
    topic = f"{settings.topic_prefix}behavior.events"
    return DeadLetter(
        dead_letter_id=dead_letter_id(topic, 0, offset),
        topic=topic,
        partition=0,
        offset=offset,
        key=base64.b64encode(user.encode()).decode(),
        value=base64.b64encode(b"{broken").decode(),
        kind="not_json",
        error="<message>: Invalid JSON",
        failed_at=AT,
    )


def segment_change(
    user: str,
    segment: str,
    change: str,
    at: datetime,
    cause: str,
    *,
    member_since: datetime | None = None,
) -> SegmentChange:
    """A join or leave caused by event ``cause`` (its id derived as the worker derives one)."""
    return SegmentChange(
        change_id=derived_id("segment_change", user, segment, change, cause),
        user_id=user,
        segment_id=segment,
        change=SegmentChangeKind(change),
        reason="seen: page_view within 7d" if change == "joined" else "no page_view in 7d",
        occurred_at=at,
        source_event_id=cause,
        member_since=member_since,
    )


def user_snapshot(
    user: str,
    at: datetime,
    cause: str,
    pattern: str | None,
    scores: tuple[float, float, float, float] = (50.0, 50.0, 50.0, 50.0),
    *,
    segments: tuple[str, ...] = (),
    last_activity_at: datetime | None = None,
) -> UserAnalytics:
    """A snapshot caused by event ``cause``, its id derived from the user and the cause.

    ``scores`` are engagement, interest, intent and conversion; the last activity is ``at``
    unless given.
    """
    engagement, interest, intent, conversion = scores
    return UserAnalytics(
        snapshot_id=derived_id("user_analytics", user, cause),
        user_id=user,
        as_of=at,
        source_event_id=cause,
        engagement_score=engagement,
        interest_score=interest,
        intent_score=intent,
        conversion_probability=conversion,
        pattern=pattern,
        segments=sorted(segments),
        sessions_7d=2,
        sessions_30d=5,
        avg_session_minutes=3.5,
        pages_per_session=None,
        time_spent_minutes_7d=7.0,
        days_active_14d=2,
        last_activity_at=at if last_activity_at is None else last_activity_at,
    )


def assignment(experiment: str, variant: str, user: str, at: datetime) -> ExperimentAssignment:
    """A user's arm, assigned at ``at`` by a ``spending_spike`` decision (ids as the worker's)."""
    return ExperimentAssignment(
        message_id=assignment_id(experiment, user),
        experiment_id=experiment,
        variant=variant,
        user_id=user,
        trigger_id="spending_spike",
        decision_id=decision_id("spending_spike", user, f"{user}-exposure"),
        exposed_at=at,
    )


def conversion(
    experiment: str,
    variant: str,
    user: str,
    metric: str,
    at: datetime,
    value: float | None = None,
) -> ExperimentConversion:
    """A conversion of ``metric`` credited to the user's arm an hour after exposure ``at``."""
    return ExperimentConversion(
        message_id=conversion_id(experiment, user, metric),
        experiment_id=experiment,
        variant=variant,
        user_id=user,
        metric=metric,
        converted_at=at + timedelta(hours=1),
        exposed_at=at,
        source_event_id=f"{user}-{metric}",
        event_type=metric,
        value=value,
    )


def funnel_step(  # noqa: PLR0913 - one message's fields
    funnel: str,
    user: str,
    kind: str,
    step: int,
    entered_at: datetime,
    at: datetime,
    *,
    gap: float | None = None,
    name: str = "",
) -> FunnelStep:
    """A step row of the run ``user`` began at ``entered_at`` (ids as the worker's)."""
    return FunnelStep(
        step_id=funnel_step_id(funnel, user, int(entered_at.timestamp()), step, kind),
        funnel_id=funnel,
        user_id=user,
        kind=kind,
        step=step,
        step_name=name or f"step {step}",
        at=at,
        entered_at=entered_at,
        seconds_from_previous=gap,
        source_event_id=None if kind == "dropped" else f"{user}-{step}-{kind}",
    )


FEATURES = ALERT_FEATURES


def alert_profile(
    user: str,
    at: datetime,
    cause: str,
    enabled: Iterable[str] = (),
    *,
    features: AlertFeatureValues | None = FEATURES,
) -> AlertProfile:
    """A user's profile published because of event ``cause`` at ``at`` (ids as the worker's)."""
    return AlertProfile(
        profile_id=alert_profile_id(user, cause),
        user_id=user,
        as_of=at,
        source_event_id=cause,
        features=features,
        enabled=sorted(AlertType(alert) for alert in enabled),
    )


def recommendation(
    user: str, alert: str, version: int, at: datetime, cause: str | None = None
) -> AlertRecommendation:
    """Alert ``alert`` recommended to ``user`` by version ``version``, answering ``cause``."""
    cause = cause or f"{user}-{at.isoformat()}"
    return AlertRecommendation(
        recommendation_id=recommendation_id(user, alert, version, cause),
        user_id=user,
        alert_type=AlertType(alert),
        confidence=0.8,
        explanation="4 of the 5 customers most like you use this alert",
        model_name=ALERT_RECOMMENDER,
        model_version=version,
        created_at=at,
        cause=cause,
    )


def alert_rule(
    user: str, alert: str, action: str, at: datetime, event_id: str
) -> tuple[bytes, bytes]:
    """An ``alert_rule`` event on ``behavior.events``, as its (key, value)."""
    payload = {"type": "alert_rule", "action": action, "alert_type": alert}
    return input_event(user, at, payload, event_id)


def input_event(
    user: str, at: datetime, payload: dict[str, Any], event_id: str
) -> tuple[bytes, bytes]:
    """An input event (``behavior.events``, ``comms.outcomes``) as its (key, value)."""
    document = {
        "event_id": event_id,
        "user_id": user,
        "occurred_at": at.isoformat(),
        "source": "app",
        "payload": payload,
    }
    return user.encode(), orjson.dumps(document)


SPEC_OF = {
    TriggerDecision: TRIGGER_DECISIONS,
    SendCommunication: COMMS_COMMANDS,
    StartIntervention: INTERVENTIONS_COMMANDS,
    DeadLetter: BEHAVIOR_EVENTS_DLQ,
    SegmentChange: SEGMENTS_CHANGES,
    UserAnalytics: USERS_ANALYTICS,
    ExperimentAssignment: EXPERIMENTS_ASSIGNMENTS,
    ExperimentConversion: EXPERIMENTS_CONVERSIONS,
    FunnelStep: FUNNELS_STEPS,
    AlertProfile: ALERTS_PROFILES,
    AlertRecommendation: ALERTS_RECOMMENDATIONS,
}


def key_of(model: BaseModel) -> bytes:
    if isinstance(model, DeadLetter):
        return base64.b64decode(model.key or "")
    user = getattr(model, "user_id", None)
    assert type(model) in SPEC_OF and isinstance(user, str), model
    return user.encode()


# --- Kafka and database helpers ---------------------------------------------------------


async def publish_raw(
    settings: Settings, spec: TopicSpec, pairs: Iterable[tuple[bytes, bytes | None]]
) -> list[Any]:
    """Publish (key, value) pairs; return each message's RecordMetadata."""
    await ensure_topics(settings, SINK_TOPICS)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        topic = spec.full_name(settings.topic_prefix)
        return [await producer.send_and_wait(topic, key=k, value=v) for k, v in pairs]
    finally:
        await producer.stop()


async def publish(settings: Settings, models: Iterable[BaseModel]) -> None:
    """Publish messages to their topics, keyed as the stream side keys them."""
    by_spec: dict[TopicSpec, list[tuple[bytes, bytes | None]]] = {}
    for model in models:
        by_spec.setdefault(SPEC_OF[type(model)], []).append(
            (key_of(model), model.model_dump_json().encode())
        )
    for spec, pairs in by_spec.items():
        await publish_raw(settings, spec, pairs)


def query(settings: Settings, sql: str) -> list[dict[str, Any]]:
    engine = create_engine(settings.database_url.get_secret_value(), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return [dict(row) for row in connection.execute(text(sql)).mappings()]
    finally:
        engine.dispose()


async def rows(settings: Settings, table: str, key: str) -> dict[str, dict[str, Any]]:
    found = await asyncio.to_thread(query, settings, f"SELECT * FROM {table}")  # noqa: S608
    return {row[key]: row for row in found}


async def counts(settings: Settings) -> dict[str, int]:
    tables = ("trigger_events", "communications", "interventions", "dead_letters")
    sql = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM {t}" for t in tables)  # noqa: S608
    return {row["t"]: row["n"] for row in await asyncio.to_thread(query, settings, sql)}


async def counts_are(settings: Settings, expected: dict[str, int]) -> bool:
    return await counts(settings) == expected


async def committed(settings: Settings) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(f"{settings.app_id}-sink")
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def end_offsets(settings: Settings) -> dict[TopicPartition, int]:
    """End offsets of the sink's topics' non-empty partitions."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(spec.full_name(settings.topic_prefix), p)
            for spec in SINK_TOPICS
            for p in range(spec.partitions(settings.partitions))
        ]
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {tp: offset for tp, offset in ends.items() if offset > 0}


async def offsets_caught_up(settings: Settings) -> bool:
    ends = await end_offsets(settings)
    return bool(ends) and await committed(settings) == ends


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def taken(settings: Settings) -> float:
    """Messages the sink took from Kafka, over its topics."""
    names = (spec.full_name(settings.topic_prefix) for spec in SINK_TOPICS)
    return sum(metric("nudge_sink_messages_total", topic=name) for name in names)


@asynccontextmanager
async def running_sink(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    await ensure_topics(settings, SINK_TOPICS)  # as ``nudge sink`` does before it starts
    stop = asyncio.Event()
    task = asyncio.create_task(run_sink(settings, stop=stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, TIMEOUT)
