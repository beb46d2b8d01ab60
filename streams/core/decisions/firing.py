"""One match, judged: fired or suppressed, with the commands it sends and when.

``judge`` reads the user's record and decides (eligibility, quiet hours, caps) without
changing anything; ``remember`` then writes what the firing changes into the record (the
send ledger, held commands, the last firing). Kept apart so each step reads on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.commands import SendCommunication
from schemas.ids import command_id, decision_id
from schemas.personalization import PERSONALIZATION_RULE
from schemas.records import Outcome, SuppressionReason, TriggerDecision
from schemas.triggers import ChannelTemplate, TriggerDefinition
from streams.core.decisions.eligibility import consented_channels, why_suppressed
from streams.core.decisions.release import held_until
from streams.core.decisions.send_policy import (
    SendPolicy,
    channels_within_caps,
    outside_quiet_hours,
    user_zone,
)
from streams.core.features.context import FeatureContext
from streams.core.rendering import Catalogue, render
from streams.core.state.ledger import record_send
from streams.core.state.record import UserState
from streams.core.triggers.evaluation import Match


@dataclass(frozen=True, slots=True)
class Firing:
    """What one match led to.

    Attributes:
        decision: Fired or suppressed, with the reason and the notes.
        commands: One per channel sent (empty when suppressed).
        send_at: When the commands are to be sent.
        held: Whether they wait in the record for ``send_at`` (later than processing time).
    """

    decision: TriggerDecision
    commands: list[SendCommunication]
    send_at: datetime
    held: bool


@dataclass(frozen=True, slots=True)
class _Plan:
    """Where the send policy leaves a match: the channels, when, and what it noted."""

    channels: list[ChannelTemplate]
    send_at: datetime
    notes: list[str]
    suppressed: tuple[SuppressionReason, str] | None


def judge(
    ctx: FeatureContext,
    definition: TriggerDefinition,
    match: Match,
    *,
    catalogue: Catalogue,
    policy: SendPolicy,
    taken: set[str],
    now: datetime,
) -> Firing:
    """Turn one match into a fired or suppressed decision; changes nothing.

    Args:
        ctx: The user's state and the event (or the scheduler's tick).
        definition: The trigger that matched.
        match: What it matched on.
        catalogue: Message templates.
        policy: Caps and quiet hours.
        taken: Channels that higher-priority firings used on this event.
        now: Processing time: commands due later than this are held in the state.
    """
    channels = consented_channels(ctx, definition)
    plan = _plan(ctx, definition, channels, policy, taken)
    commands = (
        []
        if plan.suppressed
        else _commands(
            ctx, definition, match, catalogue, channels=plan.channels, send_at=plan.send_at
        )
    )
    held = bool(commands) and plan.send_at > now
    notes = [*plan.notes, f"held until {plan.send_at.isoformat()}"] if held else plan.notes
    return Firing(
        decision=_decision(
            ctx, definition, match, suppressed=plan.suppressed, notes=notes, commands=commands
        ),
        commands=commands,
        send_at=plan.send_at,
        held=held,
    )


def remember(state: UserState, definition: TriggerDefinition, firing: Firing, at: float) -> None:
    """Write a firing into the user's record: sends in the ledger, held commands, last firing.

    Args:
        state: The user's record; changed in place.
        definition: The trigger judged.
        firing: What ``judge`` returned.
        at: Time of the evaluation (epoch seconds): the event's, or the scheduler's.
    """
    for command in firing.commands:
        record_send(state, command.channel.value, firing.send_at.timestamp(), decided_at=at)
    if firing.held:
        # Sent by the scheduler when due, after checking consent again.
        state.pending.extend(c.model_dump(mode="json") for c in firing.commands)
        state.pending.sort(key=held_until)
    if firing.decision.outcome is Outcome.FIRED:
        state.last_fired[definition.id] = max(at, state.last_fired.get(definition.id, at))


def _plan(
    ctx: FeatureContext,
    definition: TriggerDefinition,
    channels: list[ChannelTemplate],
    policy: SendPolicy,
    taken: set[str],
) -> _Plan:
    """Apply eligibility, then quiet hours and the caps, to the consented channels."""
    send_at = ctx.at + timedelta(seconds=definition.delay)
    suppressed = why_suppressed(ctx, definition, channels)
    if suppressed is not None:
        return _Plan(channels, send_at, [], suppressed)
    notes = []
    moved = outside_quiet_hours(send_at, user_zone(ctx.state.profile.get("timezone")), policy)
    if moved != send_at:
        notes.append(f"delayed to {moved.isoformat()} (quiet hours in the user's time zone)")
    room, full = channels_within_caps(
        ctx.state, [c.channel.value for c in channels], moved.timestamp(), policy
    )
    if full:
        notes.append(f"{', '.join(full)} at the frequency cap")
    kept = [c for c in channels if c.channel.value in room]
    if not kept:
        reason = SuppressionReason.LOWER_PRIORITY if taken & set(full) else None
        suppressed = (
            reason or SuppressionReason.FREQUENCY_CAP,
            "; ".join(notes) + (" (slots taken by a higher priority)" if reason else ""),
        )
    return _Plan(kept, moved, notes, suppressed)


def _decision(
    ctx: FeatureContext,
    definition: TriggerDefinition,
    match: Match,
    *,
    suppressed: tuple[SuppressionReason, str] | None,
    notes: list[str],
    commands: list[SendCommunication],
) -> TriggerDecision:
    user = ctx.user_id
    return TriggerDecision(
        decision_id=decision_id(definition.id, user, match.cause),
        user_id=user,
        trigger_id=definition.id,
        outcome=Outcome.SUPPRESSED if suppressed else Outcome.FIRED,
        reason=suppressed[0] if suppressed else None,
        detail=match.detail
        + (f" Suppressed: {suppressed[1]}." if suppressed else "")
        + (f" Note: {'; '.join(notes)}." if notes and not suppressed else ""),
        source_event_id=ctx.event.event_id if ctx.event else None,
        event_type=ctx.event.type if ctx.event else None,
        occurred_at=ctx.at,
        features=match.features,
        command_ids=[command.command_id for command in commands],
    )


def _commands(
    ctx: FeatureContext,
    definition: TriggerDefinition,
    match: Match,
    catalogue: Catalogue,
    *,
    channels: list[ChannelTemplate],
    send_at: datetime,
) -> list[SendCommunication]:
    user = ctx.user_id
    values = {"user_name": ctx.state.profile.get("first_name") or "", **match.variables}
    decided = decision_id(definition.id, user, match.cause)
    commands = []
    rule = ctx.personalization
    for wanted in channels:
        template = catalogue.by_id(wanted.template)
        content = rule.content_for(wanted.channel.value) if rule is not None else {}
        rendered = render(template, {**values, **content}, catalogue.fallbacks)
        used = rendered.variables
        if rule is not None and any(name in content for name in used):
            used = {**used, PERSONALIZATION_RULE: rule.id}  # reported per rule
        channel = wanted.channel
        commands.append(
            SendCommunication(
                command_id=command_id(definition.id, user, match.cause, channel),
                user_id=user,
                decision_id=decided,
                source_event_id=ctx.event.event_id if ctx.event else None,
                created_at=ctx.at,
                trigger_id=definition.id,
                channel=channel,
                template_id=template.template_id,
                template_version=template.version,
                subject=rendered.subject,
                body=rendered.body,
                variables=used,
                priority=definition.priority,
                send_at=send_at,
                experiment=definition.experiment.id if definition.experiment else None,
                variant="treatment" if definition.experiment else None,
                reason=match.detail,
            )
        )
    return commands
