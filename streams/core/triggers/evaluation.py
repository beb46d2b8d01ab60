"""Evaluate one trigger definition for one user and event: does its condition hold?

The answer is a ``Match`` (the cause, the numbers the condition saw, the values for the
message templates, a sentence for the decision record) or ``None``. Whether a match is
then sent or suppressed is ``streams.core.decisions.process``' job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from schemas.features import FEATURES
from schemas.triggers import Comparison, TriggerDefinition, comparisons, senses
from streams.core.features.basics import closed_month_number
from streams.core.features.context import FeatureContext, format_value
from streams.core.features.registry import DEPENDS
from streams.core.triggers.conditions import describe, holds
from streams.core.units import month_start

#: How far into a month the timer waits before judging the month before (a
#: ``closed_month`` definition no event has judged yet): a deposit made on the last day
#: may reach the worker a day late. The same two days as the oldest event the worker
#: evaluates by default (``NUDGE_MAX_EVENT_AGE_SECONDS``).
MONTH_CLOSE_GRACE = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class Match:
    """A definition's condition held.

    Attributes:
        cause: What the decision is about: the event id, ``month:YYYY-MM`` for
            definitions that judge a closed month once, or ``episode:NAME=VALUE`` for a
            scheduled evaluation. Ids derive from it.
        features: The numbers compared, with the inputs of derived ones.
        detail: One sentence with those numbers, for the decision record.
    """

    cause: str
    features: dict[str, float]
    detail: str
    context: FeatureContext = field(repr=False, compare=False)
    """The evaluation's inputs, for ``variables``."""

    @property
    def variables(self) -> dict[str, str]:
        """Every known feature, formatted for messages.

        Computed on demand: only a match that is sent renders a message, and most
        matches are suppressed (cooldown, caps).
        """
        return message_values(self.context)


def evaluate(definition: TriggerDefinition, ctx: FeatureContext) -> Match | None:
    """Return the match of ``definition`` for this user and event (or tick), or ``None``.

    A ``closed_month`` definition is judged once per month: the first evaluating event
    of a month marks the month before as judged (in ``state.evaluated``), whatever the
    answer, so later events of the month do not judge it again. If no event has judged
    it ``MONTH_CLOSE_GRACE`` into the month, the timer does (a definition with a
    schedule): a user whose pay stopped, or who went quiet, is told too. Both causes
    are ``month:YYYY-MM``, so the decision and command ids are the same whichever judged.

    Any other scheduled evaluation (no event) judges the definition's episode once: when
    the condition holds, the episode is marked judged in ``state.episodes``, so later
    ticks stay quiet until the episode changes (a new birthday, a new lapse).
    """
    episode = None
    if definition.cause == "closed_month":
        if ctx.event is None and ctx.at - month_start(ctx.at) < MONTH_CLOSE_GRACE:
            return None  # deposits of the month just closed may still be on their way
        closed = closed_month_number(ctx)
        if ctx.state.evaluated.get(definition.id, -1) >= closed:
            return None
        ctx.state.evaluated[definition.id] = closed
        cause = f"month:{ctx.value('closed_month')}"
    elif ctx.event is None:
        episode = _episode(definition, ctx)
        if episode is None or ctx.state.episodes.get(definition.id) == episode:
            return None
        cause = f"episode:{episode}"
    else:
        cause = ctx.event.event_id
    if not holds(definition.condition, ctx, definition.thresholds, ctx.at.timestamp()):
        return None
    if episode is not None:
        ctx.state.episodes[definition.id] = episode
    compared = comparisons(definition.condition)
    said = describe(senses(definition.condition), ctx, definition.thresholds)
    return Match(
        cause=cause,
        features=recorded_features(compared, ctx),
        detail=f"{definition.name}: {said}.",
        context=ctx,
    )


def _episode(definition: TriggerDefinition, ctx: FeatureContext) -> str | None:
    """Return ``NAME=VALUE`` of the definition's episode feature, ``None`` without a value."""
    name = definition.episode
    value = None if name is None else ctx.value(name)
    if name is None or value is None:
        return None
    text = f"{value:.0f}" if isinstance(value, float) else str(value)
    return f"{name}={text}"


def recorded_features(compared: list[Comparison], ctx: FeatureContext) -> dict[str, float]:
    """Return the numbers a decision records: the compared features and their inputs.

    Only this definition's own features, so a record never depends on which other
    definitions were evaluated on the same event.
    """
    names = [c.feature for c in compared]
    names += [dep for name in names for dep in DEPENDS.get(name, ())]
    values = {name: ctx.value(name) for name in dict.fromkeys(names)}
    return {name: value for name, value in values.items() if isinstance(value, float)}


def message_values(ctx: FeatureContext) -> dict[str, str]:
    """Return every feature that has a value, formatted by its unit for messages."""
    values = {}
    for name, feature in FEATURES.items():
        value = ctx.value(name)
        if value is not None:
            values[name] = format_value(value, feature.unit)
    return values
