"""The risk policy: tier thresholds, trend rules, cool-off, and what each tier offers.

Thresholds are compared with a tolerance of ``1e-9``, so a difference that is 0.05 in
decimal (``0.65 - 0.60``) counts as 0.05 although binary floats make it 0.04999...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Literal

from schemas.commands import InterventionType, Priority
from schemas.events import Channel

#: Binary floats put 0.65 - 0.60 just below 0.05; comparisons allow this much error.
TOLERANCE = 1e-9


RiskLevel = Literal["low", "medium", "high", "critical"]

#: Tiers from least to most help: a higher one breaks through the cool-off (escalation).
TIER_RANK: Mapping[str, int] = MappingProxyType({"low": 0, "medium": 1, "high": 2, "critical": 3})

#: How the trend is read and the tier chosen (``NUDGE_RISK_TREND_RULE``):
#: ``specification``, the intervention engine's rule as the specification gives it (the
#: default); ``early_warning``, Nudge's first rule, which reacts to one score and to a
#: single jump and has a financial_wellness tier (see docs/interventions.md).
TrendRule = Literal["specification", "early_warning"]
TREND_RULES: tuple[TrendRule, ...] = ("specification", "early_warning")


@dataclass(frozen=True, slots=True)
class InterventionPolicy:
    """Every threshold of risk interventions (scores are in [0, 1]).

    Attributes:
        critical: Score from which the tier is critical (payment assistance). 0.80.
        high: Score from which the tier is high (flexible payment). 0.60.
        medium: Score from which, with an increasing trend, the tier is medium (payment
            reminder). 0.40.
        low: ``early_warning`` only: score from which the tier is low (financial
            wellness); below it, nothing. 0.20.
        trend_rule: ``specification`` or ``early_warning`` (``TrendRule``).
        trend_high: Recent mean (of the newest two scores) from which the trend is read
            against ``trend_change`` and a steady one is stable_high. 0.60.
        trend_change: ``specification``: with a recent mean at or above ``trend_high``, a
            change above this is increasing. ``early_warning``: a change of at least this
            is increasing, of at most its negative decreasing. 0.05.
        trend_change_low: ``specification``: with a recent mean below ``trend_high``, a
            change above this is increasing, below its negative decreasing. 0.10.
        jump: ``early_warning`` only: rise of the newest score over the one before that
            alone makes the trend increasing. 0.10.
        cooloff: No intervention this close (either side, event time) to the last. 7 days.
        escalation: A tier higher than the last intervention's breaks through the cool-off.
        missed_payment_window: No intervention this close to a missed payment. 7 days.
        history: Risk scores kept per user. 5.
    """

    critical: float = 0.80
    high: float = 0.60
    medium: float = 0.40
    low: float = 0.20
    trend_rule: TrendRule = "specification"
    trend_high: float = 0.60
    trend_change: float = 0.05
    trend_change_low: float = 0.10
    jump: float = 0.10
    cooloff: timedelta = timedelta(days=7)
    escalation: bool = True
    missed_payment_window: timedelta = timedelta(days=7)
    history: int = 5

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.medium <= self.high <= self.critical <= 1:
            msg = "tiers must satisfy 0 <= low <= medium <= high <= critical <= 1"
            raise ValueError(msg)
        if self.history < 1 or min(self.trend_change, self.trend_change_low, self.jump) < 0:
            msg = "history must be at least 1, trend_change(_low) and jump not negative"
            raise ValueError(msg)
        if self.trend_rule not in TREND_RULES:
            msg = f"trend_rule must be one of {', '.join(TREND_RULES)}, not {self.trend_rule!r}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class InterventionPlan:
    """What one intervention type does: how urgently, how, by when, on which channels."""

    urgency: Priority
    channels: tuple[Channel, ...]
    actions: tuple[str, ...]
    timeline: str


PLANS: Mapping[InterventionType, InterventionPlan] = MappingProxyType(
    {
        InterventionType.PAYMENT_ASSISTANCE: InterventionPlan(
            Priority.CRITICAL,
            (Channel.PHONE, Channel.EMAIL),
            (
                "call the customer to talk through their situation",
                "offer a payment holiday or a reduced-payment plan",
                "waive late fees while a plan is agreed",
                "refer to free, confidential debt advice",
            ),
            "contact within 24 hours",
        ),
        InterventionType.FLEXIBLE_PAYMENT: InterventionPlan(
            Priority.HIGH,
            (Channel.EMAIL, Channel.SMS, Channel.IN_APP),
            (
                "offer to move the payment date closer to payday",
                "offer to split the next payment into instalments",
            ),
            "reach out within 3-5 days",
        ),
        InterventionType.PAYMENT_REMINDER: InterventionPlan(
            Priority.MEDIUM,
            (Channel.EMAIL, Channel.IN_APP),
            ("remind of the next payment", "offer autopay or a due-date reminder"),
            "remind within 7 days",
        ),
        InterventionType.FINANCIAL_WELLNESS: InterventionPlan(
            Priority.LOW,
            (Channel.EMAIL, Channel.IN_APP),
            ("share budgeting and emergency-fund resources", "offer a free financial check-in"),
            "share resources within 14 days",
        ),
    }
)
