"""Peer comparison: a savings rate, and where the user stands among similar users.

The percentiles read the peer distributions in force (``schemas.peers``, refreshed from
PostgreSQL by ``nudge peers refresh``) for the user's peer group: the first of their live
segments with a distribution, else ``all``. ``None`` before any refresh, or when the user
has no value of the metric. "Spends more than 80 % of similar users" is
``spend_week_peer_pct gte 80``.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping

from schemas.peers import ALL_USERS, PEER_METRICS, PeerGroup
from streams.core.features.context import Feature, FeatureContext, Value
from streams.core.units import day_number

#: Days of spending the savings rate sets against a month's usual income.
SAVINGS_DAYS = 30


def _savings_rate(ctx: FeatureContext) -> Value:
    income = ctx.value("income_month_baseline")
    if not isinstance(income, float) or income <= 0:
        return None
    today = day_number(ctx.at)
    spent = sum(
        ctx.state.daily_spend.get(day, 0) for day in range(today - SAVINGS_DAYS + 1, today + 1)
    )
    return round((income - spent / 100) / income * 100, 1)


def _group(ctx: FeatureContext) -> tuple[str, PeerGroup] | None:
    peers = ctx.peers
    if peers is None:
        return None
    for group in peers.order:
        if group in ctx.state.segments:
            return group, peers.groups[group]
    everyone = peers.groups.get(ALL_USERS)
    return None if everyone is None else (ALL_USERS, everyone)


def _peer_group(ctx: FeatureContext) -> Value:
    found = _group(ctx)
    return None if found is None else found[0]


def percentile(points: list[float], value: float) -> float:
    """Return where ``value`` falls among a distribution's 101 cut points (0-100).

    Between two cut points it is interpolated; on a run of equal ones (many peers with
    the same value) it is the middle of the run.
    """
    low, high = bisect.bisect_left(points, value), bisect.bisect_right(points, value)
    if low < high:
        return (low + high - 1) / 2
    if low == 0:
        return 0.0
    if low == len(points):
        return 100.0
    below, above = points[low - 1], points[low]
    return round(low - 1 + (value - below) / (above - below), 1)


def _percentile_of(metric: str) -> Feature:
    feature = PEER_METRICS[metric]

    def compute(ctx: FeatureContext) -> Value:
        found = _group(ctx)
        value = ctx.value(feature)
        if found is None or not isinstance(value, float):
            return None
        points = found[1].metrics.get(metric)  # type: ignore[call-overload]
        return None if points is None else percentile(points, value)

    return compute


COMPUTE: Mapping[str, Feature] = {
    "savings_rate_pct": _savings_rate,
    "peer_group": _peer_group,
    "spend_week_peer_pct": _percentile_of("spend_week"),
    "savings_rate_peer_pct": _percentile_of("savings_rate"),
    "engagement_peer_pct": _percentile_of("engagement"),
}
DEPENDS: Mapping[str, tuple[str, ...]] = {
    "savings_rate_pct": ("income_month_baseline",),
    "spend_week_peer_pct": ("spend_week", "peer_group"),
    "savings_rate_peer_pct": ("savings_rate_pct", "peer_group"),
    "engagement_peer_pct": ("engagement_score", "peer_group"),
}
