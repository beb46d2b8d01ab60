"""The model registry and the alert recommender: model versions, alert actions, profiles, recommendations.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 12:00:00+00:00

- ``model_versions``: every trained version of every model (``models.registry``): its
  training window, parameters, metrics (the held-out evaluation), data fingerprint, the
  artefact's path and SHA-256, and its status, ``candidate``, ``active`` or ``retired``;
  at most one ``active`` per model name (a partial unique index).
- ``alert_actions``: ``alert_rule`` events from ``behavior.events`` (created, enabled,
  disabled, deleted), keyed by the event id as the stream deduplicates it: the labels of
  the next training.
- ``alert_profiles``: the latest ``alerts.profiles`` message per user (features and the
  alerts on), replaced only by a newer one, so a replay changes nothing.
- ``alert_recommendations``: ``alerts.recommendations``, keyed by the recommendation id.

And one view, over rows stored once (no count kept in a row the sink updates):

- ``recommendation_acceptance``: per model, version and alert type, the users it was
  recommended to, those who accepted (turned that alert on within 30 days after a
  recommendation), and their share.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
JSON = postgresql.JSONB()


#: How long after a recommendation turning its alert on counts as accepting it, in days.
ACCEPTANCE_DAYS = 30

# A user counts once per model version and alert type however many recommendations they
# got (each answered event may recommend again): accepted if any of them was followed by
# the alert turned on (created or enabled) strictly after it and within the window. An
# action at the very time of the recommendation is the event it answers, not an answer.
ACCEPTANCE = f"""
CREATE VIEW recommendation_acceptance AS
WITH answered AS (
    SELECT r.model_name, r.model_version, r.alert_type, r.user_id, r.created_at,
           EXISTS (
               SELECT 1 FROM alert_actions AS a
               WHERE a.user_id = r.user_id AND a.alert_type = r.alert_type
                 AND a.action IN ('created', 'enabled')
                 AND a.occurred_at > r.created_at
                 AND a.occurred_at <= r.created_at + interval '{ACCEPTANCE_DAYS} days'
           ) AS accepted
    FROM alert_recommendations AS r
)
SELECT model_name, model_version, alert_type,
       count(DISTINCT user_id) AS recommended_users,
       count(DISTINCT user_id) FILTER (WHERE accepted) AS accepted_users,
       (count(DISTINCT user_id) FILTER (WHERE accepted))::float8 / count(DISTINCT user_id)
           AS acceptance_rate,
       min(created_at) AS first_recommended_at,
       max(created_at) AS last_recommended_at
FROM answered
GROUP BY model_name, model_version, alert_type
"""

VIEWS = {
    "recommendation_acceptance": (
        ACCEPTANCE,
        "Per model, model version and alert type: users it was recommended to "
        "(recommended_users), users of them who turned that alert on (an alert_rule "
        f"created or enabled) after a recommendation and within {ACCEPTANCE_DAYS} days of "
        "it (accepted_users), their share (acceptance_rate), and the first and last "
        "recommendation. A user counts once per version and alert type, whatever the "
        f"recommendations; those of the last {ACCEPTANCE_DAYS} days may still be accepted.",
    ),
}


def upgrade() -> None:
    """Create the four tables and the view."""
    op.create_table(
        "model_versions",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("trained_at", TZ, nullable=False),
        sa.Column("window_start", TZ, nullable=True),
        sa.Column("window_end", TZ, nullable=True),
        sa.Column("parameters", JSON, nullable=False),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("data_fingerprint", sa.Text(), nullable=False),
        sa.Column("artefact", sa.Text(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("promoted_at", TZ, nullable=True),
        sa.Column("retired_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("name", "version", name="pk_model_versions"),
        sa.CheckConstraint(
            "status IN ('candidate', 'active', 'retired')", name="ck_model_versions_status"
        ),
    )
    op.create_index(
        "ux_model_versions_one_active",
        "model_versions",
        ["name"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "alert_actions",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("alert_type", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.Text(), nullable=True),
        sa.Column("recommendation_id", sa.Text(), nullable=True),
        sa.Column("recorded_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "event_id", name="pk_alert_actions"),
    )
    op.create_index("ix_alert_actions_alert_type", "alert_actions", ["alert_type"])
    op.create_table(
        "alert_profiles",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("profile_id", sa.Text(), nullable=False),
        sa.Column("as_of", TZ, nullable=False),
        sa.Column("source_event_id", sa.Text(), nullable=False),
        sa.Column("features", JSON, nullable=True),
        sa.Column("enabled", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("recorded_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_alert_profiles"),
    )
    op.create_table(
        "alert_recommendations",
        sa.Column("recommendation_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("alert_type", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("model_name", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("recorded_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("recommendation_id", name="pk_alert_recommendations"),
    )
    op.create_index(
        "ix_alert_recommendations_user_id_alert_type",
        "alert_recommendations",
        ["user_id", "alert_type"],
    )
    for view, (statement, comment) in VIEWS.items():
        op.execute(statement)
        op.execute(sa.text(f"COMMENT ON VIEW {view} IS '{comment}'"))  # constants


def downgrade() -> None:
    """Drop the view and the four tables (and every row in them)."""
    for view in reversed(VIEWS):
        op.execute(f"DROP VIEW {view}")
    for table in ("alert_recommendations", "alert_profiles", "alert_actions", "model_versions"):
        op.drop_table(table)
