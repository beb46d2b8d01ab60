"""Erasure: the record of each user forgotten, and the indexes that find a user's rows.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10 00:00:00+00:00

- ``erasures``: one row per ``nudge users forget``: its random id, when it was asked and
  done, and how many rows went from each table. No user id, nor any hash of one.
- ``user_id`` indexes on ``experiment_assignments``, ``experiment_conversions`` and
  ``funnel_steps``, the user tables whose indexes did not lead with it: erasing a user
  deletes by ``user_id`` from every table in one transaction, which should not scan them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)

#: Tables that get a ``user_id`` index here.
INDEXED = ("experiment_assignments", "experiment_conversions", "funnel_steps")


def upgrade() -> None:
    """Create ``erasures`` and the ``user_id`` indexes."""
    op.create_table(
        "erasures",
        sa.Column("erasure_id", sa.Text(), nullable=False),
        sa.Column("requested_at", TZ, nullable=False),
        sa.Column("completed_at", TZ, nullable=False),
        sa.Column("rows_by_table", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("erasure_id", name="pk_erasures"),
    )
    for table in INDEXED:
        op.create_index(f"ix_{table}_user_id", table, ["user_id"])


def downgrade() -> None:
    """Drop the indexes and ``erasures`` (and the record of every erasure in it)."""
    for table in INDEXED:
        op.drop_index(f"ix_{table}_user_id", table_name=table)
    op.drop_table("erasures")
