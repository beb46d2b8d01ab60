"""Reading a user's risk trend and choosing the tier and the intervention it calls for.

Two rules (``InterventionPolicy.trend_rule``, ``NUDGE_RISK_TREND_RULE``):

``specification`` (the default), the intervention engine's rule exactly as the product's
specification gives it:

- fewer than two scores: unknown, no intervention;
- recent = mean of the newest two of the last five, older = mean of the oldest two,
  change = recent - older;
- recent >= 0.60: increasing if change > 0.05, else stable_high;
- recent < 0.60: increasing if change > 0.10, decreasing if change < -0.10, else
  stable_low;
- only increasing or stable_high calls for help: critical >= 0.80 payment_assistance,
  high >= 0.60 flexible_payment, medium >= 0.40 with an increasing trend
  payment_reminder, otherwise nothing.

``early_warning``, Nudge's first rule, kept as a named alternative (docs/interventions.md
says where and why they differ): it reads a single score, compares the newest two with
*all* the older ones, counts one jump of 0.10 as increasing, and offers financial
wellness resources to the low tier (>= 0.20) and to a medium score without a rise.

Tiers come from ``InterventionPolicy`` thresholds, not from the producer's ``level``.
Comparisons allow ``TOLERANCE``: "at least" counts a value within it of the threshold,
"more than" needs to clear it by more, so a decimal edge (0.65 - 0.60 is 0.0499... in
binary) falls on the side its decimal value does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import fsum

from schemas.commands import InterventionType, RiskTrend
from streams.core.risk.policy import TOLERANCE, InterventionPolicy, RiskLevel

#: Scores the specification's rule reads: the last five.
SPECIFICATION_WINDOW = 5


@dataclass(frozen=True, slots=True)
class TrendReading:
    """The trend of a user's scores and the numbers behind it."""

    trend: RiskTrend
    recent: float
    """Mean of the newest two scores (the only score when there is one)."""
    older: float | None
    """The older side: the mean of the oldest two (``specification``) or of all scores
    before the newest two (``early_warning``; the first score when there are two)."""
    delta: float
    """How far the recent side is above the older side (0 with one score)."""


def read_trend(scores: Sequence[float], policy: InterventionPolicy) -> TrendReading:
    """Read the trend of a user's scores, oldest first, by the policy's rule.

    Args:
        scores: At least one score, oldest first.
        policy: The rule and its thresholds.

    Raises:
        ValueError: ``scores`` is empty.
    """
    if not scores:
        msg = "a trend needs at least one score"
        raise ValueError(msg)
    if policy.trend_rule == "early_warning":
        return _early_warning(scores, policy)
    return _specification(scores[-SPECIFICATION_WINDOW:], policy)


def _specification(scores: Sequence[float], policy: InterventionPolicy) -> TrendReading:
    if len(scores) < 2:
        return TrendReading(RiskTrend.UNKNOWN, recent=scores[-1], older=None, delta=0.0)
    recent = fsum(scores[-2:]) / 2
    older = fsum(scores[:2]) / 2
    delta = recent - older
    if _at_least(recent, policy.trend_high):
        high = _more_than(delta, policy.trend_change)
        trend = RiskTrend.INCREASING if high else RiskTrend.STABLE_HIGH
    elif _more_than(delta, policy.trend_change_low):
        trend = RiskTrend.INCREASING
    elif _more_than(-delta, policy.trend_change_low):
        trend = RiskTrend.DECREASING
    else:
        trend = RiskTrend.STABLE_LOW
    return TrendReading(trend, recent=recent, older=older, delta=delta)


def _early_warning(scores: Sequence[float], policy: InterventionPolicy) -> TrendReading:
    """Read the trend by Nudge's first rule.

    One score: stable_high or stable_low by ``trend_high``. Two: delta = newest -
    previous, level their mean. More: recent = mean of the newest two, older = mean of
    the rest. Increasing if delta >= ``trend_change`` or the newest rose ``jump`` over the
    one before; decreasing if delta <= -``trend_change``; else stable_high or stable_low.
    """
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

    Only an increasing or stable_high trend calls for an intervention. Under
    ``early_warning`` a medium score without an increasing trend, or a low one, gets
    financial wellness resources; the specification has no such tier.
    """
    if trend not in (RiskTrend.INCREASING, RiskTrend.STABLE_HIGH):
        return None
    if _at_least(score, policy.critical):
        return "critical", InterventionType.PAYMENT_ASSISTANCE
    if _at_least(score, policy.high):
        return "high", InterventionType.FLEXIBLE_PAYMENT
    if _at_least(score, policy.medium) and trend is RiskTrend.INCREASING:
        return "medium", InterventionType.PAYMENT_REMINDER
    if policy.trend_rule == "early_warning" and _at_least(score, policy.low):
        return "low", InterventionType.FINANCIAL_WELLNESS
    return None


def _at_least(value: float, threshold: float) -> bool:
    return value - threshold > -TOLERANCE


def _more_than(value: float, threshold: float) -> bool:
    return value - threshold > TOLERANCE
