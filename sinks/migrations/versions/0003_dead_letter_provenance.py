"""Dead letters say what was redacted or cut, and describe the original.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 00:00:00+00:00

The intake no longer keeps secrets or card numbers in dead letters, and keeps only the
head of a value too large for a Kafka record. Four columns say so: the original value's
length in bytes and SHA-256, and whether the stored value was redacted or truncated.
Letters stored before this revision have NULL length and hash, and false flags.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the provenance columns to ``dead_letters``."""
    op.add_column("dead_letters", sa.Column("value_length", sa.Integer(), nullable=True))
    op.add_column("dead_letters", sa.Column("value_sha256", sa.Text(), nullable=True))
    op.add_column(
        "dead_letters",
        sa.Column("redacted", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "dead_letters",
        sa.Column("truncated", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    """Drop the provenance columns."""
    for column in ("truncated", "redacted", "value_sha256", "value_length"):
        op.drop_column("dead_letters", column)
