"""Decisions keep what changed when they are behaviour changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 00:00:00+00:00

A ``behavior_change`` decision (``schemas.records.BehaviorChange``) names the activity, the
direction, the size, the week judged, its count and the baseline. They are kept as JSON
in a nullable column of ``trigger_events`` (NULL for every other decision); the view
``behavior_changes`` gives them as columns, and ``behavior_change_summary`` counts them
per activity and direction over the last 7, 30 and 90 days (``nudge report behavior``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

VIEW = """
CREATE VIEW behavior_changes AS
SELECT decision_id,
       user_id,
       occurred_at,
       behavior_change ->> 'activity' AS activity,
       behavior_change ->> 'direction' AS direction,
       (behavior_change ->> 'change_pct')::double precision AS change_pct,
       (behavior_change ->> 'week_start')::date AS week_start,
       (behavior_change ->> 'week_count')::integer AS week_count,
       (behavior_change ->> 'baseline_per_week')::double precision AS baseline_per_week,
       recorded_at
FROM trigger_events
WHERE behavior_change IS NOT NULL
"""

#: The windows the report views have (as in revision 0002), in days.
WINDOWS = "SELECT d AS window_days, now() - make_interval(days => d) AS since"
WINDOWS += " FROM (VALUES (7), (30), (90)) AS w (d)"

SUMMARY = f"""
CREATE VIEW behavior_change_summary AS
WITH windows AS ({WINDOWS})
SELECT
    w.window_days,
    b.activity,
    b.direction,
    count(*) AS changes,
    count(DISTINCT b.user_id) AS users,
    round(avg(b.change_pct)::numeric, 1) AS mean_change_pct
FROM windows AS w
JOIN behavior_changes AS b ON b.occurred_at >= w.since
GROUP BY w.window_days, b.activity, b.direction
"""


COMMENTS = {
    "behavior_changes": (
        "One row per behaviour change decision: the activity (transactions, sessions, "
        "page_views, feature_use, logins), rise or fall, change_pct (the judged week "
        "against the mean of the 4 weeks before, in percent), week_start (its Monday, "
        "UTC), week_count and baseline_per_week."
    ),
    "behavior_change_summary": (
        "Behaviour changes per window (window_days: 7, 30, 90 days before now()), "
        "activity and direction: changes recorded, distinct users, mean change_pct."
    ),
}


def upgrade() -> None:
    """Add ``trigger_events.behavior_change`` and the ``behavior_changes`` view."""
    op.add_column(
        "trigger_events",
        sa.Column("behavior_change", postgresql.JSONB(), nullable=True),
    )
    op.execute(VIEW)
    op.execute(SUMMARY)
    for view, comment in COMMENTS.items():
        op.execute(sa.text(f"COMMENT ON VIEW {view} IS '{comment}'"))  # constants, no quote


def downgrade() -> None:
    """Drop the view and the column."""
    op.execute("DROP VIEW behavior_change_summary")
    op.execute("DROP VIEW behavior_changes")
    op.drop_column("trigger_events", "behavior_change")
