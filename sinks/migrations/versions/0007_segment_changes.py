"""Segment changes: one row per join or leave, and who is in which segment now.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 00:00:00+00:00

``segment_changes`` keeps every ``SegmentChange`` (``segments.changes``) once, keyed by its
deterministic ``change_id``. ``arrival`` numbers rows as the sink inserted them, to order
two changes of one user and segment with the same ``occurred_at``. The views:

- ``segment_members``: every (user, segment) whose latest change is ``joined``;
- ``segment_sizes``: members per segment, 0 for a segment everyone left (so a gauge set
  from it falls to 0 rather than keeping its last value);
- ``segment_change_days``: joins and leaves per segment and UTC day;
- ``segment_summary``: per window (7, 30, 90 days: today, UTC, and the days before it),
  members now, joins and leaves (``nudge report segments``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
SEQUENCE = "segment_changes_arrival_seq"

MEMBERS = """
CREATE VIEW segment_members AS
SELECT user_id, segment_id, occurred_at AS joined_at, change_id, reason
FROM (
    SELECT DISTINCT ON (user_id, segment_id)
           user_id, segment_id, change, occurred_at, change_id, reason
    FROM segment_changes
    ORDER BY user_id, segment_id, occurred_at DESC, arrival DESC
) AS latest
WHERE change = 'joined'
"""

SIZES = """
CREATE VIEW segment_sizes AS
SELECT s.segment_id, count(m.user_id) AS members
FROM (SELECT DISTINCT segment_id FROM segment_changes) AS s
LEFT JOIN segment_members AS m ON m.segment_id = s.segment_id
GROUP BY s.segment_id
"""

DAYS = """
CREATE VIEW segment_change_days AS
SELECT segment_id,
       (occurred_at AT TIME ZONE 'UTC')::date AS day,
       count(*) FILTER (WHERE change = 'joined') AS joins,
       count(*) FILTER (WHERE change = 'left') AS leaves
FROM segment_changes
GROUP BY segment_id, day
"""

#: The report windows (as in revisions 0002 and 0005), counted in whole UTC days as a
#: segment's aggregations are: 7 days is today and the six days before it.
WINDOWS = "SELECT d AS window_days, (now() AT TIME ZONE 'UTC')::date - (d - 1) AS first_day"
WINDOWS += " FROM (VALUES (7), (30), (90)) AS w (d)"

SUMMARY = f"""
CREATE VIEW segment_summary AS
WITH windows AS ({WINDOWS}),
changes AS (
    SELECT w.window_days, c.segment_id, sum(c.joins) AS joins, sum(c.leaves) AS leaves
    FROM windows AS w
    JOIN segment_change_days AS c ON c.day >= w.first_day
    GROUP BY w.window_days, c.segment_id
)
SELECT w.window_days,
       s.segment_id,
       s.members,
       coalesce(c.joins, 0)::bigint AS joins,
       coalesce(c.leaves, 0)::bigint AS leaves
FROM windows AS w
CROSS JOIN segment_sizes AS s
LEFT JOIN changes AS c ON c.window_days = w.window_days AND c.segment_id = s.segment_id
WHERE s.members > 0 OR c.segment_id IS NOT NULL
"""

COMMENTS = {
    "segment_members": (
        "Who is in which segment now: each (user_id, segment_id) whose latest change (by "
        "occurred_at, then arrival) is joined; joined_at, change_id and reason are that "
        "change''s."
    ),
    "segment_sizes": (
        "Members now per segment, for every segment with a recorded change (0 when everyone "
        "left)."
    ),
    "segment_change_days": "Joins and leaves per segment and UTC day (of occurred_at).",
    "segment_summary": (
        "Per window (window_days: 7, 30, 90 UTC days, today included) and segment: members "
        "now, joins and leaves in the window; segments with neither members nor changes "
        "are left out."
    ),
}


def upgrade() -> None:
    """Create ``segment_changes``, its sequence and indexes, and the four views."""
    op.execute(f"CREATE SEQUENCE {SEQUENCE}")
    op.create_table(
        "segment_changes",
        sa.Column("change_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("segment_id", sa.Text(), nullable=False),
        sa.Column("change", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("source_event_id", sa.Text(), nullable=True),
        sa.Column("member_since", TZ, nullable=True),
        sa.Column(
            "arrival",
            sa.BigInteger(),
            server_default=sa.text(f"nextval('{SEQUENCE}')"),
            nullable=False,
        ),
        sa.Column("recorded_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("change_id", name="pk_segment_changes"),
    )
    op.execute(f"ALTER SEQUENCE {SEQUENCE} OWNED BY segment_changes.arrival")
    op.create_index(
        "ix_segment_changes_segment_id_occurred_at",
        "segment_changes",
        ["segment_id", "occurred_at"],
    )
    op.create_index(
        "ix_segment_changes_user_id_segment_id_occurred_at_arrival",
        "segment_changes",
        ["user_id", "segment_id", "occurred_at", "arrival"],
    )
    for view in (MEMBERS, SIZES, DAYS, SUMMARY):
        op.execute(view)
    for view, comment in COMMENTS.items():
        op.execute(sa.text(f"COMMENT ON VIEW {view} IS '{comment}'"))  # constants


def downgrade() -> None:
    """Drop the views and the table (its sequence goes with it)."""
    for view in ("segment_summary", "segment_change_days", "segment_sizes", "segment_members"):
        op.execute(f"DROP VIEW {view}")
    op.drop_table("segment_changes")
