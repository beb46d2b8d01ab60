"""Commands held for a later ``send_at`` (quiet hours, delays), handed over when due."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.commands import SendCommunication
from schemas.ids import decision_id
from schemas.records import Outcome, SuppressionReason, TriggerDecision
from streams.core.decisions.result import Result
from streams.core.state.record import UserState


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
