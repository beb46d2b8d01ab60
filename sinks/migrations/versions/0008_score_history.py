"""Users' analytics: every snapshot as score history, and the latest one per user.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:00:00+00:00

``score_history`` keeps every ``UserAnalytics`` snapshot (``users.analytics``) once, keyed
by its deterministic ``snapshot_id``: a snapshot sent again after a crash, or read again
by the sink, is a duplicate, not a row. ``arrival`` numbers rows as the sink inserted them
(a sequence default, as ``segment_changes.arrival``, migration 0007).

The latest snapshot of each user is a view, ``user_analytics``, not a table the sink
upserts, because a view is right under both write paths and under replays without any
extra write:

- the ``COPY`` path moves staged rows with ``INSERT ... ON CONFLICT DO NOTHING``, and so
  does the ``INSERT`` path; an upserted table would need a second statement per batch on
  each path, kept in step with the first, and its ``ON CONFLICT DO UPDATE`` would need its
  own ordering guard;
- a replayed older snapshot (a consumer group reset, a topic read again) must never
  overwrite a newer one: in the view, an older ``as_of`` loses whatever order the rows
  arrived in, and a snapshot already stored is not even a row again. Two snapshots of one
  user with the same ``as_of`` (an event's hourly snapshot and the pattern change it
  caused) are ordered by ``arrival``: one user's snapshots come from one partition, in
  order, and the sink writes them in that order;
- nothing to repair if the two ever disagreed: there is only one copy.

The view is ``DISTINCT ON (user_id)`` ordered ``user_id, as_of, arrival`` all descending,
which the index on ``(user_id, as_of, arrival)`` gives by reading it backwards: one
user's latest snapshot (``WHERE user_id = ...``, pushed into the view) is an index probe;
every user's (the gauges, ``nudge report users``) one pass over the index, without a sort.
History grows by at most about one row per active user and day (``users.analytics``'s
docstring), and the sink reads every user's at most every 15 s.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
SEQUENCE = "score_history_arrival_seq"

LATEST = """
CREATE VIEW user_analytics AS
SELECT DISTINCT ON (user_id) *
FROM score_history
ORDER BY user_id DESC, as_of DESC, arrival DESC
"""

COMMENT = (
    "The latest analytics snapshot of each user: the score_history row with the newest "
    "as_of, and of those the last to arrive; every column is that row''s."
)


def upgrade() -> None:
    """Create ``score_history``, its sequence and index, and the view ``user_analytics``."""
    op.execute(f"CREATE SEQUENCE {SEQUENCE}")
    op.create_table(
        "score_history",
        sa.Column("snapshot_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("as_of", TZ, nullable=False),
        sa.Column("source_event_id", sa.Text(), nullable=True),
        sa.Column("engagement_score", sa.Double(), nullable=False),
        sa.Column("interest_score", sa.Double(), nullable=False),
        sa.Column("intent_score", sa.Double(), nullable=False),
        sa.Column("conversion_probability", sa.Double(), nullable=False),
        sa.Column("pattern", sa.Text(), nullable=True),
        sa.Column("segments", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("sessions_7d", sa.Integer(), nullable=False),
        sa.Column("sessions_30d", sa.Integer(), nullable=False),
        sa.Column("avg_session_minutes", sa.Double(), nullable=True),
        sa.Column("pages_per_session", sa.Double(), nullable=True),
        sa.Column("time_spent_minutes_7d", sa.Double(), nullable=False),
        sa.Column("days_active_14d", sa.Integer(), nullable=False),
        sa.Column("last_activity_at", TZ, nullable=True),
        sa.Column("spend_week", sa.Double(), nullable=True),
        sa.Column("savings_rate_pct", sa.Double(), nullable=True),
        sa.Column("personalization", sa.Text(), nullable=True),
        sa.Column(
            "arrival",
            sa.BigInteger(),
            server_default=sa.text(f"nextval('{SEQUENCE}')"),
            nullable=False,
        ),
        sa.Column("recorded_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", name="pk_score_history"),
    )
    op.execute(f"ALTER SEQUENCE {SEQUENCE} OWNED BY score_history.arrival")
    op.create_index(
        "ix_score_history_user_id_as_of_arrival",
        "score_history",
        ["user_id", "as_of", "arrival"],
    )
    op.execute(LATEST)
    op.execute(sa.text(f"COMMENT ON VIEW user_analytics IS '{COMMENT}'"))  # a constant


def downgrade() -> None:
    """Drop the view and the table (its sequence goes with it)."""
    op.execute("DROP VIEW user_analytics")
    op.drop_table("score_history")
