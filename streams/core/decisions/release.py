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

#: The key a held command keeps its trigger's category under, beside the command's own
#: fields: the category it was decided under is checked at release even if the trigger has
#: since been deleted or paused (records held before it was kept have none).
HELD_CATEGORY = "held_category"


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
        categories: Trigger id -> its category, for the definitions in force. A held
            command is checked for the category it was decided under (``HELD_CATEGORY``)
            and for the one in force now, if they differ: either may withhold it.
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
    for held in due:
        command = held_command(held)
        why = _withheld(
            command,
            state.profile,
            decided=held.get(HELD_CATEGORY),
            policy=policy,
            categories=categories or {},
        )
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


def held_command(held: Mapping[str, Any]) -> SendCommunication:
    """Return the command a held record (its JSON, and ``HELD_CATEGORY``) will send."""
    return SendCommunication.model_validate({k: v for k, v in held.items() if k != HELD_CATEGORY})


def held_record(command: SendCommunication, category: str) -> dict[str, Any]:
    """Return what the user's record keeps of a command held until its ``send_at``."""
    return {**command.model_dump(mode="json"), HELD_CATEGORY: category}


def _withheld(
    command: SendCommunication,
    profile: dict[str, Any],
    *,
    decided: str | None,
    policy: SendPolicy | None,
    categories: Mapping[str, str],
) -> str | None:
    """Say why a due command may not be sent now, or ``None`` if it may.

    ``decided``: the category the command was decided under (``None`` in older records).
    """
    if not profile.get("consent", {}).get(command.channel.value, True):
        return "the user withdrew consent on that channel"
    if policy is None:
        return None
    for category in dict.fromkeys((decided, categories.get(command.trigger_id))):
        why = None if category is None else category_consent_missing(profile, category, policy)
        if why is not None:
            return why
    return None


def held_until(held: dict[str, Any]) -> float:
    """Return when a held command is due (epoch seconds)."""
    return datetime.fromisoformat(held["send_at"]).timestamp()
