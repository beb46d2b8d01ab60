"""The online models' figures in each analytics snapshot: forecast, overspend, goal odds.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 18:00:00+00:00

Four nullable columns on ``score_history`` (``spend_forecast_week``,
``forecast_overspend_pct``, ``goal_probability``, ``goal_days_left``: see
``schemas.user_analytics``), and the view ``user_analytics`` made again so it has them
(a view's ``*`` is expanded when the view is made). Snapshots stored before have NULL
there, as a user with too little history has.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COLUMNS = ("spend_forecast_week", "forecast_overspend_pct", "goal_probability", "goal_days_left")

LATEST = """
CREATE VIEW user_analytics AS
SELECT DISTINCT ON (user_id) *
FROM score_history
ORDER BY user_id DESC, as_of DESC, arrival DESC
"""

#: Migration 0008's comment on the view, as it was.
COMMENT = (
    "The latest analytics snapshot of each user: the score_history row with the newest "
    "as_of, and of those the last to arrive; every column is that row''s."
)


def upgrade() -> None:
    """Add the columns and make the view again with them."""
    op.execute("DROP VIEW user_analytics")
    for column in COLUMNS:
        op.add_column("score_history", sa.Column(column, sa.Double(), nullable=True))
    op.execute(LATEST)
    op.execute(sa.text(f"COMMENT ON VIEW user_analytics IS '{COMMENT}'"))  # a constant


def downgrade() -> None:
    """Drop the columns and make the view again without them."""
    op.execute("DROP VIEW user_analytics")
    for column in COLUMNS:
        op.drop_column("score_history", column)
    op.execute(LATEST)
    op.execute(sa.text(f"COMMENT ON VIEW user_analytics IS '{COMMENT}'"))  # a constant
