"""``cohort_value``: a command's value is its first converted outcome that has a value.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-11 00:00:00+00:00

0009 took each command's first converted outcome, value or not: a conversion reported
first without a value and again with one counted nothing. The effectiveness views
(``command_outcomes.conversion_value``, 0002) take the first converted outcome with a
value; the cohorts now count the same. Same columns, so the view is replaced in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

#: 0009's view with one change: ``first_conversions`` skips outcomes without a value.
VALUE = """
CREATE OR REPLACE VIEW cohort_value AS
WITH purchase_value AS (
    SELECT user_id, sum(amount) AS value FROM purchases GROUP BY user_id
), first_conversions AS (
    SELECT DISTINCT ON (user_id, command_id) user_id, value
    FROM outcomes
    WHERE outcome = 'converted'{valued}
    ORDER BY user_id, command_id, occurred_at, event_id
), outcome_value AS (
    SELECT user_id, sum(value) AS value FROM first_conversions GROUP BY user_id
), converters AS (
    SELECT user_id FROM purchases
    UNION SELECT user_id FROM outcomes WHERE outcome = 'converted'
    UNION SELECT user_id FROM experiment_conversions
)
SELECT c.cohort_week,
       count(*) AS users,
       count(v.user_id) AS converted_users,
       count(v.user_id)::float8 / count(*) AS converted_share,
       coalesce(sum(p.value), 0) + coalesce(sum(o.value), 0) AS lifetime_value,
       round((coalesce(sum(p.value), 0) + coalesce(sum(o.value), 0)) / count(*), 4)
           AS value_per_user
FROM user_cohorts AS c
LEFT JOIN converters AS v ON v.user_id = c.user_id
LEFT JOIN purchase_value AS p ON p.user_id = c.user_id
LEFT JOIN outcome_value AS o ON o.user_id = c.user_id
GROUP BY c.cohort_week
"""

COMMENT = (
    "Per cohort week: users, users who converted (a purchase, a converted outcome or an "
    "experiment conversion), lifetime value (purchase amounts plus the first converted "
    "value of each command that has one, whatever the currency) and value per user (to 4 "
    "decimals, as money is kept)."
)


def upgrade() -> None:
    """Replace the view: the first converted outcome with a value counts."""
    op.execute(sa.text(VALUE.format(valued=" AND value IS NOT NULL")))
    op.execute(sa.text(f"COMMENT ON VIEW cohort_value IS '{COMMENT}'"))  # a constant


def downgrade() -> None:
    """Put 0009's view back."""
    op.execute(sa.text(VALUE.format(valued="")))
    op.execute(sa.text(f"COMMENT ON VIEW cohort_value IS '{COMMENT.replace(' that has one', '')}'"))
