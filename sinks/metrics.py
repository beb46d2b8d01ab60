"""Every Prometheus metric the sink exports, in one place.

Labels are low-cardinality (topic, table, outcome type, segment: at most
``schemas.segments.MAX_SEGMENTS_IN_FORCE`` in force, pattern: ``schemas.patterns``' five
labels and ``none``, score: four; experiment: the 32 with the latest exposures, variant: at
most 8 per experiment, metric: the few its conversions name; model: the recommenders,
version: each one's 3 highest, alert type: eight); never a user id or a message id.
"""

from __future__ import annotations

from typing import get_args

from prometheus_client import Counter, Gauge, Histogram

from schemas.events import CommsOutcome

#: Every outcome type a notification service can report (the ``outcome`` label's values).
OUTCOME_TYPES: tuple[str, ...] = get_args(CommsOutcome.model_fields["outcome"].annotation)

#: Batches hold 1 .. ``sink_batch_size`` (default 500, at most 100 000) messages.
BATCH_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 100_000)
#: One transaction of a few hundred rows takes milliseconds; seconds means trouble.
WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

MESSAGES = Counter(
    "nudge_sink_messages_total", "Messages the sink took from Kafka, valid or not.", ["topic"]
)
INVALID_MESSAGES = Counter(
    "nudge_sink_invalid_messages_total",
    "Messages that failed to decode or validate (written to dead_letters instead).",
    ["topic"],
)
ROWS_INSERTED = Counter(
    "nudge_sink_rows_inserted_total", "Rows the sink inserted that were new.", ["table"]
)
DUPLICATES = Counter(
    "nudge_sink_duplicates_total",
    "Rows already in the table (a replayed message); not inserted again.",
    ["table"],
)
BATCH_SIZE = Histogram(
    "nudge_sink_batch_size", "Messages per database transaction.", buckets=BATCH_BUCKETS
)
WRITE_SECONDS = Histogram(
    "nudge_sink_write_seconds",
    "Duration of one successful batch transaction, in seconds.",
    buckets=WRITE_BUCKETS,
)
WRITE_ERRORS = Counter(
    "nudge_sink_write_errors_total", "Batch writes that failed and will be retried."
)
OUTCOMES_APPLIED = Counter(
    "nudge_sink_outcomes_applied_total",
    "Outcomes applied to their command's row: on arrival, or when the command came later.",
    ["outcome"],
)
OUTCOMES_ORPHANED = Counter(
    "nudge_sink_outcomes_orphaned_total",
    "Outcomes that arrived before their command's row: kept, applied when it arrives.",
    ["outcome"],
)
ORPHANS_MATCHED = Counter(
    "nudge_sink_orphans_matched_total",
    "Orphaned outcomes applied when their command arrived (orphaned - matched = waiting).",
    ["outcome"],
)
SEGMENT_CHANGES = Counter(
    "nudge_sink_segment_changes_total",
    "Segment changes the sink stored (new rows; replays are not counted), by change.",
    ["segment", "change"],
)
SEGMENT_MEMBERS = Gauge(
    "nudge_segment_members",
    "Users in the segment now, as the view segment_sizes counts them (every sink replica "
    "reads the same table: take the max over instances, not the sum).",
    ["segment"],
)
USERS_BY_PATTERN = Gauge(
    "nudge_users_by_pattern",
    "Users whose latest analytics snapshot has the pattern (none: no pattern yet), as the "
    "view user_analytics has them (every sink replica reads the same table: take the max "
    "over instances, not the sum).",
    ["pattern"],
)
AVERAGE_SCORE = Gauge(
    "nudge_average_score",
    "Average of a score (engagement, interest, intent, conversion; 0-100) over every user's "
    "latest analytics snapshot (max over sink instances, as nudge_users_by_pattern).",
    ["score"],
)
EXPERIMENT_USERS = Gauge(
    "nudge_experiment_users",
    "Users exposed in the experiment's arm (assigned), as the view experiment_exposures "
    "counts them; the 32 experiments with the latest exposures (every sink replica reads "
    "the same table: max over instances, not sum).",
    ["experiment", "variant"],
)
EXPERIMENT_CONVERSION_RATE = Gauge(
    "nudge_experiment_conversion_rate",
    "Share (0-1) of the arm's exposed users with a conversion of the metric, as the view "
    "experiment_arms counts them (max over sink instances, as nudge_experiment_users).",
    ["experiment", "variant", "metric"],
)
RECOMMENDATION_ACCEPTANCE_RATE = Gauge(
    "nudge_recommendation_acceptance_rate",
    "Share (0-1) of the users an alert type was recommended to by the model version who "
    "turned it on within 30 days, as the view recommendation_acceptance counts them; each "
    "model's 3 highest versions (every sink replica reads the same table: max over "
    "instances, not sum).",
    ["model", "version", "alert_type"],
)

# Every outcome type's series exists from start-up (at 0), so rates and the difference
# orphaned - matched are defined before the first outcome of a type arrives.
for _outcome in OUTCOME_TYPES:
    for _counter in (OUTCOMES_APPLIED, OUTCOMES_ORPHANED, ORPHANS_MATCHED):
        _counter.labels(_outcome)
