"""Which personalization rule applies to a user now (``schemas.personalization``).

Judged after the user's pattern and segments (on each fresh event, and in the timer's
segments pass): the highest-priority active rule whose date window holds the day, whose
targets (any of its segments or patterns; none: everyone) include the user, and whose
condition holds, ties going to the first in the file. Its id is kept in the record
(``UserState.personalization``) and its content fills the ``personalization.*`` template
variables of the messages decided in the same evaluation (``FeatureContext.personalization``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.personalization import PersonalizationRule, PersonalizationRules
from streams.core.features.context import FeatureContext
from streams.core.triggers.conditions import holds


def matches(rule: PersonalizationRule, ctx: FeatureContext, at: float) -> bool:
    """Whether ``rule`` applies to the user at ``at`` (epoch seconds)."""
    if rule.status != "active":
        return False
    state = ctx.state
    if (rule.segments or rule.patterns) and not (
        state.pattern in rule.patterns
        or any(s in state.segments for s in rule.segments)
        or bool(set(rule.segments) & set(state.profile.get("segments", ())))
    ):
        return False
    if rule.starts or rule.ends:
        day = datetime.fromtimestamp(at, UTC).date()
        if (rule.starts and day < rule.starts) or (rule.ends and day > rule.ends):
            return False
    return rule.when is None or holds(rule.when, ctx, {}, at)


def choose(
    ctx: FeatureContext, rules: PersonalizationRules, at: float
) -> PersonalizationRule | None:
    """Return the rule that applies to the user now, or ``None``."""
    best: PersonalizationRule | None = None
    for rule in rules.rules:
        if (best is None or rule.priority > best.priority) and matches(rule, ctx, at):
            best = rule
    return best


def update_personalization(ctx: FeatureContext, rules: PersonalizationRules, at: float) -> bool:
    """Keep the applying rule in the record and on ``ctx``; return whether it changed."""
    rule = choose(ctx, rules, at)
    ctx.personalization = rule
    chosen = rule.id if rule is not None else None
    changed = chosen != ctx.state.personalization
    ctx.state.personalization = chosen
    return changed
