"""Whether a match may be sent to this user at all: targeting, holdout, cooldown, consent.

The send policy (caps, quiet hours) comes after, in ``send_policy``; a match that is not
eligible is recorded as suppressed with the first reason that applies. A trigger's status
is settled before: paused ones are not evaluated, shadow ones are judged as if active and
recorded as ``shadow`` (``streams.core.decisions.shadow``).
"""

from __future__ import annotations

from typing import Any

from schemas.records import SuppressionReason
from schemas.triggers import ChannelTemplate, Experiment, TriggerDefinition
from streams.core.decisions.send_policy import SendPolicy
from streams.core.experiments.arms import hash_bucket
from streams.core.features.context import FeatureContext
from streams.core.segments.membership import member_of_any
from streams.core.state.consent import consent_to
from streams.core.triggers.conditions import holds
from streams.core.units import SECONDS_PER_DAY

DEFAULT_POLICY = SendPolicy()


def consented_channels(ctx: FeatureContext, definition: TriggerDefinition) -> list[ChannelTemplate]:
    """Return the definition's channels the user has not withdrawn consent on."""
    consent = ctx.state.profile.get("consent", {})
    return [c for c in definition.channels if consent.get(c.channel, True)]


def why_suppressed(
    ctx: FeatureContext,
    definition: TriggerDefinition,
    channels: list[ChannelTemplate],
    policy: SendPolicy = DEFAULT_POLICY,
) -> tuple[SuppressionReason, str] | None:
    """Return why a match must not be sent, with a sentence, or ``None`` to send it.

    Consent comes last, the category's before the channels': a user in a cooldown is told
    so, whatever their consent.
    """
    occurred = ctx.at.timestamp()
    last = ctx.state.last_fired.get(definition.id)
    tier = ctx.state.profile.get("tier")
    if definition.target.tiers and tier not in definition.target.tiers:
        return SuppressionReason.EXCLUDED, f"tier {tier or 'unknown'} is not targeted"
    if definition.target.segments and not member_of_any(ctx.state, definition.target.segments):
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
    missing = category_consent_missing(ctx.state.profile, definition.category, policy)
    if missing is not None:
        return SuppressionReason.NO_CONSENT, missing
    if not channels:
        return SuppressionReason.NO_CONSENT, "the user has withdrawn consent on every channel"
    return None


def category_consent_missing(
    profile: dict[str, Any], category: str, policy: SendPolicy
) -> str | None:
    """Say why a trigger of ``category`` may not message this user, or ``None`` if it may.

    A sensitive category (``policy.consent_categories``) needs the user's consent to it on
    the profile: given (``required``, the specification), or at least not withdrawn
    (``withdrawal_only``).
    """
    if category not in policy.consent_categories:
        return None
    given = consent_to(profile, category)
    if given is True:
        return None
    if given is False:
        return f"the user withdrew consent to {category} messages"
    if policy.category_consent == "withdrawal_only":
        return None
    return f"no consent to {category} messages on the user's profile"


def in_holdout(user_id: str, experiment: Experiment) -> bool:
    """Return whether the user is in the experiment's holdout (stable per user)."""
    return hash_bucket(experiment.id, user_id) < experiment.holdout_percent * 100
