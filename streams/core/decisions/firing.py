"""One match, judged: fired or suppressed, with the commands it sends and when.

``judge`` reads the user's record and decides (eligibility, quiet hours, caps) without
changing anything; ``remember`` then writes what the firing changes into the record (the
send ledger, held commands, the last firing). Kept apart so each step reads on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from models.online import send_time
from schemas.commands import SendCommunication
from schemas.experiments import EVERY_TRIGGER, GLOBAL_CONTROL_ID, ExperimentAssignment, Varies
from schemas.ids import command_id, decision_id
from schemas.personalization import PERSONALIZATION_RULE
from schemas.records import Outcome, SuppressionReason, TriggerDecision
from schemas.triggers import ChannelTemplate, TriggerDefinition
from streams.core.decisions.eligibility import consented_channels, why_suppressed
from streams.core.decisions.release import held_record, held_until
from streams.core.decisions.send_policy import (
    SendPolicy,
    at_hour,
    best_time_hours,
    channels_within_caps,
    outside_quiet_hours,
    user_zone,
)
from streams.core.experiments.arms import (
    Arm,
    arms_for,
    assign,
    assignment,
    note_commands,
    varied,
)
from streams.core.features.context import FeatureContext
from streams.core.rendering import Catalogue, render
from streams.core.state.ledger import record_send
from streams.core.state.record import UserState
from streams.core.state.studies import Experiments
from streams.core.triggers.evaluation import Match


@dataclass(frozen=True, slots=True)
class Firing:
    """What one match led to.

    Attributes:
        decision: Fired or suppressed, with the reason and the notes.
        commands: One per channel sent (empty when suppressed).
        send_at: When the commands are to be sent (the earliest, when channels differ:
            ``send_at: best_time`` on some channels only).
        held: The ids of the commands that wait in the record for their ``send_at``
            (later than processing time); the others go now.
        arms: The experiments' arms the match exposed the user to (eligible matches only).
        assignments: The messages of the arms this exposure assigned (first exposures).
        silent: An arm without message kept it back: the trigger counts as fired for
            its cooldown (as in the other arms), though nothing was sent.
    """

    decision: TriggerDecision
    commands: list[SendCommunication]
    send_at: datetime
    held: frozenset[str]
    arms: tuple[Arm, ...] = ()
    assignments: tuple[ExperimentAssignment, ...] = ()
    silent: bool = False


@dataclass(frozen=True, slots=True)
class _Plan:
    """Where the send policy leaves a match: the channels, when, and what it noted."""

    channels: list[ChannelTemplate]
    send_at: datetime
    notes: list[str]
    suppressed: tuple[SuppressionReason, str] | None
    exposed: bool = False
    """Eligible (status, targeting, exclusions, cooldown, consent): the arms are exposed."""
    times: dict[str, datetime] = field(default_factory=dict)
    """Channel -> its send time, for the channels sent at their best time."""


def judge(
    ctx: FeatureContext,
    definition: TriggerDefinition,
    match: Match,
    *,
    catalogue: Catalogue,
    policy: SendPolicy,
    taken: set[str],
    now: datetime,
    experiments: Experiments | None = None,
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
        experiments: The experiments in force: an eligible match exposes the user to the
            arms it puts them in (``streams.core.experiments``), and the trigger's own
            experiment changes its messages as the user's arm says.
    """
    arms = arms_for(ctx, definition, experiments) if experiments is not None else []
    held_back = next((a for a in arms if not a.variant.message), None)
    if held_back is not None and held_back.experiment.trigger == EVERY_TRIGGER:
        arms = [held_back]  # no message at all: not a subject of the trigger's experiment
    own = next((a for a in arms if a.experiment.trigger != EVERY_TRIGGER), None)
    if own is not None:
        definition = varied(definition, own.variant, own.experiment.varies, catalogue.has)
    # The arm decisions and commands name: the trigger's own experiment's, else the first.
    named = own or next(iter(arms), None)
    channels = consented_channels(ctx, definition)
    plan = _plan(ctx, definition, channels, policy, taken, arms=arms, cause=match.cause)
    commands = (
        []
        if plan.suppressed
        else _commands(
            ctx, definition, match, catalogue, channels=plan.channels, send_at=plan.send_at,
            arm=named, times=plan.times,
        )
    )  # fmt: skip
    held = frozenset(c.command_id for c in commands if c.send_at > now)
    until = sorted({c.send_at for c in commands if c.command_id in held})
    notes = [*plan.notes, *(f"held until {when.isoformat()}" for when in until)]
    exposed = tuple(arms) if plan.exposed else ()
    decision = _decision(
        ctx, definition, match, suppressed=plan.suppressed, notes=notes, commands=commands,
        arm=named if exposed else None,
    )  # fmt: skip
    return Firing(
        decision=decision,
        commands=commands,
        send_at=min((c.send_at for c in commands), default=plan.send_at),
        held=held,
        arms=exposed,
        assignments=tuple(
            assignment(arm, ctx.user_id, definition.id, decision.decision_id, ctx.at)
            for arm in exposed
            if arm.new
        ),
        silent=any(not arm.variant.message for arm in exposed),
    )


def remember(
    state: UserState, definition: TriggerDefinition, firing: Firing, at: float
) -> list[int]:
    """Write a firing into the user's record: sends in the ledger, held commands, last firing.

    Returns the local hour of each send (the send-time model counted them; the
    population's prior counts them too).

    Args:
        state: The user's record; changed in place.
        definition: The trigger judged.
        firing: What ``judge`` returned.
        at: Time of the evaluation (epoch seconds): the event's, or the scheduler's.
    """
    zone = user_zone(state.profile.get("timezone")) if firing.commands else None
    sent_hours = []
    for command in firing.commands:
        record_send(state, command.channel.value, command.send_at.timestamp(), decided_at=at)
        # Every send teaches the send-time model, whatever chose its hour.
        model = state.send_hours = state.send_hours or send_time.empty()
        hour = command.send_at.astimezone(zone).hour
        send_time.note_send(model, command.command_id, hour)
        sent_hours.append(hour)
    if firing.held:
        # Sent by the scheduler when due, after checking consent again.
        state.pending.extend(
            held_record(c, definition.category)
            for c in firing.commands
            if c.command_id in firing.held
        )
        state.pending.sort(key=held_until)
    if firing.decision.outcome is Outcome.FIRED or firing.silent:
        state.last_fired[definition.id] = max(at, state.last_fired.get(definition.id, at))
    for arm in firing.arms:
        assign(state, arm, at)
        if firing.commands:
            note_commands(state, arm.experiment.id, [c.command_id for c in firing.commands])
    return sent_hours


def _plan(  # noqa: PLR0913 - the match's whole situation
    ctx: FeatureContext,
    definition: TriggerDefinition,
    channels: list[ChannelTemplate],
    policy: SendPolicy,
    taken: set[str],
    *,
    arms: list[Arm],
    cause: str,
) -> _Plan:
    """Apply eligibility, the arms, then quiet hours and the caps, to the consented channels.

    An eligible match exposes the user to its arms; an arm without message suppresses it
    there (``global_control`` for the global control group, ``holdout`` for a control arm),
    before the caps, so control users are exposed exactly as the others are.
    """
    send_at = ctx.at + timedelta(seconds=definition.delay)
    suppressed = why_suppressed(ctx, definition, channels, policy)
    if suppressed is not None:
        return _Plan(channels, send_at, [], suppressed)
    silent = next((arm for arm in arms if not arm.variant.message), None)
    if silent is not None:
        experiment = silent.experiment.id
        reason = (
            SuppressionReason.GLOBAL_CONTROL
            if experiment == GLOBAL_CONTROL_ID
            else SuppressionReason.HOLDOUT
        )
        detail = f"arm {silent.variant.id} of experiment {experiment}: no message"
        return _Plan(channels, send_at, [], (reason, detail), exposed=True)
    notes = []
    zone = user_zone(ctx.state.profile.get("timezone"))
    timed = next((a for a in arms if a.experiment.varies is Varies.SEND_TIME), None)
    if timed is not None and timed.variant.send_hour is not None:
        send_at = at_hour(send_at, timed.variant.send_hour, zone)
        notes.append(f"sent at {timed.variant.send_hour}:00 local ({timed.variant.id} arm)")
    moved = outside_quiet_hours(send_at, zone, policy)
    if moved != send_at:
        notes.append(f"delayed to {moved.isoformat()} (quiet hours in the user's time zone)")
    times = _best_times(
        ctx, definition, channels, moved, zone=zone, policy=policy, cause=cause, notes=notes
    )
    room: list[str] = []
    full: list[str] = []
    for channel in channels:
        name = channel.channel.value
        when = times.get(name, moved).timestamp()
        has_room, _ = channels_within_caps(ctx.state, [name], when, policy)
        (room if has_room else full).append(name)
    if full:
        notes.append(f"{', '.join(full)} at the frequency cap")
    kept = [c for c in channels if c.channel.value in room]
    if not kept:
        lower = SuppressionReason.LOWER_PRIORITY if taken & set(full) else None
        suppressed = (
            lower or SuppressionReason.FREQUENCY_CAP,
            "; ".join(notes) + (" (slots taken by a higher priority)" if lower else ""),
        )
    return _Plan(kept, moved, notes, suppressed, exposed=True, times=times)


def _best_times(  # noqa: PLR0913 - the plan's situation
    ctx: FeatureContext,
    definition: TriggerDefinition,
    channels: list[ChannelTemplate],
    earliest: datetime,
    *,
    zone: ZoneInfo,
    policy: SendPolicy,
    cause: str,
    notes: list[str],
) -> dict[str, datetime]:
    """Return the send time of each channel sent at its best time (``send_at: best_time``).

    One hour for the firing, drawn by the user's send-time model among the hours outside
    quiet hours from ``earliest`` to ``max_delay`` after it (``models.online.send_time``).
    """
    best = [c for c in channels if (c.send_at or definition.send_at) == "best_time"]
    if not best:
        return {}
    hours = best_time_hours(earliest, definition.max_delay, zone, policy)
    if not hours:
        return {}  # quiet all the way: the quiet hours' morning it is
    model = ctx.state.send_hours
    hour = send_time.best_hour(
        model, list(hours), seed=f"{definition.id}:{ctx.user_id}:{cause}", prior=policy.hour_prior
    )
    sends, opens = send_time.sends_and_opens(model)
    notes.append(
        f"sent at its best time, {hour}:00 local "
        f"(learned from {sends} sends and {opens} opens or clicks)"
    )
    return {c.channel.value: hours[hour] for c in best}


def _decision(
    ctx: FeatureContext,
    definition: TriggerDefinition,
    match: Match,
    *,
    suppressed: tuple[SuppressionReason, str] | None,
    notes: list[str],
    commands: list[SendCommunication],
    arm: Arm | None,
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
        experiment=arm.experiment.id if arm else None,
        variant=arm.variant.id if arm else None,
    )


def _commands(
    ctx: FeatureContext,
    definition: TriggerDefinition,
    match: Match,
    catalogue: Catalogue,
    *,
    channels: list[ChannelTemplate],
    send_at: datetime,
    arm: Arm | None,
    times: dict[str, datetime],
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
                send_at=times.get(channel.value, send_at),
                experiment=_experiment(definition, arm),
                variant=_variant(definition, arm),
                reason=match.detail,
            )
        )
    return commands


def _experiment(definition: TriggerDefinition, arm: Arm | None) -> str | None:
    if arm is not None:
        return arm.experiment.id
    return definition.experiment.id if definition.experiment else None


def _variant(definition: TriggerDefinition, arm: Arm | None) -> str | None:
    if arm is not None:
        return arm.variant.id
    return "treatment" if definition.experiment else None
