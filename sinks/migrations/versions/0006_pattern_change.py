"""Decisions keep the labels and the insight when they are pattern changes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 00:00:00+00:00

A ``pattern_change`` decision (``schemas.records.PatternChange``) names the label before,
the label after and the rule's insight. They are kept as JSON in a nullable column of
``trigger_events`` (NULL for every other decision); the view ``pattern_changes`` gives
them as columns.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

VIEW = """
CREATE VIEW pattern_changes AS
SELECT decision_id,
       user_id,
       occurred_at,
       pattern_change ->> 'from_label' AS from_label,
       pattern_change ->> 'to_label' AS to_label,
       pattern_change ->> 'insight' AS insight,
       recorded_at
FROM trigger_events
WHERE pattern_change IS NOT NULL
"""

COMMENT = (
    "One row per pattern change decision: the label before and after (high_intent, "
    "qualified_interest, researching, exploring, at_risk) and the insight of the rule."
)


def upgrade() -> None:
    """Add ``trigger_events.pattern_change`` and the ``pattern_changes`` view."""
    op.add_column(
        "trigger_events",
        sa.Column("pattern_change", postgresql.JSONB(none_as_null=True), nullable=True),
    )
    op.execute(VIEW)
    op.execute(sa.text(f"COMMENT ON VIEW pattern_changes IS '{COMMENT}'"))  # a constant


def downgrade() -> None:
    """Drop the view and the column."""
    op.execute("DROP VIEW pattern_changes")
    op.drop_column("trigger_events", "pattern_change")
