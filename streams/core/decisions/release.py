"""Commands held for a later ``send_at`` (quiet hours, delays), handed over when due."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from schemas.commands import SendCommunication
from schemas.ids import decision_id
from schemas.records import Outcome, SuppressionReason, TriggerDecision
from streams.core.decisions.eligibility import category_consent_missing
from streams.core.decisions.result import Result
from streams.core.decisions.send_policy import SendPolicy
from streams.core.state.record import UserState


def release_due(
    user_id: str,
    state: UserState,
    now: datetime,
    *,
    policy: SendPolicy | None = None,
    categories: Mapping[str, str] | None = None,
) -> Result:
    """Hand over the held commands whose ``send_at`` has come, earliest first.

    Consent is checked again at release: a channel withdrawn while the message waited
    (an ``opted_out`` outcome during the night) gets a ``no_consent`` decision instead; so
    does a message of a sensitive category (``policy.consent_categories``) that the same
    rule as at decision time no longer allows (the user withdrew that consent meanwhile).

    Args:
        user_id: Whose record ``state`` is.
        state: The user's record; its due held commands are taken out.
        now: The scheduler's clock.
        policy: The send policy in force: which categories need consent, and how.
        categories: Trigger id -> its category, for the definitions in force (a trigger
            not named, say one deleted since, is not checked for category consent).
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
        why = _withheld(command, consent, state.profile, policy, categories or {})
        if why is None:
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
                    f"was not sent: {why} while it waited."
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


def _withheld(
    command: SendCommunication,
    consent: Mapping[str, bool],
    profile: dict[str, Any],
    policy: SendPolicy | None,
    categories: Mapping[str, str],
) -> str | None:
    """Say why a due command may not be sent now, or ``None`` if it may."""
    if not consent.get(command.channel.value, True):
        return "the user withdrew consent on that channel"
    category = categories.get(command.trigger_id)
    if policy is None or category is None:
        return None
    return category_consent_missing(profile, category, policy)


def held_until(held: dict[str, Any]) -> float:
    """Return when a held command is due (epoch seconds)."""
    return datetime.fromisoformat(held["send_at"]).timestamp()
