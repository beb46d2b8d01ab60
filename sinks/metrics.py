"""Every Prometheus metric the sink exports, in one place.

Labels are low-cardinality (topic, table); never a user id or a message id.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
