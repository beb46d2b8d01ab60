"""Which topic goes where: the route of every topic the sink reads (no I/O).

Output topics (decisions, commands, segment changes, users' analytics, experiment
assignments and conversions, funnel steps, alert profiles and recommendations, global
models' checkpoints, dead-letter topics) are Nudge's own messages: each becomes one row,
or a dead letter when it fails to decode or validate (``sinks.route.message_row``); an
alert profile replaces its user's row only if it is later (``sinks.latest``). Input
topics (``comms.outcomes``, ``behavior.events``) are read for the little the reports
need; see ``sinks.inputs``. The names of ``sinks.route`` and ``sinks.messages`` are
offered here too, for the callers that build rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from schemas.alerts import AlertProfile, AlertRecommendation
from schemas.commands import SendCommunication, StartIntervention
from schemas.events import Event
from schemas.experiments import ExperimentAssignment, ExperimentConversion
from schemas.funnels import FunnelStep
from schemas.learning import ModelCheckpoint
from schemas.records import DeadLetter, TriggerDecision
from schemas.segments import SegmentChange
from schemas.topics import (
    ALERTS_PROFILES,
    ALERTS_RECOMMENDATIONS,
    BEHAVIOR_EVENTS,
    COMMS_COMMANDS,
    COMMS_OUTCOMES,
    DEAD_LETTER_TOPIC,
    EXPERIMENTS_ASSIGNMENTS,
    EXPERIMENTS_CONVERSIONS,
    FUNNELS_STEPS,
    INTERVENTIONS_COMMANDS,
    MODELS_CHECKPOINTS,
    SEGMENTS_CHANGES,
    TRIGGER_DECISIONS,
    USERS_ANALYTICS,
    TopicSpec,
)
from schemas.user_analytics import UserAnalytics
from sinks.inputs import behavior_rows, behavior_user_day, outcome_rows
from sinks.messages import (
    DEAD_LETTERS,
    ConsumedMessage,
    Row,
    dead_letter_row,
    rejection_kind,
    table_of,
)
from sinks.route import Route, message_row, message_rows, model_values
from sinks.tables import (
    AlertProfileRow,
    AlertRecommendationRow,
    Communication,
    ExperimentAssignmentRow,
    ExperimentConversionRow,
    FunnelStepRow,
    Intervention,
    ModelCheckpointRow,
    OutcomeRow,
    ScoreHistoryRow,
    SegmentChangeRow,
    TriggerEvent,
    UserDay,
)

__all__ = [
    "DEAD_LETTERS",
    "ROUTES",
    "Route",
    "Row",
    "ConsumedMessage",
    "dead_letter_row",
    "message_row",
    "model_values",
    "rejection_kind",
    "table_of",
    "topic_routes",
]


def profile_rows(source: ConsumedMessage, route: Route, now: datetime) -> tuple[Row, ...]:
    """Return an alert profile's row; none for a tombstone (a null value).

    ``alerts.profiles`` is compacted: the worker tombstones a user's key when it erases
    the user (``docs/privacy.md``). That is no message to store, nor a dead letter (whose
    row would name the user again); ``nudge users forget`` deletes the user's row.
    """
    if source.value is None:
        return ()
    return message_rows(source, route, now)


#: The topics the sink persists, with their message model and table.
ROUTES: Mapping[TopicSpec, Route] = {
    TRIGGER_DECISIONS: Route(TriggerDecision, table_of(TriggerEvent)),
    COMMS_COMMANDS: Route(SendCommunication, table_of(Communication)),
    INTERVENTIONS_COMMANDS: Route(StartIntervention, table_of(Intervention)),
    SEGMENTS_CHANGES: Route(SegmentChange, table_of(SegmentChangeRow)),
    USERS_ANALYTICS: Route(UserAnalytics, table_of(ScoreHistoryRow)),
    EXPERIMENTS_ASSIGNMENTS: Route(ExperimentAssignment, table_of(ExperimentAssignmentRow)),
    EXPERIMENTS_CONVERSIONS: Route(ExperimentConversion, table_of(ExperimentConversionRow)),
    FUNNELS_STEPS: Route(FunnelStep, table_of(FunnelStepRow)),
    ALERTS_PROFILES: Route(AlertProfile, table_of(AlertProfileRow), profile_rows),
    ALERTS_RECOMMENDATIONS: Route(AlertRecommendation, table_of(AlertRecommendationRow)),
    MODELS_CHECKPOINTS: Route(ModelCheckpoint, table_of(ModelCheckpointRow)),
    **{letters: Route(DeadLetter, DEAD_LETTERS) for letters in DEAD_LETTER_TOPIC.values()},
    COMMS_OUTCOMES: Route(Event, table_of(OutcomeRow), outcome_rows),
    # user_days is the row every behaviour event makes; purchases, missed payments and
    # alert rules make one more (sinks.inputs.behavior_rows).
    BEHAVIOR_EVENTS: Route(Event, table_of(UserDay), behavior_rows, behavior_user_day),
}


def topic_routes(prefix: str) -> dict[str, Route]:
    """Return the routes by full topic name for a deployment with ``prefix``."""
    return {spec.full_name(prefix): route for spec, route in ROUTES.items()}
