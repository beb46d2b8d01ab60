"""Peer distributions from PostgreSQL: 101 cut points per group and metric.

Read from the latest snapshot of each user (the ``user_analytics`` view) active within
``ACTIVE_DAYS``: every user together (``all``), and each live segment with at least
``MIN_PEERS`` members. PostgreSQL's ``percentile_cont`` gives the cut points, so nothing
but the distributions leaves the database. ``nudge peers refresh`` publishes them for the
workers (``schemas.peers``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text

from schemas.peers import CUT_POINTS, MIN_PEERS, PeerDistributions, PeerGroup
from schemas.settings import Settings
from sinks.migrate import database_engine

#: Users whose newest event is older than this are left out of the distributions.
ACTIVE_DAYS = 30

#: Metric -> its column in ``user_analytics``.
COLUMNS = {
    "spend_week": "spend_week",
    "savings_rate": "savings_rate_pct",
    "engagement": "engagement_score",
}

_FRACTIONS = ", ".join(f"{i / (CUT_POINTS - 1):.2f}" for i in range(CUT_POINTS))

_QUERY = """
WITH latest AS (
    SELECT * FROM user_analytics
    WHERE last_activity_at >= :since
), grouped AS (
    SELECT 'all' AS peer_group, latest.* FROM latest
    UNION ALL
    SELECT segment AS peer_group, latest.* FROM latest, unnest(latest.segments) AS segment
)
SELECT peer_group, count(*) AS users, {metrics}
FROM grouped
GROUP BY peer_group
HAVING count(*) >= :least
ORDER BY peer_group = 'all', peer_group
"""


def peer_distributions(settings: Settings, now: datetime) -> PeerDistributions:
    """Return the distributions of the users active in the last ``ACTIVE_DAYS``."""
    metrics = ", ".join(
        f"percentile_cont(ARRAY[{_FRACTIONS}]) WITHIN GROUP (ORDER BY {column}) AS {metric}"
        for metric, column in COLUMNS.items()
    )
    query = text(_QUERY.format(metrics=metrics))
    since = now.timestamp() - ACTIVE_DAYS * 86_400
    engine = database_engine(settings)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                query, {"since": datetime.fromtimestamp(since, now.tzinfo), "least": MIN_PEERS}
            ).mappings()
            groups = {row["peer_group"]: _group(row) for row in rows}
    finally:
        engine.dispose()
    return PeerDistributions(computed_at=now, groups=groups)


def _group(row: Any) -> PeerGroup:
    metrics = {
        metric: [round(float(v), 4) for v in row[metric]]
        for metric in COLUMNS
        if row[metric] is not None and None not in row[metric]
    }
    return PeerGroup(users=int(row["users"]), metrics=metrics)
