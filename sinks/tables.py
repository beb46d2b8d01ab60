"""The PostgreSQL tables the sinks write: one row per decision, command, outcome, dead letter.

Every primary key is the message's deterministic id, so a replayed message is never a second
row. Rows made from input events (``outcomes``, ``missed_payments``) are keyed as the stream
deduplicates them: by ``(user_id, event_id)``, because an ``event_id`` is only unique per
user (two users' producers may reuse one; both events are processed, so both are rows).
``recorded_at`` is when the sink wrote the row (database clock); every other time is the
message's own. Schema changes go through Alembic (``sinks/migrations``): keep ``versions/``
in step with this module. The reporting views are SQL in the migrations (``0002``, ``0005``
to ``0009``), not declared here.

One table holds a fact many input events share: ``user_days`` (one row per user and UTC
day with any event) is marked ``SHARED_ROWS`` in its ``Table.info``, so the sink folds repeats
of a key within a batch and does not count a key already stored as a replay.

One table keeps only the latest message per key: ``alert_profiles`` (one row per user) is
marked ``LATEST_BY`` with the columns that order a user's profiles, and the sink replaces
the stored row only with a later one (``sinks.latest``), so a replay or a late older
profile changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    Index,
    Integer,
    MetaData,
    Numeric,
    Sequence,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Deterministic constraint and index names, so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}

TimestampTZ = DateTime(timezone=True)

#: ``Table.info`` key of a table whose one row many messages make (every event of a user's
#: UTC day is that user-day): a key already in the batch is folded into the first one
#: (``sinks.batch``), and a key already stored is no replay, so not counted as a duplicate.
SHARED_ROWS = "shared_rows"


#: ``Table.info`` key of a table that keeps one row per key, the latest: the columns that
#: order a key's messages, most significant first. A message replaces the stored row only
#: if it is greater on them, so the row ends as the greatest message whatever the order
#: they arrive in (``sinks.latest``).
LATEST_BY = "latest_by"


class Base(DeclarativeBase):
    """Declarative base of the sink tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _recorded_at() -> Mapped[datetime]:
    return mapped_column(TimestampTZ, server_default=func.now())


class TriggerEvent(Base):
    """One trigger evaluation that fired or was suppressed (``trigger.decisions``)."""

    __tablename__ = "trigger_events"
    __table_args__ = (
        Index(None, "trigger_id", "occurred_at"),
        Index(None, "user_id"),
    )

    decision_id: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[str] = mapped_column(Text)
    trigger_id: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text)
    source_event_id: Mapped[str | None] = mapped_column(Text)
    event_type: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(TimestampTZ)
    features: Mapped[dict[str, float]] = mapped_column(JSONB)
    command_ids: Mapped[list[str]] = mapped_column(ARRAY(Text))
    behavior_change: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    """What changed, on a ``behavior_change`` decision only (view ``behavior_changes``)."""
    pattern_change: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    """The labels and the insight, on a ``pattern_change`` decision only."""
    experiment: Mapped[str | None] = mapped_column(Text)
    """The experiment the decision exposed the user to (migration 0009), and their arm."""
    variant: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = _recorded_at()


class Communication(Base):
    """One communication command (``comms.commands``) and, later, what came of it."""

    __tablename__ = "communications"
    __table_args__ = (
        Index(None, "trigger_id", "created_at"),
        Index(None, "user_id"),
        Index(None, "decision_id"),
    )

    command_id: Mapped[str] = mapped_column(Text, primary_key=True)
    decision_id: Mapped[str] = mapped_column(Text)
    user_id: Mapped[str] = mapped_column(Text)
    source_event_id: Mapped[str | None] = mapped_column(Text)
    trigger_id: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(Text)
    template_id: Mapped[str] = mapped_column(Text)
    template_version: Mapped[int]
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    variables: Mapped[dict[str, str]] = mapped_column(JSONB)
    priority: Mapped[str] = mapped_column(Text)
    send_at: Mapped[datetime] = mapped_column(TimestampTZ)
    experiment: Mapped[str | None] = mapped_column(Text)
    variant: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TimestampTZ)
    recorded_at: Mapped[datetime] = _recorded_at()
    # Outcomes reported by the notification service (``comms.outcomes``); filled later.
    delivered_at: Mapped[datetime | None] = mapped_column(TimestampTZ)
    opened_at: Mapped[datetime | None] = mapped_column(TimestampTZ)
    clicked_at: Mapped[datetime | None] = mapped_column(TimestampTZ)
    replied_at: Mapped[datetime | None] = mapped_column(TimestampTZ)
    converted_at: Mapped[datetime | None] = mapped_column(TimestampTZ)
    opted_out_at: Mapped[datetime | None] = mapped_column(TimestampTZ)
    # Same precision as ``schemas.events.Money``.
    conversion_value: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))


class Intervention(Base):
    """One risk intervention command (``interventions.commands``) and its outcome."""

    __tablename__ = "interventions"
    __table_args__ = (
        Index(None, "intervention_type", "created_at"),
        Index(None, "user_id"),
    )

    command_id: Mapped[str] = mapped_column(Text, primary_key=True)
    decision_id: Mapped[str] = mapped_column(Text)
    user_id: Mapped[str] = mapped_column(Text)
    source_event_id: Mapped[str | None] = mapped_column(Text)
    intervention_type: Mapped[str] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(Text)
    actions: Mapped[list[str]] = mapped_column(JSONB)
    timeline: Mapped[str] = mapped_column(Text)
    channels: Mapped[list[str]] = mapped_column(JSONB)
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    risk_score: Mapped[float] = mapped_column(Double)
    risk_level: Mapped[str] = mapped_column(Text)
    trend: Mapped[str] = mapped_column(Text)
    drivers: Mapped[list[str]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(TimestampTZ)
    recorded_at: Mapped[datetime] = _recorded_at()
    # How the user responded (accepted_offer, engaged, no_response, opted_out); filled later.
    response: Mapped[str | None] = mapped_column(Text)
    responded_at: Mapped[datetime | None] = mapped_column(TimestampTZ)
    # A missed payment within 30 days of the intervention: the effectiveness measure.
    missed_payment_at: Mapped[datetime | None] = mapped_column(TimestampTZ)


class DeadLetterRow(Base):
    """A message that could not be used, with the reason (``*.dlq`` or a sink rejection).

    ``key`` and ``value`` are the original bytes, base64; ``topic``/``partition``/``offset``
    say where the message was found.
    """

    __tablename__ = "dead_letters"
    __table_args__ = (Index(None, "topic", "kind"),)

    dead_letter_id: Mapped[str] = mapped_column(Text, primary_key=True)
    topic: Mapped[str] = mapped_column(Text)
    partition: Mapped[int]
    offset: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str | None] = mapped_column(Text)
    value: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(TimestampTZ)
    recorded_at: Mapped[datetime] = _recorded_at()
    # Describe the original value (NULL for letters stored before they were kept) and
    # say whether ``value`` holds it redacted (secrets, card numbers) or only its head.
    value_length: Mapped[int | None] = mapped_column(Integer)
    value_sha256: Mapped[str | None] = mapped_column(Text)
    redacted: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    truncated: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)


class OutcomeRow(Base):
    """What happened to a command, as a notification service reported it (``comms.outcomes``).

    Kept whether or not the command's row is there yet: an outcome that overtakes its
    command waits here, and the outcome columns of ``communications`` and
    ``interventions`` (and the reporting views) are derived from this table.
    """

    __tablename__ = "outcomes"
    __table_args__ = (Index(None, "command_id"),)

    user_id: Mapped[str] = mapped_column(Text, primary_key=True)
    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    command_id: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(Text)
    # Same precision as ``schemas.events.Money``.
    value: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    occurred_at: Mapped[datetime] = mapped_column(TimestampTZ)
    recorded_at: Mapped[datetime] = _recorded_at()


class MissedPayment(Base):
    """A payment the user missed (``behavior.events`` payment events with status ``missed``).

    Only these are kept, to tell whether an intervention was followed by a default.
    """

    __tablename__ = "missed_payments"
    __table_args__ = (Index(None, "user_id", "occurred_at"),)

    user_id: Mapped[str] = mapped_column(Text, primary_key=True)
    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(TimestampTZ)
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    currency: Mapped[str] = mapped_column(Text)
    due_date: Mapped[date | None] = mapped_column(Date)
    account_kind: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = _recorded_at()


#: Numbers ``segment_changes`` rows in the order they were inserted (``arrival``). A plain
#: sequence default, not an identity column: the sink's staging tables copy defaults
#: (``LIKE ... INCLUDING DEFAULTS``), and an identity column would arrive there as a bare
#: ``NOT NULL`` without one. Staging draws a number too, so the numbers have gaps.
SEGMENT_CHANGE_ARRIVAL = Sequence("segment_changes_arrival_seq", metadata=Base.metadata)


class SegmentChangeRow(Base):
    """A user joined or left a segment (``segments.changes``).

    ``arrival`` orders two changes of one user and segment with the same ``occurred_at``:
    one user's changes come from one partition, in order, and the sink writes them in
    that order. The views ``segment_members`` and ``segment_sizes`` (migration 0007) give
    membership now.
    """

    __tablename__ = "segment_changes"
    __table_args__ = (
        Index(None, "segment_id", "occurred_at"),
        # Per-user questions, and the latest change of each (user, segment) in order.
        Index(None, "user_id", "segment_id", "occurred_at", "arrival"),
    )

    change_id: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[str] = mapped_column(Text)
    segment_id: Mapped[str] = mapped_column(Text)
    change: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(TimestampTZ)
    source_event_id: Mapped[str | None] = mapped_column(Text)
    member_since: Mapped[datetime | None] = mapped_column(TimestampTZ)
    arrival: Mapped[int] = mapped_column(
        BigInteger, server_default=SEGMENT_CHANGE_ARRIVAL.next_value()
    )
    recorded_at: Mapped[datetime] = _recorded_at()


#: Numbers ``score_history`` rows in the order they were inserted (``arrival``): a plain
#: sequence default for the same reason as ``SEGMENT_CHANGE_ARRIVAL``.
SCORE_HISTORY_ARRIVAL = Sequence("score_history_arrival_seq", metadata=Base.metadata)


class ScoreHistoryRow(Base):
    """One user's analytics snapshot (``users.analytics``): scores, pattern, segments.

    Every snapshot is kept once (keyed by its deterministic ``snapshot_id``). The view
    ``user_analytics`` (migration 0008) is the latest snapshot of each user, by ``as_of``
    and then ``arrival``: one user's snapshots come from one partition, in order.
    ``segments`` is ``text[]``, as ``trigger_events.command_ids``: a list of ids, asked
    ``'x' = ANY(segments)``.
    """

    __tablename__ = "score_history"
    __table_args__ = (
        # One user's history in time order, and the latest snapshot of each user (the view
        # reads it backwards).
        Index(None, "user_id", "as_of", "arrival"),
    )

    snapshot_id: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[str] = mapped_column(Text)
    as_of: Mapped[datetime] = mapped_column(TimestampTZ)
    source_event_id: Mapped[str | None] = mapped_column(Text)
    engagement_score: Mapped[float] = mapped_column(Double)
    interest_score: Mapped[float] = mapped_column(Double)
    intent_score: Mapped[float] = mapped_column(Double)
    conversion_probability: Mapped[float] = mapped_column(Double)
    pattern: Mapped[str | None] = mapped_column(Text)
    segments: Mapped[list[str]] = mapped_column(ARRAY(Text))
    sessions_7d: Mapped[int] = mapped_column(Integer)
    sessions_30d: Mapped[int] = mapped_column(Integer)
    avg_session_minutes: Mapped[float | None] = mapped_column(Double)
    pages_per_session: Mapped[float | None] = mapped_column(Double)
    time_spent_minutes_7d: Mapped[float] = mapped_column(Double)
    days_active_14d: Mapped[int] = mapped_column(Integer)
    last_activity_at: Mapped[datetime | None] = mapped_column(TimestampTZ)
    spend_week: Mapped[float | None] = mapped_column(Double)
    savings_rate_pct: Mapped[float | None] = mapped_column(Double)
    personalization: Mapped[str | None] = mapped_column(Text)
    # The online models' figures (migration 0012).
    spend_forecast_week: Mapped[float | None] = mapped_column(Double)
    forecast_overspend_pct: Mapped[float | None] = mapped_column(Double)
    goal_probability: Mapped[float | None] = mapped_column(Double)
    goal_days_left: Mapped[float | None] = mapped_column(Double)
    arrival: Mapped[int] = mapped_column(
        BigInteger, server_default=SCORE_HISTORY_ARRIVAL.next_value()
    )
    recorded_at: Mapped[datetime] = _recorded_at()


class ExperimentAssignmentRow(Base):
    """A user's arm in an experiment, once (``experiments.assignments``).

    ``message_id`` derives from experiment and user, so a user is one row per experiment
    however often the assignment is sent. The views ``experiment_exposures`` and
    ``experiment_arms`` (migration 0009) count them per arm.
    """

    __tablename__ = "experiment_assignments"
    __table_args__ = (
        # Exposed users per arm, and a conversion's arm (its user's assignment).
        Index(None, "experiment_id", "variant"),
        Index(None, "experiment_id", "user_id"),
        # A user's rows, for erasure (migration 0013).
        Index(None, "user_id"),
    )

    message_id: Mapped[str] = mapped_column(Text, primary_key=True)
    experiment_id: Mapped[str] = mapped_column(Text)
    variant: Mapped[str] = mapped_column(Text)
    user_id: Mapped[str] = mapped_column(Text)
    trigger_id: Mapped[str] = mapped_column(Text)
    decision_id: Mapped[str] = mapped_column(Text)
    exposed_at: Mapped[datetime] = mapped_column(TimestampTZ)
    recorded_at: Mapped[datetime] = _recorded_at()


class ExperimentConversionRow(Base):
    """A conversion credited to an arm (``experiments.conversions``).

    One per user, experiment and metric (``message_id`` derives from the three). ``value``
    is the message's float, as the worker credits it (``None`` when the metric counts none).
    """

    __tablename__ = "experiment_conversions"
    __table_args__ = (
        Index(None, "experiment_id", "metric", "user_id"),
        Index(None, "user_id"),  # a user's rows, for erasure (migration 0013)
    )

    message_id: Mapped[str] = mapped_column(Text, primary_key=True)
    experiment_id: Mapped[str] = mapped_column(Text)
    variant: Mapped[str] = mapped_column(Text)
    user_id: Mapped[str] = mapped_column(Text)
    metric: Mapped[str] = mapped_column(Text)
    converted_at: Mapped[datetime] = mapped_column(TimestampTZ)
    exposed_at: Mapped[datetime] = mapped_column(TimestampTZ)
    source_event_id: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Double)
    recorded_at: Mapped[datetime] = _recorded_at()


class FunnelStepRow(Base):
    """A user reached a funnel's step, completed the funnel or dropped out (``funnels.steps``).

    ``step_id`` derives from funnel, user, the run's start, step and kind, so a replay is
    not a second row. The view ``funnel_step_summary`` (migration 0009) counts users per
    step.
    """

    __tablename__ = "funnel_steps"
    __table_args__ = (
        Index(None, "funnel_id", "step"),
        Index(None, "user_id"),  # a user's rows, for erasure (migration 0013)
    )

    step_id: Mapped[str] = mapped_column(Text, primary_key=True)
    funnel_id: Mapped[str] = mapped_column(Text)
    user_id: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    step: Mapped[int] = mapped_column(Integer)
    step_name: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(TimestampTZ)
    entered_at: Mapped[datetime] = mapped_column(TimestampTZ)
    seconds_from_previous: Mapped[float | None] = mapped_column(Double)
    source_event_id: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = _recorded_at()


class UserDay(Base):
    """A UTC day on which the user had any event on ``behavior.events``: the cohorts' input.

    Insert-only and keyed by both columns, so every event of the day, replays included, is
    the same row (``SHARED_ROWS``). No ``recorded_at``: the row is a fact of event time,
    and the table is kept as small as it can be (one row per active user and day).
    """

    __tablename__ = "user_days"
    __table_args__ = ({"info": {SHARED_ROWS: True}},)

    user_id: Mapped[str] = mapped_column(Text, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)


class PurchaseRow(Base):
    """A purchase (``behavior.events`` events of type ``purchase``): lifetime value.

    Keyed by ``(user_id, event_id)`` as the other rows made from input events.
    """

    __tablename__ = "purchases"

    user_id: Mapped[str] = mapped_column(Text, primary_key=True)
    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(TimestampTZ)
    product_id: Mapped[str] = mapped_column(Text)
    # Same precision as ``schemas.events.Money``.
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    currency: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = _recorded_at()


class ModelVersionRow(Base):
    """One trained version of a model (``models`` and ``nudge models``): the registry.

    ``status`` is ``candidate`` (trained, not served), ``active`` (the one the workers
    serve; at most one per name) or ``retired``. ``metrics`` holds the held-out evaluation,
    ``parameters`` the settings it was trained with, ``data_fingerprint`` a hash of the
    training rows, ``artefact`` and ``sha256`` the file and the hash it is loaded against.
    """

    __tablename__ = "model_versions"
    __table_args__ = (
        CheckConstraint(
            "status IN ('candidate', 'active', 'retired')", name="ck_model_versions_status"
        ),
        Index(
            "ux_model_versions_one_active",
            "name",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
    )

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(Text)
    trained_at: Mapped[datetime] = mapped_column(TimestampTZ)
    window_start: Mapped[datetime | None] = mapped_column(TimestampTZ)
    window_end: Mapped[datetime | None] = mapped_column(TimestampTZ)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB)
    data_fingerprint: Mapped[str] = mapped_column(Text)
    artefact: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(Text)
    promoted_at: Mapped[datetime | None] = mapped_column(TimestampTZ)
    retired_at: Mapped[datetime | None] = mapped_column(TimestampTZ)


class ModelCheckpointRow(Base):
    """One checkpoint of a global online model for one input partition (``models.checkpoints``).

    The registry of the online models: the topic is compacted (each key's newest), this
    table keeps every checkpoint, so a global model's history can be read back and any
    point of it restored. ``state`` is the model's own JSON (``HourCounts.to_dict`` for
    the send-time prior), ``events`` the partition's events learned from in total. Keyed
    by ``(model, partition, sequence)``: a replayed message is not a second row.
    """

    __tablename__ = "model_checkpoints"

    model: Mapped[str] = mapped_column(Text, primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(TimestampTZ)
    events: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[dict[str, Any]] = mapped_column(JSONB)
    recorded_at: Mapped[datetime] = _recorded_at()


class AlertActionRow(Base):
    """An alert created, enabled, disabled or deleted (``alert_rule`` events).

    The labels the recommender is trained on; keyed as the stream deduplicates events.
    """

    __tablename__ = "alert_actions"
    __table_args__ = (Index(None, "alert_type"),)

    user_id: Mapped[str] = mapped_column(Text, primary_key=True)
    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(TimestampTZ)
    alert_type: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    rule_id: Mapped[str | None] = mapped_column(Text)
    recommendation_id: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = _recorded_at()


class AlertProfileRow(Base):
    """A user's latest ``alerts.profiles`` message: recommender features and alerts on.

    One row per user, replaced only by a profile with a later ``as_of`` or, at the same
    ``as_of``, a greater ``profile_id`` (``LATEST_BY``): a replay, or an older profile
    arriving late, changes nothing, and two profiles of one instant (two events with the
    same time) leave the same row whichever came first. ``features`` is SQL ``NULL``
    before the user's first debit.
    """

    __tablename__ = "alert_profiles"
    __table_args__ = ({"info": {LATEST_BY: ("as_of", "profile_id")}},)

    user_id: Mapped[str] = mapped_column(Text, primary_key=True)
    profile_id: Mapped[str] = mapped_column(Text)
    as_of: Mapped[datetime] = mapped_column(TimestampTZ)
    source_event_id: Mapped[str] = mapped_column(Text)
    features: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    enabled: Mapped[list[str]] = mapped_column(ARRAY(Text))
    recorded_at: Mapped[datetime] = _recorded_at()


class AlertRecommendationRow(Base):
    """An alert recommended to a user by one model version (``alerts.recommendations``)."""

    __tablename__ = "alert_recommendations"
    __table_args__ = (Index(None, "user_id", "alert_type"),)

    recommendation_id: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[str] = mapped_column(Text)
    alert_type: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Double)
    explanation: Mapped[str] = mapped_column(Text)
    model_name: Mapped[str] = mapped_column(Text)
    model_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(TimestampTZ)
    cause: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = _recorded_at()


class ErasureRow(Base):
    """A user forgotten by ``nudge users forget``: when, and how many rows went per table.

    Holds no personal data: no user id, not even a hash of one (anyone holding the id
    could hash it and find the row). ``erasure_id`` is random: the id the erasure request
    carried on the topics. ``rows_by_table`` is table name -> rows deleted (migration 0013).
    """

    __tablename__ = "erasures"

    erasure_id: Mapped[str] = mapped_column(Text, primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(TimestampTZ)
    completed_at: Mapped[datetime] = mapped_column(TimestampTZ)
    rows_by_table: Mapped[dict[str, int]] = mapped_column(JSONB)
