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


@dataclass(frozen=True, slots=True)
class InterventionPolicy:
    """Every threshold of risk interventions (scores are in [0, 1]).

    Attributes:
        critical: Score from which the tier is critical (payment assistance). 0.80.
        high: Score from which the tier is high (flexible payment). 0.60.
        medium: Score from which, with an increasing trend, the tier is medium (payment
            reminder). Below it, or without a rising trend, the tier is low. 0.40.
        low: Score from which the tier is low (financial wellness); below it, nothing. 0.20.
        trend_high: Mean of the newest two scores from which a stable trend is high. 0.60.
        trend_change: Change of the recent mean over the older one that makes the trend
            increasing (``>=``) or decreasing (``<=`` its negative). 0.05.
        jump: Rise of the newest score over the one before that alone makes the trend
            increasing. 0.10.
        cooloff: No intervention this close (either side, event time) to the last. 7 days.
        missed_payment_window: No intervention this close to a missed payment. 7 days.
        history: Risk scores kept per user. 5.
    """

    critical: float = 0.80
    high: float = 0.60
    medium: float = 0.40
    low: float = 0.20
    trend_high: float = 0.60
    trend_change: float = 0.05
    jump: float = 0.10
    cooloff: timedelta = timedelta(days=7)
    missed_payment_window: timedelta = timedelta(days=7)
    history: int = 5

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.medium <= self.high <= self.critical <= 1:
            msg = "tiers must satisfy 0 <= low <= medium <= high <= critical <= 1"
            raise ValueError(msg)
        if self.history < 1 or self.trend_change < 0 or self.jump < 0:
            msg = "history must be at least 1, trend_change and jump not negative"
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
