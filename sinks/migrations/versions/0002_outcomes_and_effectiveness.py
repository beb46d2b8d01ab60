"""Outcomes, missed payments and the effectiveness views.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02 00:00:00+00:00

Tables:

- ``outcomes``: every reported outcome of a command (``comms.outcomes``), one row per
  ``event_id``, stored whether or not its command has arrived yet.
- ``missed_payments``: ``behavior.events`` payments with status ``missed``.

Views (the reports read these; they derive everything from the tables above and the
command tables, so the order in which outcomes and commands arrive does not matter):

- ``command_outcomes``: one row per command id with outcomes: the first time of each
  outcome type, the value of the first conversion, and an intervention's response.
- ``intervention_follow_ups``: one row per intervention with the first missed payment in
  the 30 days after it and when those 30 days end.
- ``trigger_effectiveness``, ``template_effectiveness``, ``intervention_effectiveness``:
  counts and rates over the last 7, 30 and 90 days (a ``window_days`` column), relative
  to ``now()`` when queried.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)

#: The windows every effectiveness view reports, in days.
WINDOWS = "SELECT d AS window_days, now() - make_interval(days => d) AS since"
WINDOWS += " FROM (VALUES (7), (30), (90)) AS w (d)"

COMMAND_OUTCOMES = """
CREATE VIEW command_outcomes AS
SELECT
    command_id,
    min(occurred_at) FILTER (WHERE outcome = 'delivered') AS delivered_at,
    min(occurred_at) FILTER (WHERE outcome = 'opened') AS opened_at,
    min(occurred_at) FILTER (WHERE outcome = 'clicked') AS clicked_at,
    min(occurred_at) FILTER (WHERE outcome = 'replied') AS replied_at,
    min(occurred_at) FILTER (WHERE outcome = 'converted') AS converted_at,
    min(occurred_at) FILTER (WHERE outcome = 'opted_out') AS opted_out_at,
    min(occurred_at) FILTER (WHERE outcome = 'accepted_offer') AS accepted_offer_at,
    min(occurred_at) FILTER (WHERE outcome = 'engaged') AS engaged_at,
    min(occurred_at) FILTER (WHERE outcome = 'no_response') AS no_response_at,
    (array_agg(value ORDER BY occurred_at, event_id)
        FILTER (WHERE outcome = 'converted' AND value IS NOT NULL))[1] AS conversion_value,
    CASE
        WHEN bool_or(outcome = 'accepted_offer') THEN 'accepted_offer'
        WHEN bool_or(outcome = 'engaged') THEN 'engaged'
        WHEN bool_or(outcome = 'opted_out') THEN 'opted_out'
        WHEN bool_or(outcome = 'no_response') THEN 'no_response'
    END AS response,
    coalesce(
        min(occurred_at) FILTER (WHERE outcome = 'accepted_offer'),
        min(occurred_at) FILTER (WHERE outcome = 'engaged'),
        min(occurred_at) FILTER (WHERE outcome = 'opted_out'),
        min(occurred_at) FILTER (WHERE outcome = 'no_response')
    ) AS responded_at,
    count(*) AS outcomes
FROM outcomes
GROUP BY command_id
"""

INTERVENTION_FOLLOW_UPS = """
CREATE VIEW intervention_follow_ups AS
SELECT
    i.command_id,
    i.user_id,
    i.intervention_type,
    i.created_at,
    i.created_at + interval '30 days' AS follow_up_ends_at,
    (
        SELECT min(m.occurred_at)
        FROM missed_payments AS m
        WHERE m.user_id = i.user_id
          AND m.occurred_at > i.created_at
          AND m.occurred_at <= i.created_at + interval '30 days'
    ) AS missed_payment_at
FROM interventions AS i
"""

TRIGGER_EFFECTIVENESS = f"""
CREATE VIEW trigger_effectiveness AS
WITH windows AS ({WINDOWS}),
decisions AS (
    SELECT
        w.window_days,
        e.trigger_id,
        count(*) FILTER (WHERE e.outcome = 'fired') AS fired,
        count(*) FILTER (WHERE e.outcome = 'suppressed') AS suppressed
    FROM windows AS w
    JOIN trigger_events AS e ON e.occurred_at >= w.since
    GROUP BY w.window_days, e.trigger_id
),
messages AS (
    SELECT
        w.window_days,
        c.trigger_id,
        count(*) AS sent,
        count(o.delivered_at) AS delivered,
        count(*) FILTER (
            WHERE num_nonnulls(o.opened_at, o.clicked_at, o.replied_at) > 0
        ) AS engaged,
        count(o.converted_at) AS converted,
        count(o.opted_out_at) AS opted_out,
        coalesce(sum(o.conversion_value), 0) AS conversion_value
    FROM windows AS w
    JOIN communications AS c ON c.created_at >= w.since
    LEFT JOIN command_outcomes AS o ON o.command_id = c.command_id
    GROUP BY w.window_days, c.trigger_id
)
SELECT
    window_days,
    trigger_id,
    coalesce(d.fired, 0) AS fired,
    coalesce(d.suppressed, 0) AS suppressed,
    coalesce(m.sent, 0) AS sent,
    coalesce(m.delivered, 0) AS delivered,
    coalesce(m.engaged, 0) AS engaged,
    coalesce(m.converted, 0) AS converted,
    coalesce(m.opted_out, 0) AS opted_out,
    coalesce(m.conversion_value, 0) AS conversion_value,
    d.fired::float8 / nullif(d.fired + d.suppressed, 0) AS send_rate,
    m.engaged::float8 / nullif(m.sent, 0) AS engagement_rate,
    m.converted::float8 / nullif(m.sent, 0) AS conversion_rate
FROM decisions AS d
FULL JOIN messages AS m USING (window_days, trigger_id)
"""

TEMPLATE_EFFECTIVENESS = f"""
CREATE VIEW template_effectiveness AS
WITH windows AS ({WINDOWS})
SELECT
    w.window_days,
    c.trigger_id,
    c.template_id,
    c.template_version,
    c.channel,
    count(*) AS sent,
    count(o.delivered_at) AS delivered,
    count(*) FILTER (
        WHERE num_nonnulls(o.opened_at, o.clicked_at, o.replied_at) > 0
    ) AS engaged,
    count(o.converted_at) AS converted,
    count(o.opted_out_at) AS opted_out,
    coalesce(sum(o.conversion_value), 0) AS conversion_value,
    count(o.delivered_at)::float8 / count(*) AS delivery_rate,
    count(*) FILTER (
        WHERE num_nonnulls(o.opened_at, o.clicked_at, o.replied_at) > 0
    )::float8 / count(*) AS engagement_rate,
    count(o.converted_at)::float8 / count(*) AS conversion_rate,
    count(o.opted_out_at)::float8 / count(*) AS opt_out_rate
FROM windows AS w
JOIN communications AS c ON c.created_at >= w.since
LEFT JOIN command_outcomes AS o ON o.command_id = c.command_id
GROUP BY w.window_days, c.trigger_id, c.template_id, c.template_version, c.channel
"""

INTERVENTION_EFFECTIVENESS = f"""
CREATE VIEW intervention_effectiveness AS
WITH windows AS ({WINDOWS}),
cohort AS (
    SELECT
        w.window_days,
        i.intervention_type,
        count(*) AS interventions,
        count(DISTINCT i.user_id) AS users,
        count(*) FILTER (
            WHERE o.accepted_offer_at IS NOT NULL OR o.engaged_at IS NOT NULL
        ) AS responded,
        count(o.accepted_offer_at) AS accepted,
        count(o.opted_out_at) AS opted_out,
        count(*) FILTER (WHERE i.created_at + interval '30 days' > now()) AS pending
    FROM windows AS w
    JOIN interventions AS i ON i.created_at >= w.since
    LEFT JOIN command_outcomes AS o ON o.command_id = i.command_id
    GROUP BY w.window_days, i.intervention_type
),
followed_up AS (
    SELECT
        w.window_days,
        f.intervention_type,
        count(DISTINCT f.user_id) AS followed_up_users,
        count(DISTINCT f.user_id) FILTER (
            WHERE f.missed_payment_at IS NOT NULL
        ) AS defaulted_users
    FROM windows AS w
    JOIN intervention_follow_ups AS f
      ON f.follow_up_ends_at >= w.since AND f.follow_up_ends_at <= now()
    GROUP BY w.window_days, f.intervention_type
)
SELECT
    window_days,
    intervention_type,
    coalesce(c.interventions, 0) AS interventions,
    coalesce(c.users, 0) AS users,
    coalesce(c.responded, 0) AS responded,
    coalesce(c.accepted, 0) AS accepted,
    coalesce(c.opted_out, 0) AS opted_out,
    c.responded::float8 / nullif(c.interventions, 0) AS response_rate,
    c.accepted::float8 / nullif(c.interventions, 0) AS acceptance_rate,
    coalesce(c.pending, 0) AS pending,
    coalesce(f.followed_up_users, 0) AS followed_up_users,
    coalesce(f.followed_up_users - f.defaulted_users, 0) AS prevented_defaults,
    (f.followed_up_users - f.defaulted_users)::float8
        / nullif(f.followed_up_users, 0) AS prevented_default_rate
FROM cohort AS c
FULL JOIN followed_up AS f USING (window_days, intervention_type)
"""

COMMENTS = {
    "command_outcomes": (
        "Per command id: the first time of each outcome type, the value of the first "
        "conversion, and the response to an intervention (accepted_offer, else engaged, "
        "else opted_out, else no_response; responded_at is when that response first came)."
    ),
    "intervention_follow_ups": (
        "Per intervention: the first missed payment in the 30 days after it (NULL: none so "
        "far) and when those 30 days end."
    ),
    "trigger_effectiveness": (
        "Per window (7, 30, 90 days before now()) and trigger: decisions by occurred_at, "
        "messages by created_at. send_rate = fired / (fired + suppressed); engagement_rate "
        "(opened, clicked or replied) and conversion_rate are per message sent."
    ),
    "template_effectiveness": (
        "Per window, trigger, template, version and channel: messages by created_at and "
        "what came of them; rates are per message sent."
    ),
    "intervention_effectiveness": (
        "Per window and intervention type. interventions .. pending: interventions created "
        "in the window (pending: still inside their 30-day follow-up). followed_up_users .. "
        "prevented_default_rate: users whose 30-day follow-up ended in the window; "
        "prevented = no missed payment in the 30 days after any of those interventions. "
        "prevented_default_rate is NULL (pending) when no follow-up ended in the window."
    ),
}


def _recorded_at() -> sa.Column[Any]:
    return sa.Column("recorded_at", TZ, server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    """Create outcomes and missed_payments, then the views over them."""
    op.create_table(
        "outcomes",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("command_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=True),
        sa.Column("value", sa.Numeric(18, 4), nullable=True),
        sa.Column("occurred_at", TZ, nullable=False),
        _recorded_at(),
        sa.PrimaryKeyConstraint("event_id", name="pk_outcomes"),
    )
    op.create_index("ix_outcomes_command_id", "outcomes", ["command_id"])

    op.create_table(
        "missed_payments",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("amount", sa.Numeric(18, 4), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("account_kind", sa.Text(), nullable=False),
        _recorded_at(),
        sa.PrimaryKeyConstraint("event_id", name="pk_missed_payments"),
    )
    op.create_index(
        "ix_missed_payments_user_id_occurred_at", "missed_payments", ["user_id", "occurred_at"]
    )

    for statement in (
        COMMAND_OUTCOMES,
        INTERVENTION_FOLLOW_UPS,
        TRIGGER_EFFECTIVENESS,
        TEMPLATE_EFFECTIVENESS,
        INTERVENTION_EFFECTIVENESS,
    ):
        op.execute(statement)
    for view, comment in COMMENTS.items():
        op.execute(sa.text(f"COMMENT ON VIEW {view} IS '{comment}'"))


def downgrade() -> None:
    """Drop the views, then outcomes and missed_payments (and every row in them)."""
    for view in (
        "intervention_effectiveness",
        "template_effectiveness",
        "trigger_effectiveness",
        "intervention_follow_ups",
        "command_outcomes",
    ):
        op.execute(f"DROP VIEW {view}")
    op.drop_table("missed_payments")
    op.drop_table("outcomes")
