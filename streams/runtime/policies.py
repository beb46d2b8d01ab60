"""The send, risk-intervention, behaviour-change, visit policies and global control, from settings.

No framework here: the worker's ingest stage and what runs the core outside it (the
bench's Quix Streams peer and its sequential reference, ``streams.bench.core_pass``)
build their policies with these, so they cannot drift apart.
"""

from __future__ import annotations

from datetime import timedelta

from schemas.experiments import ExperimentDefinition
from schemas.settings import Settings
from streams.core.behavior.change import BehaviorPolicy
from streams.core.decisions.send_policy import SendPolicy
from streams.core.risk.policy import InterventionPolicy
from streams.core.state.studies import global_control
from streams.core.state.visits import VisitPolicy


def send_policy(settings: Settings) -> SendPolicy:
    """Return the caps and quiet hours the settings give."""
    return SendPolicy(
        cap_per_channel_day=settings.cap_per_channel_day,
        cap_per_channel_week=settings.cap_per_channel_week,
        quiet_start=settings.quiet_hours_start,
        quiet_end=settings.quiet_hours_end,
        consent_categories=frozenset(filter(None, settings.consent_categories.split(","))),
        category_consent=settings.category_consent,
    )


def intervention_policy(settings: Settings) -> InterventionPolicy:
    """Return the risk-intervention thresholds the settings give."""
    return InterventionPolicy(
        critical=settings.risk_critical,
        high=settings.risk_high,
        medium=settings.risk_medium,
        low=settings.risk_low,
        trend_rule=settings.risk_trend_rule,
        trend_high=settings.risk_high,
        trend_change=settings.risk_trend_change,
        trend_change_low=settings.risk_trend_change_low,
        jump=settings.risk_trend_jump,
        cooloff=timedelta(days=settings.risk_cooloff_days),
        escalation=settings.risk_escalation,
        missed_payment_window=timedelta(days=settings.risk_missed_payment_days),
    )


def behavior_policy(settings: Settings) -> BehaviorPolicy:
    """Return the behaviour-change thresholds the settings give."""
    return BehaviorPolicy(
        rise_pct=settings.behavior_change_rise_pct,
        fall_pct=settings.behavior_change_fall_pct,
        min_baseline=settings.behavior_change_min_baseline,
        enabled=settings.behavior_change,
    )


def visit_policy(settings: Settings) -> VisitPolicy:
    """Return how activity is cut into visits (sessions), from the settings."""
    return VisitPolicy(gap=settings.session_gap_seconds, lateness=settings.session_lateness_seconds)


def global_control_group(settings: Settings) -> ExperimentDefinition | None:
    """Return the global control group the settings ask for, or ``None`` when it is off."""
    if settings.global_control_percent <= 0:
        return None
    return global_control(
        settings.global_control_percent,
        tuple(settings.global_control_conversions.split(",")),
        settings.global_control_window_days * 86_400,
    )
