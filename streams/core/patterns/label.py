"""Label each user with a pattern, by rules as data; record an insight when it changes.

The rules (``schemas.patterns``) are tried in order on the evaluation's features; the
first that holds gives the label. It is kept in the record (``UserState.pattern``) and
read by the ``pattern`` feature, so triggers see the new label (``changed_to``) on the
event that changed it. Users with no web, app or email activity yet get no label. A
change from one label to another is a ``pattern_change`` decision; the first label a
user gets is not news.
"""

from __future__ import annotations

from schemas.ids import decision_id
from schemas.patterns import PatternRule, PatternRules
from schemas.records import PATTERN_CHANGE_TRIGGER_ID, Outcome, PatternChange, TriggerDecision
from streams.core.features.context import FeatureContext
from streams.core.triggers.conditions import holds

#: Features a pattern change records beside the labels.
RECORDED = ("engagement_score", "interest_score", "intent_score", "conversion_probability")


def matching_rule(ctx: FeatureContext, rules: PatternRules) -> PatternRule:
    """Return the first rule that holds (the last has no condition, so one always does)."""
    now = ctx.at.timestamp()
    for rule in rules.rules:
        if rule.when is None or holds(rule.when, ctx, {}, now):
            return rule
    return rules.rules[-1]


def update_pattern(ctx: FeatureContext, rules: PatternRules) -> TriggerDecision | None:
    """Give the user the label the rules say now; return the insight if it changed.

    Args:
        ctx: The evaluation (an event's, or the timer's); its record is changed in place.
        rules: The pattern rules.
    """
    state = ctx.state
    if not state.visit_days and not state.visits:
        return None  # no web, app or email activity: nothing to label
    rule = matching_rule(ctx, rules)
    previous = state.pattern
    if rule.label == previous:
        return None
    state.pattern = rule.label
    if previous is None:
        return None
    cause = ctx.event.event_id if ctx.event else f"day:{ctx.at.date().isoformat()}"
    return TriggerDecision(
        decision_id=decision_id(PATTERN_CHANGE_TRIGGER_ID, ctx.user_id, f"{rule.label}:{cause}"),
        user_id=ctx.user_id,
        trigger_id=PATTERN_CHANGE_TRIGGER_ID,
        outcome=Outcome.FIRED,
        detail=f"Pattern {previous} -> {rule.label}: {rule.insight}.",
        source_event_id=ctx.event.event_id if ctx.event else None,
        event_type=ctx.event.type if ctx.event else None,
        occurred_at=ctx.at,
        features={
            name: float(value) for name in RECORDED if isinstance(value := ctx.value(name), float)
        },
        command_ids=[],
        pattern_change=PatternChange(
            from_label=previous, to_label=rule.label, insight=rule.insight
        ),
    )
