"""Reading a user's risk trend and choosing the tier and the intervention it calls for.

Tiers come from ``InterventionPolicy`` thresholds, not from the producer's ``level``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import fsum

from schemas.commands import InterventionType, RiskTrend
from streams.core.risk.policy import TOLERANCE, InterventionPolicy, RiskLevel


@dataclass(frozen=True, slots=True)
class TrendReading:
    """The trend of a user's scores and the numbers behind it."""

    trend: RiskTrend
    recent: float
    """Mean of the newest two scores (the only score when there is one)."""
    older: float | None
    """Mean of the scores before the newest two (the first score when there are two)."""
    delta: float
    """How far the recent side is above the older side (0 with one score)."""


def read_trend(scores: Sequence[float], policy: InterventionPolicy) -> TrendReading:
    """Read the trend of a user's scores, oldest first.

    With one score: stable_high if it is at least ``trend_high``, else stable_low.
    With n >= 3: recent = mean of the newest two, older = mean of the rest, delta =
    recent - older. With n = 2 there is no "rest": delta = newest - previous, and the
    level is still the mean of the two. Then: increasing if delta >= ``trend_change`` or
    the newest score is at least ``jump`` above the one before; else decreasing if delta
    <= -``trend_change``; else stable_high if recent >= ``trend_high``, else stable_low.

    Args:
        scores: At least one score, oldest first.
        policy: The thresholds.

    Raises:
        ValueError: ``scores`` is empty.
    """
    if not scores:
        msg = "a trend needs at least one score"
        raise ValueError(msg)
    newest = scores[-1]
    stable = RiskTrend.STABLE_HIGH if _at_least(newest, policy.trend_high) else RiskTrend.STABLE_LOW
    if len(scores) == 1:
        return TrendReading(stable, recent=newest, older=None, delta=0.0)
    recent = fsum(scores[-2:]) / 2
    older = scores[0] if len(scores) == 2 else fsum(scores[:-2]) / (len(scores) - 2)
    delta = newest - older if len(scores) == 2 else recent - older
    if _at_least(delta, policy.trend_change) or _at_least(newest - scores[-2], policy.jump):
        trend = RiskTrend.INCREASING
    elif _at_least(-delta, policy.trend_change):
        trend = RiskTrend.DECREASING
    elif _at_least(recent, policy.trend_high):
        trend = RiskTrend.STABLE_HIGH
    else:
        trend = RiskTrend.STABLE_LOW
    return TrendReading(trend, recent=recent, older=older, delta=delta)


def choose_tier(
    score: float, trend: RiskTrend, policy: InterventionPolicy
) -> tuple[RiskLevel, InterventionType] | None:
    """Return the risk level and intervention type for a score, or ``None`` for no help.

    Only an increasing or stable_high trend calls for an intervention. A medium score
    without an increasing trend is treated as low (financial wellness).
    """
    if trend not in (RiskTrend.INCREASING, RiskTrend.STABLE_HIGH):
        return None
    if _at_least(score, policy.critical):
        return "critical", InterventionType.PAYMENT_ASSISTANCE
    if _at_least(score, policy.high):
        return "high", InterventionType.FLEXIBLE_PAYMENT
    if _at_least(score, policy.medium) and trend is RiskTrend.INCREASING:
        return "medium", InterventionType.PAYMENT_REMINDER
    if _at_least(score, policy.low):
        return "low", InterventionType.FINANCIAL_WELLNESS
    return None


def _at_least(value: float, threshold: float) -> bool:
    return value - threshold > -TOLERANCE
