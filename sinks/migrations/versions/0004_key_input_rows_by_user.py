"""Key outcomes and missed payments by (user_id, event_id), as the stream deduplicates.

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-03 00:00:00+00:00

An ``event_id`` is unique per user only: the worker keeps each user's recent event ids and
drops a repeat of one of them, so two users whose producers reuse an id both have their
event processed. Keyed by ``event_id`` alone, the second user's outcome or missed payment
was taken for a replay of the first and silently not stored. The views of ``0002`` read
columns, not keys, and stay as they are.

Downgrading fails (unique violation) while two users share an event id in either table:
that is data the old key cannot hold, and the migration does not choose which to delete.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("outcomes", "missed_payments")


def upgrade() -> None:
    """Re-key both tables by ``(user_id, event_id)``."""
    for table in TABLES:
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, ["user_id", "event_id"])


def downgrade() -> None:
    """Key both tables by ``event_id`` again (fails if two users share an event id)."""
    for table in TABLES:
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, ["event_id"])
