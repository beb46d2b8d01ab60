"""Risk interventions: from a user's risk score to one supportive intervention command.

``decide_intervention`` notes a ``risk_score`` event into the user's ``RiskMemory``
(``streams.core.state.risk_memory``), reads the trend and picks a tier and an intervention
type (``trend``, thresholds in ``policy``), applies the cool-off, the missed-payment
exclusion and consent, and returns the decision record and, when it fires, a
``StartIntervention`` command with one rendered message per channel (``messages``). Ids
derive from the event, so running it again on the same input gives the same output.

Choices where the design is silent:

* The newest score speaks for the user: a late score older than one already noted is
  folded into the trend history but decides nothing (the newer one already did).
* Tiers come from ``InterventionPolicy`` thresholds, not from the producer's ``level``.
* The cool-off and the missed-payment window count both ways in event time, as the
  trigger cooldown does: topics are not ordered with each other, so an event dated just
  after the risk score is as close to it as one dated just before.
* Escalation (``InterventionPolicy.escalation``): inside the cool-off, a tier higher than
  the last intervention's fires anyway, recorded with the reason ``escalated``, and starts
  a new cool-off at its tier; the same or a lower tier is held back (``cooldown``). A
  missed payment holds back every tier, escalated or not.
* Thresholds are compared with a tolerance of ``1e-9``, so a difference that is 0.05 in
  decimal (``0.65 - 0.60``) counts as 0.05 although binary floats make it 0.04999...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from schemas.commands import (
    ChannelMessage,
    InterventionType,
    RiskTrend,
    StartIntervention,
)
from schemas.events import Channel, Event, RiskScore
from schemas.ids import command_id, decision_id
from schemas.records import (
    RISK_INTERVENTION_TRIGGER_ID,
    Outcome,
    SuppressionReason,
    TriggerDecision,
)
from streams.core.rendering import Catalogue
from streams.core.risk.messages import intervention_catalogue, message_values, render_messages
from streams.core.risk.policy import PLANS, TIER_RANK, InterventionPolicy, RiskLevel
from streams.core.risk.trend import TrendReading, choose_tier, read_trend
from streams.core.state.risk_memory import RiskMemory, note_risk_score
from streams.core.units import SECONDS_PER_DAY

#: The ``channel`` part of the command id: one command per firing carries every channel.
COMMAND_CHANNEL = "intervention"


@dataclass(frozen=True, slots=True)
class RiskResult:
    """What one risk score led to.

    Attributes:
        decision: Fired or suppressed; ``None`` when no intervention was called for.
        command: The intervention to start, when the decision fired.
        trend: The trend read, ``None`` for a late score that decided nothing.
        risk_level: The tier, when an intervention was called for.
    """

    decision: TriggerDecision | None = None
    command: StartIntervention | None = None
    trend: RiskTrend | None = None
    risk_level: RiskLevel | None = None


def decide_intervention(
    memory: RiskMemory,
    event: Event,
    profile: Mapping[str, Any],
    policy: InterventionPolicy | None = None,
    catalogue: Catalogue | None = None,
) -> RiskResult:
    """Note a risk score into the user's memory and decide whether to intervene.

    ``decide_intervention`` notes the score itself (``note_risk_score``); a caller that noted it
    already changes nothing, as a score at the same time is ignored. Deduplicating
    redelivered events by ``event_id`` stays the caller's job: a second run sees its own
    firing and records a cool-off suppression under the same decision id.

    Args:
        memory: The user's risk memory; changed in place (score, last intervention).
        event: A validated ``risk_score`` event of that user.
        profile: The user's profile: ``first_name``, ``consent`` (channel -> bool; a
            channel not named is allowed).
        policy: Thresholds (the defaults if ``None``).
        catalogue: Intervention templates (``intervention_catalogue()`` if ``None``).

    Raises:
        TypeError: The event is not a risk score.
    """
    payload = event.payload
    if not isinstance(payload, RiskScore):
        msg = f"decide_intervention needs a risk_score event, not {event.type}"
        raise TypeError(msg)
    policy = policy or InterventionPolicy()
    note_risk_score(
        memory, event.occurred_at, payload.score, payload.top_drivers, keep=policy.history
    )
    at = event.occurred_at.timestamp()
    if not memory.scores or memory.scores[-1][0] != at:
        return RiskResult()
    # The record may keep more scores than this policy reads (it notes them as they come).
    reading = read_trend([score for _, score in memory.scores[-policy.history :]], policy)
    tier = choose_tier(payload.score, reading.trend, policy)
    if tier is None:
        return RiskResult(trend=reading.trend)
    level, kind = tier
    plan = PLANS[kind]
    consent = profile.get("consent") or {}
    channels = [c for c in plan.channels if consent.get(c.value, True) is not False]
    held = _held_back(memory, at, level, policy, channels)
    suppressed = None if held is None or held[0] is SuppressionReason.ESCALATED else held
    command = None
    if suppressed is None:
        values = message_values(profile, memory, event.occurred_at.astimezone(UTC).date())
        messages = render_messages(kind, channels, values, catalogue or intervention_catalogue())
        command = _command(
            event,
            payload,
            kind=kind,
            level=level,
            trend=reading.trend,
            channels=channels,
            messages=messages,
        )
        if memory.last_intervention_at is None or at >= memory.last_intervention_at:
            memory.last_intervention_at = at
            memory.last_intervention_level = level
    return RiskResult(
        decision=_decision(
            event,
            payload.score,
            level=level,
            kind=kind,
            reading=reading,
            held=held,
            command=command,
        ),
        command=command,
        trend=reading.trend,
        risk_level=level,
    )


def _held_back(
    memory: RiskMemory,
    at: float,
    level: RiskLevel,
    policy: InterventionPolicy,
    channels: list[Channel],
) -> tuple[SuppressionReason, str] | None:
    """Return why an intervention must not start, with a sentence, or ``None`` to start it.

    ``ESCALATED`` with its sentence means it starts inside the cool-off: its tier is
    higher than the last intervention's.
    """
    missed = memory.last_missed_payment_at
    if missed is not None and abs(at - missed) < policy.missed_payment_window.total_seconds():
        return (
            SuppressionReason.RECENT_MISSED_PAYMENT,
            f"a payment was missed {abs(at - missed) / SECONDS_PER_DAY:.1f} days from this score"
            " (collections handles the user)",
        )
    escalated = None
    last = memory.last_intervention_at
    if last is not None and abs(at - last) < policy.cooloff.total_seconds():
        days = f"{abs(at - last) / SECONDS_PER_DAY:.1f} days from the last intervention"
        before = memory.last_intervention_level
        rank = TIER_RANK.get(before or "")  # None for a record older than escalation
        if not (policy.escalation and rank is not None and TIER_RANK[level] > rank):
            return SuppressionReason.COOLDOWN, days
        escalated = SuppressionReason.ESCALATED, f"escalated from {before}, {days}"
    if not channels:
        return SuppressionReason.NO_CONSENT, "the user has withdrawn consent on every channel"
    return escalated


def _decision(
    event: Event,
    score: float,
    *,
    level: RiskLevel,
    kind: InterventionType,
    reading: TrendReading,
    held: tuple[SuppressionReason, str] | None,
    command: StartIntervention | None,
) -> TriggerDecision:
    older = "" if reading.older is None else f" vs older {reading.older:.3f}"
    detail = (
        f"Risk score {score:.3f} ({level}, {kind.value}), trend {reading.trend.value}:"
        f" recent {reading.recent:.3f}{older}."
    )
    if held is not None:
        escalated = held[0] is SuppressionReason.ESCALATED
        detail += f" {'Fired' if escalated else 'Suppressed'}: {held[1]}."
    suppressed = held is not None and command is None
    features = {"risk_score": score, "trend_recent": reading.recent, "trend_delta": reading.delta}
    if reading.older is not None:
        features["trend_older"] = reading.older
    return TriggerDecision(
        decision_id=decision_id(RISK_INTERVENTION_TRIGGER_ID, event.user_id, event.event_id),
        user_id=event.user_id,
        trigger_id=RISK_INTERVENTION_TRIGGER_ID,
        outcome=Outcome.SUPPRESSED if suppressed else Outcome.FIRED,
        reason=held[0] if held else None,
        detail=detail,
        source_event_id=event.event_id,
        event_type=event.type,
        occurred_at=event.occurred_at,
        features=features,
        command_ids=[command.command_id] if command else [],
    )


def _command(
    event: Event,
    payload: RiskScore,
    *,
    kind: InterventionType,
    level: RiskLevel,
    trend: RiskTrend,
    channels: list[Channel],
    messages: list[ChannelMessage],
) -> StartIntervention:
    plan = PLANS[kind]
    return StartIntervention(
        command_id=command_id(
            RISK_INTERVENTION_TRIGGER_ID, event.user_id, event.event_id, COMMAND_CHANNEL
        ),
        user_id=event.user_id,
        decision_id=decision_id(RISK_INTERVENTION_TRIGGER_ID, event.user_id, event.event_id),
        source_event_id=event.event_id,
        created_at=event.occurred_at,
        intervention_type=kind,
        urgency=plan.urgency,
        actions=list(plan.actions),
        timeline=plan.timeline,
        channels=channels,
        messages=messages,
        risk_score=payload.score,
        risk_level=level,
        trend=trend,
        drivers=list(payload.top_drivers),
    )
