"""From an event, or a tick of the clock, to decisions and commands: the pure core.

``process`` folds an event into the user's state, evaluates the trigger definitions that
event concerns, and returns every decision (fired or suppressed, with the reason) and
every command to send. ``process_scheduled`` evaluates time-based definitions for a user
when nothing happened (inactivity, a date coming up), and ``release_due`` hands over
commands held for a later ``send_at``. Ids derive from the cause (event id, closed month
or episode), so running any of them again on the same input gives the same output.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from schemas.commands import SendCommunication, StartIntervention
from schemas.events import Event
from schemas.ids import command_id, decision_id
from schemas.records import Outcome, SuppressionReason, TriggerDecision
from schemas.triggers import ChannelTemplate, Experiment, TriggerDefinition
from streams.core.decisions.send_policy import (
    SendPolicy,
    channels_within_caps,
    outside_quiet_hours,
    user_zone,
)
from streams.core.features.context import Before, FeatureContext
from streams.core.features.registry import event_context, scheduled_context
from streams.core.rendering import Catalogue, render
from streams.core.risk.intervention import decide_intervention
from streams.core.risk.policy import InterventionPolicy
from streams.core.state.fold import apply_event
from streams.core.state.ledger import record_send
from streams.core.state.record import UserState
from streams.core.triggers.conditions import holds
from streams.core.triggers.evaluation import Match, evaluate
from streams.core.units import SECONDS_PER_DAY


@dataclass(slots=True)
class Result:
    """What one event led to.

    Attributes:
        applied: False when the event was a duplicate and changed nothing.
        evaluated: False when the event was too old to evaluate triggers on.
        decisions: One per trigger whose condition held.
        commands: One per channel of each firing.
    """

    applied: bool = True
    evaluated: bool = True
    decisions: list[TriggerDecision] = field(default_factory=list)
    commands: list[SendCommunication] = field(default_factory=list)
    interventions: list[StartIntervention] = field(default_factory=list)
    held: int = 0
    """Commands of these decisions kept in the user's state for a later ``send_at``."""
    released: int = 0
    """The first this many ``commands`` were held earlier and are due now."""

    @property
    def changed_state(self) -> bool:
        """Whether a scheduled evaluation or a release changed the user's record."""
        return bool(self.decisions or self.commands)


def process(
    state: UserState,
    event: Event,
    definitions: Sequence[TriggerDefinition],
    catalogue: Catalogue,
    *,
    now: datetime,
    max_event_age_seconds: float,
    policy: SendPolicy | None = None,
    interventions: InterventionPolicy | None = None,
) -> Result:
    """Apply one event to its user's state and decide what to send.

    Args:
        state: The user's record; changed in place.
        event: A validated event of that user.
        definitions: Trigger definitions; paused ones are skipped.
        catalogue: Message templates.
        now: Processing time. Only used to skip evaluating events older than
            ``max_event_age_seconds`` (backfills build state but message nobody).
        max_event_age_seconds: See ``now``.
        policy: Frequency caps and quiet hours shared by all triggers (defaults if None).
        interventions: Risk tiers, trend, cool-off (defaults if None); a fresh
            ``risk_score`` event may start an intervention (``streams.core.risk.intervention``).

    Returns:
        The decisions and commands, empty for duplicates and stale events.
    """
    before = Before.of(state)
    if not apply_event(state, event):
        return Result(applied=False, evaluated=False)
    if (now - event.occurred_at).total_seconds() > max_event_age_seconds:
        return Result(evaluated=False)
    ctx = event_context(state, event, before)
    wanted = [d for d in definitions if event.type in d.evaluate_on.events]
    result = _decide_all(ctx, wanted, catalogue, now, policy or SendPolicy())
    if event.type == "risk_score" and state.risk is not None:
        risk = decide_intervention(state.risk, event, state.profile, interventions)
        if risk.decision is not None:
            result.decisions.append(risk.decision)
        if risk.command is not None:
            result.interventions.append(risk.command)
    return result


def process_scheduled(
    user_id: str,
    state: UserState,
    definitions: Sequence[TriggerDefinition],
    catalogue: Catalogue,
    *,
    now: datetime,
    policy: SendPolicy | None = None,
) -> Result:
    """Evaluate time-based definitions for one user at ``now``, with no event.

    Each definition judges an episode once (``TriggerDefinition.episode``): a firing, or
    a suppression, is not repeated on later ticks until the episode changes.

    Args:
        user_id: Whose record ``state`` is.
        state: The user's record; changed in place when something is decided.
        definitions: Definitions with a schedule that are due; paused ones are skipped.
        catalogue: Message templates.
        now: The scheduler's clock.
        policy: Frequency caps and quiet hours (defaults if None).
    """
    ctx = scheduled_context(user_id, state, now)
    wanted = [d for d in definitions if d.evaluate_on.every is not None]
    return _decide_all(ctx, wanted, catalogue, now, policy or SendPolicy())


def process_idle(
    user_id: str,
    state: UserState,
    due: Sequence[TriggerDefinition],
    catalogue: Catalogue,
    *,
    now: datetime,
    policy: SendPolicy | None = None,
) -> Result:
    """What the timer does for one user at ``now``: release held sends, then run ``due``.

    Released commands come first in ``commands`` (``Result.released`` counts them).
    """
    released = release_due(user_id, state, now)
    if not due:
        return released
    result = process_scheduled(user_id, state, due, catalogue, now=now, policy=policy)
    result.decisions[:0] = released.decisions
    result.commands[:0] = released.commands
    result.released = released.released
    return result


def release_due(user_id: str, state: UserState, now: datetime) -> Result:
    """Hand over the held commands whose ``send_at`` has come, earliest first.

    Consent is checked again at release: a channel withdrawn while the message waited
    (an ``opted_out`` outcome during the night) gets a ``no_consent`` decision instead.
    """
    result = Result()
    moment = now.timestamp()
    due: list[dict[str, Any]] = []
    waiting: list[dict[str, Any]] = []
    for held in state.pending:
        (due if held_until(held) <= moment else waiting).append(held)
    if not due:
        return result
    state.pending = waiting
    consent = state.profile.get("consent", {})
    for held in due:
        command = SendCommunication.model_validate(held)
        if consent.get(command.channel.value, True):
            result.commands.append(command)
            continue
        result.decisions.append(
            TriggerDecision(
                decision_id=decision_id(
                    command.trigger_id, user_id, f"withdrawn:{command.command_id}"
                ),
                user_id=user_id,
                trigger_id=command.trigger_id,
                outcome=Outcome.SUPPRESSED,
                reason=SuppressionReason.NO_CONSENT,
                detail=(
                    f"The {command.channel.value} message held for {command.send_at.isoformat()} "
                    "was not sent: the user withdrew consent on that channel while it waited."
                ),
                source_event_id=command.source_event_id,
                event_type=None,
                occurred_at=command.created_at,
                features={},
                command_ids=[],
            )
        )
    result.released = len(result.commands)
    return result


def held_until(held: dict[str, Any]) -> float:
    """Return when a held command is due (epoch seconds)."""
    return datetime.fromisoformat(held["send_at"]).timestamp()


def _decide_all(
    ctx: FeatureContext,
    definitions: Sequence[TriggerDefinition],
    catalogue: Catalogue,
    now: datetime,
    policy: SendPolicy,
) -> Result:
    result = Result()
    matches = []
    for definition in definitions:
        if definition.status == "paused":
            continue
        match = evaluate(definition, ctx)
        if match is not None:
            matches.append((definition, match))
    # Most important first: when triggers compete for the capped slots, they win them.
    # (Sorting the few matches, not every definition on every event: this is the hot path.)
    matches.sort(key=lambda pair: (pair[0].priority.rank, pair[0].id))
    taken: set[str] = set()
    for definition, match in matches:
        decide(ctx, definition, match, catalogue, result, policy, taken, now)
    return result


def suppression(
    ctx: FeatureContext, definition: TriggerDefinition, channels: list[ChannelTemplate]
) -> tuple[SuppressionReason, str] | None:
    """Return why a match must not be sent, with a sentence, or ``None`` to send it."""
    occurred = ctx.at.timestamp()
    last = ctx.state.last_fired.get(definition.id)
    tier = ctx.state.profile.get("tier")
    if definition.status == "testing":
        return SuppressionReason.TESTING, "the trigger is in testing: decisions only"
    if definition.target.tiers and tier not in definition.target.tiers:
        return SuppressionReason.EXCLUDED, f"tier {tier or 'unknown'} is not targeted"
    segments = set(ctx.state.profile.get("segments", ()))
    if definition.target.segments and not segments & set(definition.target.segments):
        return SuppressionReason.EXCLUDED, "the user is in none of the targeted segments"
    if definition.exclude is not None and holds(
        definition.exclude, ctx, definition.thresholds, occurred
    ):
        return SuppressionReason.EXCLUDED, "an exclusion condition holds"
    experiment = definition.experiment
    if experiment is not None and in_holdout(ctx.user_id, experiment):
        return SuppressionReason.HOLDOUT, f"held out of experiment {experiment.id}"
    # Both sides: a late event dated just before the last firing is as close to it.
    if last is not None and abs(occurred - last) < definition.cooldown:
        return (
            SuppressionReason.COOLDOWN,
            f"{abs(occurred - last) / SECONDS_PER_DAY:.1f} days from the last firing",
        )
    if not channels:
        return SuppressionReason.NO_CONSENT, "the user has withdrawn consent on every channel"
    return None


def in_holdout(user_id: str, experiment: Experiment) -> bool:
    """Return whether the user is in the experiment's holdout (stable per user)."""
    digest = hashlib.sha256(f"{experiment.id}:{user_id}".encode()).digest()
    bucket = int.from_bytes(digest[:4], "big") % 10_000
    return bucket < experiment.holdout_percent * 100


def decide(
    ctx: FeatureContext,
    definition: TriggerDefinition,
    match: Match,
    catalogue: Catalogue,
    result: Result,
    policy: SendPolicy,
    taken: set[str],
    now: datetime,
) -> None:
    """Turn one match into a fired or suppressed decision, adding it to ``result``.

    Args:
        ctx: The user's state and the event (or the scheduler's tick).
        definition: The trigger that matched.
        match: What it matched on.
        catalogue: Message templates.
        result: Where the decision and commands go.
        policy: Caps and quiet hours.
        taken: Channels that higher-priority firings used on this event (updated).
        now: Processing time: commands due later than this are held in the state.
    """
    consent = ctx.state.profile.get("consent", {})
    channels = [c for c in definition.channels if consent.get(c.channel, True)]
    suppressed = suppression(ctx, definition, channels)
    send_at = ctx.at + timedelta(seconds=definition.delay)
    notes = []
    if suppressed is None:
        moved = outside_quiet_hours(send_at, user_zone(ctx.state.profile.get("timezone")), policy)
        if moved != send_at:
            notes.append(f"delayed to {moved.isoformat()} (quiet hours in the user's time zone)")
        send_at = moved
        room, full = channels_within_caps(
            ctx.state, [c.channel.value for c in channels], send_at.timestamp(), policy
        )
        if full:
            notes.append(f"{', '.join(full)} at the frequency cap")
        channels = [c for c in channels if c.channel.value in room]
        if not channels:
            reason = SuppressionReason.LOWER_PRIORITY if taken & set(full) else None
            suppressed = (
                reason or SuppressionReason.FREQUENCY_CAP,
                "; ".join(notes) + (" (slots taken by a higher priority)" if reason else ""),
            )
    commands = [] if suppressed else _commands(ctx, definition, match, catalogue, channels, send_at)
    for command in commands:
        record_send(
            ctx.state, command.channel.value, send_at.timestamp(), decided_at=ctx.at.timestamp()
        )
        taken.add(command.channel.value)
    if commands and send_at > now:
        # Sent by the scheduler when due, after checking consent again.
        ctx.state.pending.extend(c.model_dump(mode="json") for c in commands)
        ctx.state.pending.sort(key=held_until)
        result.held += len(commands)
        notes.append(f"held until {send_at.isoformat()}")
    else:
        result.commands.extend(commands)
    occurred = ctx.at.timestamp()
    if suppressed is None:
        last = ctx.state.last_fired.get(definition.id, occurred)
        ctx.state.last_fired[definition.id] = max(occurred, last)
    user = ctx.user_id
    result.decisions.append(
        TriggerDecision(
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
    )


def _commands(
    ctx: FeatureContext,
    definition: TriggerDefinition,
    match: Match,
    catalogue: Catalogue,
    channels: list[ChannelTemplate],
    send_at: datetime,
) -> list[SendCommunication]:
    user = ctx.user_id
    values = {"user_name": ctx.state.profile.get("first_name") or "", **match.variables}
    decided = decision_id(definition.id, user, match.cause)
    commands = []
    for wanted in channels:
        template = catalogue.by_id(wanted.template)
        rendered = render(template, values, catalogue.fallbacks)
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
                variables=rendered.variables,
                priority=definition.priority,
                send_at=send_at,
                experiment=definition.experiment.id if definition.experiment else None,
                variant="treatment" if definition.experiment else None,
                reason=match.detail,
            )
        )
    return commands
