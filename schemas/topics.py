"""Every Kafka topic Nudge reads or writes: names, partitions, retention and compaction.

Topics are created from this module (``nudge topics create`` and the workers at start-up),
so this is the one place to change a topic's layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

DAY_MS = 86_400_000


class Key(Enum):
    """What a topic's message key is."""

    USER_ID = "user_id"
    TRIGGER_ID = "trigger_id"
    TEMPLATE_ID = "template_id"
    MODEL_NAME = "model_name"
    CHECKPOINT = "model/partition"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """Layout of one topic.

    Attributes:
        name: Topic name before the deployment's prefix.
        key: What the message key holds.
        retention_ms: How long messages are kept; ``-1`` keeps them forever.
        compacted: Keep only the last message per key (for definitions and profiles).
        user_keyed: Partitioned by ``user_id``: uses the deployment's partition count so
            a user's events, state and commands live on one partition number.
    """

    name: str
    key: Key
    retention_ms: int
    compacted: bool = False
    user_keyed: bool = True

    def full_name(self, prefix: str = "") -> str:
        """Return the topic name with the deployment's prefix."""
        return f"{prefix}{self.name}"

    def partitions(self, user_partitions: int) -> int:
        """Return the partition count for a deployment with ``user_partitions``."""
        return user_partitions if self.user_keyed else 1

    def config(self) -> dict[str, str]:
        """Return the broker-side topic configuration."""
        if self.compacted:
            return {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}
        return {"cleanup.policy": "delete", "retention.ms": str(self.retention_ms)}


# Inputs. Events are kept a week: long enough to replay after an outage of a weekend.
BEHAVIOR_EVENTS = TopicSpec("behavior.events", Key.USER_ID, 7 * DAY_MS)
RISK_SCORES = TopicSpec("risk.scores", Key.USER_ID, 7 * DAY_MS)
COMMS_OUTCOMES = TopicSpec("comms.outcomes", Key.USER_ID, 7 * DAY_MS)
USERS_PROFILES = TopicSpec("users.profiles", Key.USER_ID, -1, compacted=True)
# Definitions are data read by every worker as a global table: one partition, compacted.
TRIGGERS_DEFINITIONS = TopicSpec(
    "triggers.definitions", Key.TRIGGER_ID, -1, compacted=True, user_keyed=False
)
#: Message templates applied live (``schemas.templates.MessageTemplate``), keyed by message
#: id: every worker follows it and renders with the newest version (``nudge templates``).
TEMPLATES_DEFINITIONS = TopicSpec(
    "templates.definitions", Key.TEMPLATE_ID, -1, compacted=True, user_keyed=False
)

# Outputs. Consumers deduplicate on the message id; 14 days covers their longest outage.
COMMS_COMMANDS = TopicSpec("comms.commands", Key.USER_ID, 14 * DAY_MS)
INTERVENTIONS_COMMANDS = TopicSpec("interventions.commands", Key.USER_ID, 14 * DAY_MS)
ALERTS_RECOMMENDATIONS = TopicSpec("alerts.recommendations", Key.USER_ID, 14 * DAY_MS)
#: Each user's recommender features and enabled alerts, the latest (``schemas.alerts``).
ALERTS_PROFILES = TopicSpec("alerts.profiles", Key.USER_ID, -1, compacted=True)
#: The model version in force, per model name: every worker follows it (``ModelPromotion``).
MODELS_ACTIVE = TopicSpec("models.active", Key.MODEL_NAME, -1, compacted=True, user_keyed=False)
#: Global online models' state per input partition (``schemas.learning.ModelCheckpoint``).
MODELS_CHECKPOINTS = TopicSpec(
    "models.checkpoints", Key.CHECKPOINT, -1, compacted=True, user_keyed=False
)
SEGMENTS_CHANGES = TopicSpec("segments.changes", Key.USER_ID, 14 * DAY_MS)
#: Each user's scores, pattern and segments: the latest, and the history at a bounded rate.
USERS_ANALYTICS = TopicSpec("users.analytics", Key.USER_ID, 14 * DAY_MS)
TRIGGER_DECISIONS = TopicSpec("trigger.decisions", Key.USER_ID, 14 * DAY_MS)
#: Each user's arm in an experiment, once (``schemas.experiments``).
EXPERIMENTS_ASSIGNMENTS = TopicSpec("experiments.assignments", Key.USER_ID, 14 * DAY_MS)
#: Conversions credited to an arm, once per user, experiment and metric.
EXPERIMENTS_CONVERSIONS = TopicSpec("experiments.conversions", Key.USER_ID, 14 * DAY_MS)
#: Funnel steps reached, completions and drops (``schemas.funnels``).
FUNNELS_STEPS = TopicSpec("funnels.steps", Key.USER_ID, 14 * DAY_MS)

# Dead letters: one per input topic of events, kept a month so a bad deploy can be replayed.
# (Definitions are not events: the worker refuses a bad one and counts it. Nothing reads
# users.profiles yet; whatever does will validate it and need one.)
BEHAVIOR_EVENTS_DLQ = TopicSpec("behavior.events.dlq", Key.USER_ID, 30 * DAY_MS)
RISK_SCORES_DLQ = TopicSpec("risk.scores.dlq", Key.USER_ID, 30 * DAY_MS)
COMMS_OUTCOMES_DLQ = TopicSpec("comms.outcomes.dlq", Key.USER_ID, 30 * DAY_MS)

#: Input topic -> the dead-letter topic its rejected messages go to (original bytes,
#: where they were read and why they were refused). The inputs here are the ones the
#: worker validates as events; every dead-letter topic is here, and the sink stores them
#: all. Read-only: the one place a dead-letter topic is tied to its input.
DEAD_LETTER_TOPIC: Mapping[TopicSpec, TopicSpec] = MappingProxyType(
    {
        BEHAVIOR_EVENTS: BEHAVIOR_EVENTS_DLQ,
        RISK_SCORES: RISK_SCORES_DLQ,
        COMMS_OUTCOMES: COMMS_OUTCOMES_DLQ,
    }
)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    BEHAVIOR_EVENTS,
    RISK_SCORES,
    COMMS_OUTCOMES,
    USERS_PROFILES,
    TRIGGERS_DEFINITIONS,
    TEMPLATES_DEFINITIONS,
    COMMS_COMMANDS,
    INTERVENTIONS_COMMANDS,
    ALERTS_RECOMMENDATIONS,
    ALERTS_PROFILES,
    MODELS_ACTIVE,
    MODELS_CHECKPOINTS,
    SEGMENTS_CHANGES,
    USERS_ANALYTICS,
    TRIGGER_DECISIONS,
    EXPERIMENTS_ASSIGNMENTS,
    EXPERIMENTS_CONVERSIONS,
    FUNNELS_STEPS,
    *DEAD_LETTER_TOPIC.values(),
)
