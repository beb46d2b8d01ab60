"""Experiments, funnels and cohorts: assignments, conversions, funnel steps, user-days, purchases.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 00:00:00+00:00

Tables, each keyed by the message's deterministic id or, for input events, as the stream
deduplicates them, so a replay is never a second row:

- ``experiment_assignments``: a user's arm, once per user and experiment;
- ``experiment_conversions``: a conversion credited to an arm, once per user, experiment
  and metric;
- ``funnel_steps``: a step reached, a funnel completed, a drop;
- ``user_days``: one row per user and UTC day with any event on ``behavior.events``
  (insert-only: every event of the day is the same row);
- ``purchases``: ``purchase`` events (amount and currency);
- and ``trigger_events`` gains ``experiment`` and ``variant``: the exposure a decision was.

No count or sum is kept in a row the sink updates: a replayed message would add itself
twice. Every figure is a view over rows stored once:

- ``experiment_exposures``: per experiment and arm, users assigned (exposed);
- ``experiment_arms``: per experiment, arm and metric with a conversion in the experiment:
  exposed, converted (exposed users of the arm with a conversion of the metric), value;
  arms without a conversion are rows with 0;
- ``funnel_step_summary``: per funnel and step, users who reached it, completed the
  funnel there, dropped there, and the median and 90th percentile of the time from the
  step before;
- ``user_cohorts``: each user's first day and cohort (the ISO week, a Monday, of it);
- ``cohort_retention``: per cohort and week since, users active that week, of the cohort;
- ``cohort_value``: per cohort, users, users who converted, lifetime value.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)

EXPOSURES = """
CREATE VIEW experiment_exposures AS
SELECT experiment_id, variant, count(*) AS exposed,
       min(exposed_at) AS first_exposed_at, max(exposed_at) AS last_exposed_at
FROM experiment_assignments
GROUP BY experiment_id, variant
"""

# A conversion counts for the arm of its user's assignment, so converted <= exposed even
# while a conversion is stored before its assignment (two topics, no order between them):
# it counts once the assignment is there.
ARMS = """
CREATE VIEW experiment_arms AS
WITH metrics AS (
    SELECT DISTINCT experiment_id, metric FROM experiment_conversions
), converted AS (
    SELECT a.experiment_id, a.variant, c.metric,
           count(DISTINCT c.user_id) AS converted, sum(c.value) AS value
    FROM experiment_conversions AS c
    JOIN experiment_assignments AS a
      ON a.experiment_id = c.experiment_id AND a.user_id = c.user_id
    GROUP BY a.experiment_id, a.variant, c.metric
)
SELECT e.experiment_id, e.variant, m.metric, e.exposed,
       coalesce(c.converted, 0) AS converted,
       coalesce(c.value, 0)::float8 AS value
FROM experiment_exposures AS e
JOIN metrics AS m ON m.experiment_id = e.experiment_id
LEFT JOIN converted AS c
  ON c.experiment_id = e.experiment_id AND c.variant = e.variant AND c.metric = m.metric
"""

# A step is reached by a ``reached`` row or, at the last step, a ``completed`` one; one
# run (user and entered_at) counts once per step, whichever rows it has.
FUNNEL = """
CREATE VIEW funnel_step_summary AS
WITH reached AS (
    SELECT DISTINCT ON (funnel_id, user_id, entered_at, step)
           funnel_id, user_id, step, seconds_from_previous
    FROM funnel_steps
    WHERE kind IN ('reached', 'completed')
    ORDER BY funnel_id, user_id, entered_at, step, seconds_from_previous NULLS LAST
), reach AS (
    SELECT funnel_id, step, count(DISTINCT user_id) AS reached,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds_from_previous)
               AS median_seconds_from_previous,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds_from_previous)
               AS p90_seconds_from_previous
    FROM reached
    GROUP BY funnel_id, step
), ends AS (
    SELECT funnel_id, step,
           count(DISTINCT user_id) FILTER (WHERE kind = 'completed') AS completed,
           count(DISTINCT user_id) FILTER (WHERE kind = 'dropped') AS dropped,
           (array_agg(step_name ORDER BY at DESC, step_id))[1] AS step_name
    FROM funnel_steps
    GROUP BY funnel_id, step
)
SELECT e.funnel_id, e.step, e.step_name,
       coalesce(r.reached, 0) AS reached, e.completed, e.dropped,
       r.median_seconds_from_previous, r.p90_seconds_from_previous
FROM ends AS e
LEFT JOIN reach AS r ON r.funnel_id = e.funnel_id AND r.step = e.step
"""

# ISO weeks start on Monday, as date_trunc('week') does; on a timestamp without time
# zone, so the session's time zone plays no part.
COHORTS = """
CREATE VIEW user_cohorts AS
SELECT user_id, min(day) AS first_day,
       date_trunc('week', min(day)::timestamp)::date AS cohort_week
FROM user_days
GROUP BY user_id
"""

# Weeks run from the cohort's to the newest week with any activity (the data's clock, not
# the database's: a replay of old events gives the same table), with 0 for a week nobody
# of the cohort was active in.
RETENTION = """
CREATE VIEW cohort_retention AS
WITH sizes AS (
    SELECT cohort_week, count(*) AS cohort_size FROM user_cohorts GROUP BY cohort_week
), newest AS (
    SELECT date_trunc('week', max(day)::timestamp)::date AS week FROM user_days
), active AS (
    SELECT c.cohort_week,
           (date_trunc('week', d.day::timestamp)::date - c.cohort_week) / 7 AS weeks_since,
           count(DISTINCT d.user_id) AS active_users
    FROM user_days AS d
    JOIN user_cohorts AS c ON c.user_id = d.user_id
    GROUP BY 1, 2
)
SELECT s.cohort_week, w.weeks_since::integer AS weeks_since, s.cohort_size,
       coalesce(a.active_users, 0) AS active_users,
       coalesce(a.active_users, 0)::float8 / s.cohort_size AS retention
FROM sizes AS s
CROSS JOIN newest AS n
CROSS JOIN LATERAL generate_series(0, (n.week - s.cohort_week) / 7) AS w (weeks_since)
LEFT JOIN active AS a ON a.cohort_week = s.cohort_week AND a.weeks_since = w.weeks_since
"""

# A converted outcome's value counts once per command (its first conversion), as the
# effectiveness views count it (command_outcomes.conversion_value).
VALUE = """
CREATE VIEW cohort_value AS
WITH purchase_value AS (
    SELECT user_id, sum(amount) AS value FROM purchases GROUP BY user_id
), first_conversions AS (
    SELECT DISTINCT ON (user_id, command_id) user_id, value
    FROM outcomes
    WHERE outcome = 'converted'
    ORDER BY user_id, command_id, occurred_at, event_id
), outcome_value AS (
    SELECT user_id, sum(value) AS value FROM first_conversions GROUP BY user_id
), converters AS (
    SELECT user_id FROM purchases
    UNION SELECT user_id FROM outcomes WHERE outcome = 'converted'
    UNION SELECT user_id FROM experiment_conversions
)
SELECT c.cohort_week,
       count(*) AS users,
       count(v.user_id) AS converted_users,
       count(v.user_id)::float8 / count(*) AS converted_share,
       coalesce(sum(p.value), 0) + coalesce(sum(o.value), 0) AS lifetime_value,
       round((coalesce(sum(p.value), 0) + coalesce(sum(o.value), 0)) / count(*), 4)
           AS value_per_user
FROM user_cohorts AS c
LEFT JOIN converters AS v ON v.user_id = c.user_id
LEFT JOIN purchase_value AS p ON p.user_id = c.user_id
LEFT JOIN outcome_value AS o ON o.user_id = c.user_id
GROUP BY c.cohort_week
"""

VIEWS = {
    "experiment_exposures": (
        EXPOSURES,
        "Per experiment and arm: users assigned to it (exposed), and the first and last "
        "exposure.",
    ),
    "experiment_arms": (
        ARMS,
        "Per experiment, arm and metric (every metric with a conversion in the experiment): "
        "exposed users, converted (those of them with a conversion of the metric, counted "
        "in the arm of their assignment) and value (sum of the conversions'' values); an "
        "arm without a conversion has 0.",
    ),
    "funnel_step_summary": (
        FUNNEL,
        "Per funnel and step: users who reached it (a reached row, or completed at the last "
        "step), completed the funnel there, dropped there (the last step reached when the "
        "window passed), and the median and 90th percentile of seconds_from_previous over "
        "the runs that reached it. A user counts once per step whatever the runs.",
    ),
    "user_cohorts": (
        COHORTS,
        "Per user seen on behavior.events: the first UTC day and the cohort, the ISO week "
        "(its Monday) of that day.",
    ),
    "cohort_retention": (
        RETENTION,
        "Per cohort week and weeks since it (0 up to the newest week with any activity): "
        "users of the cohort active that week, the cohort''s size, and their share.",
    ),
    "cohort_value": (
        VALUE,
        "Per cohort week: users, users who converted (a purchase, a converted outcome or an "
        "experiment conversion), lifetime value (purchase amounts plus the first converted "
        "value of each command, whatever the currency) and value per user (to 4 decimals, "
        "as money is kept).",
    ),
}


def upgrade() -> None:
    """Create the five tables, the decisions' two columns, and the views."""
    op.add_column("trigger_events", sa.Column("experiment", sa.Text(), nullable=True))
    op.add_column("trigger_events", sa.Column("variant", sa.Text(), nullable=True))
    op.create_table(
        "experiment_assignments",
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("experiment_id", sa.Text(), nullable=False),
        sa.Column("variant", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("trigger_id", sa.Text(), nullable=False),
        sa.Column("decision_id", sa.Text(), nullable=False),
        sa.Column("exposed_at", TZ, nullable=False),
        sa.Column("recorded_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name="pk_experiment_assignments"),
    )
    op.create_index(
        "ix_experiment_assignments_experiment_id_variant",
        "experiment_assignments",
        ["experiment_id", "variant"],
    )
    op.create_index(
        "ix_experiment_assignments_experiment_id_user_id",
        "experiment_assignments",
        ["experiment_id", "user_id"],
    )
    op.create_table(
        "experiment_conversions",
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("experiment_id", sa.Text(), nullable=False),
        sa.Column("variant", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("converted_at", TZ, nullable=False),
        sa.Column("exposed_at", TZ, nullable=False),
        sa.Column("source_event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("recorded_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name="pk_experiment_conversions"),
    )
    op.create_index(
        "ix_experiment_conversions_experiment_id_metric_user_id",
        "experiment_conversions",
        ["experiment_id", "metric", "user_id"],
    )
    op.create_table(
        "funnel_steps",
        sa.Column("step_id", sa.Text(), nullable=False),
        sa.Column("funnel_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("step_name", sa.Text(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("entered_at", TZ, nullable=False),
        sa.Column("seconds_from_previous", sa.Double(), nullable=True),
        sa.Column("source_event_id", sa.Text(), nullable=True),
        sa.Column("recorded_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("step_id", name="pk_funnel_steps"),
    )
    op.create_index("ix_funnel_steps_funnel_id_step", "funnel_steps", ["funnel_id", "step"])
    op.create_table(
        "user_days",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "day", name="pk_user_days"),
    )
    op.create_table(
        "purchases",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("product_id", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(18, 4), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("recorded_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "event_id", name="pk_purchases"),
    )
    for view, (statement, comment) in VIEWS.items():
        op.execute(statement)
        op.execute(sa.text(f"COMMENT ON VIEW {view} IS '{comment}'"))  # constants


def downgrade() -> None:
    """Drop the views, the tables (and every row in them), and the decisions' columns."""
    for view in reversed(VIEWS):
        op.execute(f"DROP VIEW {view}")
    for table in (
        "purchases",
        "user_days",
        "funnel_steps",
        "experiment_conversions",
        "experiment_assignments",
    ):
        op.drop_table(table)
    op.drop_column("trigger_events", "variant")
    op.drop_column("trigger_events", "experiment")
