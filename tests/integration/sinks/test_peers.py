"""Peer distributions from the latest snapshots in PostgreSQL (``sinks.peers``).

Thirty active users spend 0, 10, ..., 290 a week; ten of them are in ``savers``; one more
user was last active two months ago and is left out. Everyone forms ``all``; ``savers``
(ten) is too small for a distribution of its own; ``bigs`` (twenty of them) has one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.peers import ALL_USERS, CUT_POINTS
from schemas.topics import USERS_ANALYTICS
from sinks.peers import peer_distributions
from sinks.rows import ROUTES, ConsumedMessage, message_row
from sinks.writer import BatchWriter
from streams.core.features.peers import percentile
from tests.integration.sink_harness import user_snapshot

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


def test_distributions_per_group_from_the_latest_snapshots(settings, engine) -> None:
    snapshots = []
    for i in range(30):
        segments = (("savers",) if i < 10 else ()) + (("bigs",) if i >= 10 else ())
        base = user_snapshot(f"u{i}", NOW - timedelta(hours=1), f"c{i}", "exploring",
                             (float(i), 0, 0, 0), segments=segments)  # fmt: skip
        snapshots.append(base.model_copy(update={"spend_week": 10.0 * i, "savings_rate_pct": 5.0}))
    stale = user_snapshot("old", NOW - timedelta(days=60), "c-old", None, (99, 0, 0, 0))
    snapshots.append(stale.model_copy(update={"spend_week": 10_000.0}))
    rows = [
        message_row(
            ConsumedMessage("p.users.analytics", 0, n, b"k", s.model_dump_json().encode()),
            ROUTES[USERS_ANALYTICS],
            NOW,
        )
        for n, s in enumerate(snapshots)
    ]
    BatchWriter(engine, "insert").write(rows, NOW)

    found = peer_distributions(settings, NOW)
    assert list(found.groups) == ["bigs", ALL_USERS]  # savers: ten, too few
    everyone = found.groups[ALL_USERS]
    assert everyone.users == 30  # the user quiet for two months is left out
    spend = everyone.metrics["spend_week"]
    assert len(spend) == CUT_POINTS
    assert (spend[0], spend[50], spend[100]) == (0.0, 145.0, 290.0)
    assert percentile(spend, 145.0) == 50.0
    assert percentile(spend, 290.0) == 100.0
    assert found.groups["bigs"].metrics["engagement"][0] == 10.0
    assert found.groups["bigs"].metrics["savings_rate"][50] == 5.0
