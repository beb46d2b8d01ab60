"""Global online models' checkpoints: every one the workers write to ``models.checkpoints``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 00:00:00+00:00

- ``model_checkpoints``: one row per model, input partition and sequence: when it was
  taken, the partition's events learned from in total, and the model's state (JSON). The
  topic is compacted (each partition's newest); this table keeps the history, and
  ``nudge models list`` reads each model's newest per partition from it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``model_checkpoints``."""
    op.create_table(
        "model_checkpoints",
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("taken_at", TZ, nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("state", postgresql.JSONB(), nullable=False),
        sa.Column("recorded_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("model", "partition", "sequence", name="pk_model_checkpoints"),
    )


def downgrade() -> None:
    """Drop ``model_checkpoints`` (and every checkpoint in it)."""
    op.drop_table("model_checkpoints")
