"""From an event to decisions and commands: the pure core the agent calls.

``process`` folds an event into the user's state, evaluates the triggers it concerns, and
returns every decision (fired or suppressed, with the reason) and every command to send.
Ids derive from the cause, so running it again on the same input gives the same output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from schemas.commands import SendCommunication
from schemas.events import Channel, Event
from schemas.ids import command_id, decision_id
from schemas.records import Outcome, SuppressionReason, TriggerDecision
from streams.rendering import Catalogue, render
from streams.state import UserState, apply_event
from streams.triggers import MATCHERS, Match, TriggerConfig


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


def process(
    state: UserState,
    event: Event,
    triggers: Sequence[TriggerConfig],
    catalogue: Catalogue,
    *,
    now: datetime,
    max_event_age_seconds: float,
) -> Result:
    """Apply one event to its user's state and decide what to send.

    Args:
        state: The user's record; changed in place.
        event: A validated event of that user.
        triggers: Trigger configurations to evaluate.
        catalogue: Message templates.
        now: Processing time. Only used to skip evaluating events older than
            ``max_event_age_seconds`` (backfills build state but message nobody).
        max_event_age_seconds: See ``now``.

    Returns:
        The decisions and commands, empty for duplicates and stale events.
    """
    if not apply_event(state, event):
        return Result(applied=False, evaluated=False)
    if (now - event.occurred_at).total_seconds() > max_event_age_seconds:
        return Result(evaluated=False)
    result = Result()
    for config in triggers:
        if event.type not in config.event_types:
            continue
        match = MATCHERS[config.trigger_id](state, event, config)
        if match is not None:
            decide(state, event, config, match, catalogue, result)
    return result


def decide(
    state: UserState,
    event: Event,
    config: TriggerConfig,
    match: Match,
    catalogue: Catalogue,
    result: Result,
) -> None:
    """Turn one match into a fired or suppressed decision, adding it to ``result``."""
    occurred = event.occurred_at.timestamp()
    last = state.last_fired.get(config.trigger_id)
    consent = state.profile.get("consent", {})
    channels = [c for c in config.channels if consent.get(c, True)]
    reason: SuppressionReason | None = None
    detail = match.detail
    # Both sides: a late event dated just before the last firing is as close to it.
    if last is not None and abs(occurred - last) < config.cooldown_seconds:
        reason = SuppressionReason.COOLDOWN
        detail += f" Suppressed: {abs(occurred - last) / 86_400:.1f} days from the last firing."
    elif not channels:
        reason = SuppressionReason.NO_CONSENT
        detail += " Suppressed: the user has withdrawn consent on every channel."
    commands = [] if reason else _commands(state, event, config, match, catalogue, channels)
    if reason is None:
        state.last_fired[config.trigger_id] = max(occurred, last or occurred)
    result.decisions.append(
        TriggerDecision(
            decision_id=decision_id(config.trigger_id, event.user_id, match.cause),
            user_id=event.user_id,
            trigger_id=config.trigger_id,
            outcome=Outcome.SUPPRESSED if reason else Outcome.FIRED,
            reason=reason,
            detail=detail,
            source_event_id=event.event_id,
            event_type=event.type,
            occurred_at=event.occurred_at,
            features=match.features,
            command_ids=[command.command_id for command in commands],
        )
    )
    result.commands.extend(commands)


def _commands(
    state: UserState,
    event: Event,
    config: TriggerConfig,
    match: Match,
    catalogue: Catalogue,
    channels: list[Channel],
) -> list[SendCommunication]:
    values = {"user_name": state.profile.get("first_name") or "", **match.variables}
    commands = []
    for channel in channels:
        template = catalogue.require(config.trigger_id, channel)
        rendered = render(template, values, catalogue.fallbacks)
        commands.append(
            SendCommunication(
                command_id=command_id(config.trigger_id, event.user_id, match.cause, channel),
                user_id=event.user_id,
                decision_id=decision_id(config.trigger_id, event.user_id, match.cause),
                source_event_id=event.event_id,
                created_at=event.occurred_at,
                trigger_id=config.trigger_id,
                channel=channel,
                template_id=template.template_id,
                template_version=template.version,
                subject=rendered.subject,
                body=rendered.body,
                variables=rendered.variables,
                priority=config.priority,
                send_at=event.occurred_at,
                reason=match.detail,
            )
        )
    return commands
