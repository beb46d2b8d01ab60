"""Initial sink tables: trigger_events, communications, interventions, dead_letters.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00+00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _recorded_at() -> sa.Column[Any]:
    return sa.Column("recorded_at", TZ, server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    """Create the four sink tables and their indexes."""
    op.create_table(
        "trigger_events",
        sa.Column("decision_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("trigger_id", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("source_event_id", sa.Text(), nullable=True),
        sa.Column("event_type", sa.Text(), nullable=True),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("features", postgresql.JSONB(), nullable=False),
        sa.Column("command_ids", postgresql.ARRAY(sa.Text()), nullable=False),
        _recorded_at(),
        sa.PrimaryKeyConstraint("decision_id", name="pk_trigger_events"),
    )
    op.create_index(
        "ix_trigger_events_trigger_id_occurred_at", "trigger_events", ["trigger_id", "occurred_at"]
    )
    op.create_index("ix_trigger_events_user_id", "trigger_events", ["user_id"])

    op.create_table(
        "communications",
        sa.Column("command_id", sa.Text(), nullable=False),
        sa.Column("decision_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("source_event_id", sa.Text(), nullable=True),
        sa.Column("trigger_id", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("template_id", sa.Text(), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("variables", postgresql.JSONB(), nullable=False),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("send_at", TZ, nullable=False),
        sa.Column("experiment", sa.Text(), nullable=True),
        sa.Column("variant", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        _recorded_at(),
        sa.Column("delivered_at", TZ, nullable=True),
        sa.Column("opened_at", TZ, nullable=True),
        sa.Column("clicked_at", TZ, nullable=True),
        sa.Column("replied_at", TZ, nullable=True),
        sa.Column("converted_at", TZ, nullable=True),
        sa.Column("opted_out_at", TZ, nullable=True),
        sa.Column("conversion_value", sa.Numeric(18, 4), nullable=True),
        sa.PrimaryKeyConstraint("command_id", name="pk_communications"),
    )
    op.create_index(
        "ix_communications_trigger_id_created_at", "communications", ["trigger_id", "created_at"]
    )
    op.create_index("ix_communications_user_id", "communications", ["user_id"])
    op.create_index("ix_communications_decision_id", "communications", ["decision_id"])

    op.create_table(
        "interventions",
        sa.Column("command_id", sa.Text(), nullable=False),
        sa.Column("decision_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("source_event_id", sa.Text(), nullable=True),
        sa.Column("intervention_type", sa.Text(), nullable=False),
        sa.Column("urgency", sa.Text(), nullable=False),
        sa.Column("actions", postgresql.JSONB(), nullable=False),
        sa.Column("timeline", sa.Text(), nullable=False),
        sa.Column("channels", postgresql.JSONB(), nullable=False),
        sa.Column("messages", postgresql.JSONB(), nullable=False),
        sa.Column("risk_score", sa.Double(), nullable=False),
        sa.Column("risk_level", sa.Text(), nullable=False),
        sa.Column("trend", sa.Text(), nullable=False),
        sa.Column("drivers", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        _recorded_at(),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("responded_at", TZ, nullable=True),
        sa.Column("missed_payment_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("command_id", name="pk_interventions"),
    )
    op.create_index(
        "ix_interventions_intervention_type_created_at",
        "interventions",
        ["intervention_type", "created_at"],
    )
    op.create_index("ix_interventions_user_id", "interventions", ["user_id"])

    op.create_table(
        "dead_letters",
        sa.Column("dead_letter_id", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.Text(), nullable=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("failed_at", TZ, nullable=False),
        _recorded_at(),
        sa.PrimaryKeyConstraint("dead_letter_id", name="pk_dead_letters"),
    )
    op.create_index("ix_dead_letters_topic_kind", "dead_letters", ["topic", "kind"])


def downgrade() -> None:
    """Drop the four sink tables (and every row in them)."""
    for table in ("dead_letters", "interventions", "communications", "trigger_events"):
        op.drop_table(table)
