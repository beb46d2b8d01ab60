"""Peer comparison: the savings rate, the peer group, and percentiles from cut points."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.peers import ALL_USERS, PeerDistributions, PeerGroup, validate_peers
from streams.core.features.peers import percentile
from streams.core.features.registry import scheduled_context
from streams.core.state.record import UserState
from streams.core.units import day_number

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)
LINEAR = [float(i) for i in range(101)]  # value i at the i-th percentile
FLAT = [0.0] * 50 + [float(i) for i in range(51)]  # half the peers at 0


@pytest.mark.parametrize(
    ("points", "value", "expected"),
    [
        (LINEAR, -5.0, 0.0),
        (LINEAR, 0.0, 0.0),
        (LINEAR, 42.0, 42.0),
        (LINEAR, 42.5, 42.5),
        (LINEAR, 100.0, 100.0),
        (LINEAR, 250.0, 100.0),
        (FLAT, 0.0, 25.0),  # the middle of the run of equal cut points
        (FLAT, 0.5, 50.5),
    ],
)
def test_percentile_from_cut_points(points: list[float], value: float, expected: float) -> None:
    assert percentile(points, value) == expected


def peers(*groups: str) -> PeerDistributions:
    metrics = {"engagement": [float(i) / 2 for i in range(101)], "spend_week": LINEAR}
    return PeerDistributions(
        computed_at=NOW,
        groups={g: PeerGroup(users=50, metrics=metrics) for g in (*groups, ALL_USERS)},
    )


def user(segments: tuple[str, ...] = (), spent_per_day: int = 0) -> UserState:
    today = day_number(NOW)
    state = UserState(segments=dict.fromkeys(segments, 0), watermark=NOW.timestamp())
    state.daily_spend = {today - d: spent_per_day for d in range(7)}
    return state


def test_a_user_is_compared_in_their_first_segment_with_a_distribution_else_with_all() -> None:
    distributions = peers("bigs", "savers")
    ctx = scheduled_context("u", user(("savers", "bigs")), NOW, peers=distributions)
    assert ctx.value("peer_group") == "bigs"  # the distributions' order decides
    assert (
        scheduled_context("u", user(("other",)), NOW, peers=distributions).value("peer_group")
        == ALL_USERS
    )
    assert scheduled_context("u", user(), NOW).value("peer_group") is None  # no refresh yet


def test_spend_percentile_reads_the_week_s_spending() -> None:
    ctx = scheduled_context("u", user(spent_per_day=1000), NOW, peers=peers())  # $70 a week
    assert ctx.value("spend_week") == 70.0
    assert ctx.value("spend_week_peer_pct") == 70.0
    assert ctx.value("savings_rate_peer_pct") is None  # no income baseline yet


def test_savings_rate_is_the_usual_income_not_spent_over_30_days() -> None:
    state = user(spent_per_day=0)
    state.daily_spend = {day_number(NOW) - d: 5_000 for d in range(30)}  # $1,500 in 30 days
    month = NOW.year * 12 + NOW.month - 1
    state.income_since = month - 5
    state.monthly_income = {month - m: 300_000 for m in range(1, 5)}  # $3,000 a month
    assert scheduled_context("u", state, NOW).value("savings_rate_pct") == 50.0


def test_bad_distributions_are_refused_with_the_field() -> None:
    problems = validate_peers({"computed_at": NOW.isoformat(),
                               "groups": {"all": {"users": 3, "metrics": {}}}})  # fmt: skip
    assert problems == ["groups.all.users: Input should be greater than or equal to 20"]
    descending = {"engagement": list(reversed(LINEAR))}
    group = {"users": 30, "metrics": descending}
    problems = validate_peers({"computed_at": NOW.isoformat(), "groups": {"all": group}})
    assert problems == ["groups.all: metrics.engagement: 101 cut points in ascending order"]
