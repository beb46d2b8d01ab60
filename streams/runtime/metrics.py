"""Every Prometheus metric the stream worker exports, in one place.

Labels are low-cardinality (event type, trigger, channel, reason, topic); never a user id.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

#: Event time -> command latency spans sub-second live traffic to minutes of catch-up.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
#: Agent batches hold up to ``BATCH_MAX_EVENTS`` events.
BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000)

EVENTS_IN = Counter("nudge_events_total", "Valid events processed.", ["type"])
EVENTS_INVALID = Counter(
    "nudge_events_invalid_total", "Input messages sent to a dead-letter topic.", ["topic", "kind"]
)
EVENTS_DUPLICATE = Counter(
    "nudge_events_duplicate_total", "Events dropped because their event_id was already applied."
)
EVENTS_STALE = Counter(
    "nudge_events_stale_total", "Events older than the evaluation horizon (state only)."
)
FIELDS_SANITISED = Counter(
    "nudge_fields_sanitised_total",
    "Sensitive keys removed or over-long text cut at the intake.",
    ["action"],
)
DECISIONS = Counter(
    "nudge_trigger_decisions_total",
    "Trigger evaluations whose condition held, by outcome and suppression reason.",
    ["trigger", "outcome", "reason"],
)
COMMANDS = Counter(
    "nudge_commands_total", "Communication commands emitted.", ["trigger", "channel"]
)
INTERVENTIONS = Counter(
    "nudge_interventions_total", "Risk interventions started.", ["type", "level"]
)
SEGMENT_CHANGES = Counter(
    "nudge_segment_changes_total",
    "Users joining or leaving live segments (segments.changes).",
    ["segment", "change"],
)
EXPERIMENT_ASSIGNMENTS = Counter(
    "nudge_experiment_assignments_total",
    "Users assigned to an experiment's arm at their first exposure (experiments.assignments).",
    ["experiment", "variant"],
)
EXPERIMENT_CONVERSIONS = Counter(
    "nudge_experiment_conversions_total",
    "Conversions credited to an experiment's arm (experiments.conversions).",
    ["experiment", "variant", "metric"],
)
ALERT_PROFILES = Counter(
    "nudge_alert_profiles_total",
    "Users' alert profiles published because they changed materially (alerts.profiles).",
)
ALERT_RECOMMENDATIONS = Counter(
    "nudge_alert_recommendations_total",
    "Alerts recommended to users by the model in force (alerts.recommendations); "
    "nudge_model_version says which version.",
    ["alert_type"],
)
MODEL_VERSION = Gauge(
    "nudge_model_version",
    "The version of each model this worker serves; 0 while it serves none.",
    ["model"],
)
MODEL_LOAD_FAILURES = Counter(
    "nudge_model_load_failures_total",
    "Promoted model versions this worker refused (file missing, hash differs, untrusted "
    "types): it keeps serving the version it had.",
    ["model"],
)
MODEL_ERRORS = Counter(
    "nudge_model_errors_total",
    "Recommendations a model raised on: the user is served nothing, the event goes on.",
    ["model"],
)
MODEL_CHECKPOINTS_WRITTEN = Counter(
    "nudge_model_checkpoints_written_total",
    "Checkpoints of global online models this worker wrote to models.checkpoints "
    "(one per model and input partition that learned something since its last).",
    ["model"],
)
MODEL_CHECKPOINT_FAILURES = Counter(
    "nudge_model_checkpoint_failures_total",
    "Checkpoints this worker could not write (the broker refused or did not answer): "
    "what they held is written with the next one.",
    ["model"],
)
MODEL_CHECKPOINTS_REFUSED = Counter(
    "nudge_model_checkpoints_refused_total",
    "Messages of models.checkpoints this worker refused (not a checkpoint, key not its "
    "model/partition, unknown model, a state the model refuses): the previous one stays.",
    ["reason"],
)
SEND_TIME_PRIOR_SENDS = Gauge(
    "nudge_send_time_prior_sends",
    "Sends counted in the send-time prior this worker serves (the sum of every "
    "partition's newest checkpoint).",
)
FUNNEL_STEPS = Counter(
    "nudge_funnel_steps_total",
    "Funnel steps reached, completions and drop-outs (funnels.steps).",
    ["funnel", "step", "kind"],
)
DECISION_LATENCY = Histogram(
    "nudge_decision_latency_seconds",
    "From an event's occurred_at to the command it caused being emitted.",
    ["trigger"],
    buckets=LATENCY_BUCKETS,
)
BATCH_SIZE = Histogram("nudge_agent_batch_events", "Events per agent batch.", buckets=BATCH_BUCKETS)
STATE_WRITES = Counter(
    "nudge_state_writes_total", "Per-user state records written to the changelog."
)
SCHEDULER_TICKS = Histogram(
    "nudge_scheduler_tick_seconds",
    "Time a worker's timer spent on one pass over its users.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
SCHEDULER_PASS_USERS = Histogram(
    "nudge_scheduler_pass_users",
    "Users a worker's timer looked at in one pass: all of them when a schedule came round "
    "or partitions were assigned, else only those with a held send due.",
    buckets=(0, 1, 10, 100, 1_000, 10_000, 100_000, 1_000_000),
)
SCHEDULER_LONGEST_HOLD = Histogram(
    "nudge_scheduler_longest_hold_seconds",
    "Per timer pass, the longest one slice held the lock agent batches wait for.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
SCHEDULED_EVALUATIONS = Counter(
    "nudge_scheduled_evaluations_total",
    "Users looked at by the timer for a time-based trigger whose schedule came round.",
    ["trigger"],
)
HELD_SENDS = Counter(
    "nudge_sends_held_total", "Commands held in a user's state for a later send_at."
)
RELEASED_SENDS = Counter(
    "nudge_sends_released_total", "Held commands sent by the timer when due.", ["trigger"]
)
ERASURES = Counter(
    "nudge_erasures_total",
    "Erasure requests applied: a user's record deleted (tombstoned) with its held sends.",
)
USERS_TRACKED = Gauge(
    "nudge_users_tracked", "Per-user state records held by this worker's partitions."
)
PROCESSING_ERRORS = Counter(
    "nudge_processing_errors_total",
    "Valid events whose processing raised (a bug): dead-lettered as processing_error, "
    "their state change not applied.",
    ["topic"],
)
DEFINITIONS_REFUSED = Gauge(
    "nudge_trigger_definitions_refused",
    "Entries of triggers.definitions this worker refuses (invalid or unusable).",
)
TEMPLATES_REFUSED = Gauge(
    "nudge_message_templates_refused",
    "Entries of templates.definitions this worker refuses (invalid or unusable).",
)
CONSUMER_LAG = Gauge(
    "nudge_consumer_lag_messages",
    "Messages of an assigned input partition not yet committed by this worker.",
    ["topic", "partition"],
)
LAST_BATCH = Gauge(
    "nudge_last_batch_timestamp_seconds",
    "Wall-clock time the ingest agent last finished a batch (Unix seconds).",
)
LAST_TIMER_TICK = Gauge(
    "nudge_last_timer_tick_timestamp_seconds",
    "Wall-clock time the timer last ran a pass (Unix seconds).",
)
DRIFT_DETECTED = Counter(
    "nudge_drift_detected_total",
    "Sudden changes of a signal's level this worker's drift detectors found (models.drift): "
    "signal trigger_rate:<trigger> (firings per event) or anomaly_score (mean score).",
    ["signal"],
)
DRIFT_LEVEL = Gauge(
    "nudge_drift_level",
    "Each drift signal's level as its detector sees it, over its window since its last "
    "restart: firings per event, or the mean anomaly score.",
    ["signal"],
)
API_REQUESTS = Counter(
    "nudge_api_requests_total",
    "Query API answers this worker gave, by endpoint (schemas.api ROUTES) and HTTP status.",
    ["route", "status"],
)
API_FORWARDED = Counter(
    "nudge_api_forwarded_total",
    "Query API requests this worker handed to the worker that owns the user.",
)
