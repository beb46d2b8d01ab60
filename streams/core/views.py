"""What the query API shows of a user's record, and how it lays out a decision.

Pure functions over a record and the definitions in force (``schemas.api`` holds the
answers' shapes): the worker that owns the user calls them on a copy of the live record,
so a read never changes what the worker decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from schemas.api import (
    Comparison,
    DecisionView,
    Evaluation,
    ExperimentArm,
    HeldSend,
    PersonalizationView,
    Recommendation,
    UserView,
    WhyView,
)
from schemas.features import FEATURES, FeatureKind
from schemas.triggers import TriggerDefinition, parse_duration, senses
from streams.core.features.registry import COMPUTE, scheduled_context
from streams.core.patterns.snapshot import snapshot
from streams.core.state.analytics import Analytics
from streams.core.state.record import UserState
from streams.core.triggers.conditions import resolve
from streams.core.units import SECONDS_PER_DAY

#: Features that describe the user's usual behaviour: ``baselines`` in a user's view.
BASELINE_WORDS = ("baseline", "usual", "average", "typical")


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def user_view(  # noqa: PLR0913 - one view: whose, what, when, by which rules, where, history
    user_id: str,
    state: UserState,
    now: datetime,
    analytics: Analytics,
    *,
    served_by: str,
    decisions: list[DecisionView] | None = None,
    recommendations: list[Recommendation] | None = None,
) -> UserView:
    """Return what Nudge knows about a user at ``now``.

    Args:
        user_id: Whose record it is.
        state: A copy of the record (features cache on it; the live one is not touched).
        now: The worker's clock.
        analytics: The score weights, peers and rules in force.
        served_by: The answering worker's URL.
        decisions: The user's recent decisions from PostgreSQL, ``None`` if unread.
        recommendations: Alert recommendations from PostgreSQL, ``None`` if unread.
    """
    ctx = scheduled_context(user_id, state, now, analytics.scores, analytics.peers)
    features: dict[str, float | str | bool | None] = {}
    for name in COMPUTE:  # the event's features are None: a read has no event
        value = ctx.value(name)
        if value is not None:
            features[name] = value
    baselines = {
        name: float(value)
        for name, value in features.items()
        if isinstance(value, int | float)
        and not isinstance(value, bool)
        and any(word in name for word in BASELINE_WORDS)
    }
    return UserView(
        user_id=user_id,
        as_of=now,
        partition=state.partition,
        served_by=served_by,
        analytics=snapshot(ctx, now.timestamp(), "api"),
        baselines=baselines,
        features=features,
        last_fired={trigger: _moment(at) for trigger, at in sorted(state.last_fired.items())},
        held_sends=[held_send(held) for held in state.pending],
        experiments=[
            ExperimentArm(experiment=name, variant=str(arm[0]), exposed_at=_moment(arm[1]))
            for name, arm in sorted(state.experiments.items())
        ],
        personalization=state.personalization,
        recent_decisions=decisions,
        recommendations=recommendations,
    )


def held_send(held: Mapping[str, Any]) -> HeldSend:
    """Return what a held command (a ``SendCommunication`` as JSON) says of itself."""
    send_at = held.get("send_at")
    return HeldSend(
        command_id=str(held.get("command_id", "")),
        trigger_id=held.get("trigger_id"),
        channel=held.get("channel"),
        send_at=datetime.fromisoformat(send_at) if isinstance(send_at, str) else None,
    )


def personalization_view(
    user_id: str, state: UserState, analytics: Analytics
) -> PersonalizationView:
    """Return the personalization rule that applies to the user, with its content."""
    rule = next((r for r in analytics.personalization.rules if r.id == state.personalization), None)
    return PersonalizationView(
        user_id=user_id,
        rule_id=state.personalization,
        rule=None if rule is None else rule.model_dump(mode="json", by_alias=True),
        pattern=state.pattern,
        segments=sorted(state.segments),
    )


def laid_out(definition: TriggerDefinition | None, decision: DecisionView) -> Evaluation:
    """Return a decision with each comparison of the trigger's condition judged again.

    The condition is the one in force now: if the trigger changed since, a comparison may
    not be the one the decision was made on (the decision's ``detail`` is).
    """
    if definition is None:
        return Evaluation(decision=decision, comparisons=[])
    at = decision.occurred_at.timestamp()
    laid = []
    for node, negated in senses(definition.condition):
        expected = resolve(node.value, definition.thresholds)
        value = decision.features.get(node.feature)
        held = _holds(node.op, node.feature, value, expected, at)
        laid.append(
            Comparison(
                feature=node.feature,
                op=node.op,
                threshold=expected,
                value=value,
                negated=negated,
                holds=None if held is None else held != negated,
            )
        )
    return Evaluation(decision=decision, comparisons=laid)


def _holds(op: str, feature: str, value: float | None, expected: Any, at: float) -> bool | None:
    """Judge one comparison from a recorded number; ``None`` when a number cannot tell."""
    kind = FEATURES[feature].kind if feature in FEATURES else None
    if value is None or kind not in (FeatureKind.NUMBER, FeatureKind.MOMENT):
        return None
    if op == "within":
        return abs(at - value) <= parse_duration(expected)
    if op == "between":
        low, high = expected
        return bool(low <= value <= high)
    if op == "in":
        return value in expected
    checks = {
        "gt": value > expected if _number(expected) else None,
        "gte": value >= expected if _number(expected) else None,
        "lt": value < expected if _number(expected) else None,
        "lte": value <= expected if _number(expected) else None,
        "eq": value == expected,
        "ne": value != expected,
    }
    return checks.get(op)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def why_view(  # noqa: PLR0913 - the question, the record, the rules and the history
    user_id: str,
    trigger_id: str | None,
    definitions: Iterable[TriggerDefinition],
    decisions: list[DecisionView],
    *,
    last_fired: float | None = None,
) -> WhyView:
    """Answer "why did (or didn't) this user get that message?" from recorded decisions.

    Args:
        user_id: Whose decisions.
        trigger_id: The trigger asked about, or ``None`` for every trigger.
        definitions: The definitions in force.
        decisions: The user's decisions (of that trigger), newest first.
        last_fired: When the trigger last fired for the user (the live record), if known.
    """
    by_id = {definition.id: definition for definition in definitions}
    definition = by_id.get(trigger_id) if trigger_id else None
    evaluations = [laid_out(by_id.get(d.trigger_id), d) for d in decisions]
    if not decisions:
        note = (
            "no evaluation recorded: the trigger's condition never held for this user "
            "(or the trigger never ran for them) within the retention"
        )
    else:
        fired = sum(1 for d in decisions if d.outcome == "fired")
        note = f"{len(decisions)} evaluation(s), {fired} fired; newest first"
    return WhyView(
        user_id=user_id,
        trigger_id=trigger_id,
        definition=(
            None if definition is None else definition.model_dump(mode="json", by_alias=True)
        ),
        cooldown_days=None if definition is None else definition.cooldown / SECONDS_PER_DAY,
        last_fired_at=None if last_fired is None else _moment(last_fired),
        evaluations=evaluations,
        note=note,
    )


def render_why(answer: WhyView) -> str:
    """Return the answer as text: one block per evaluation, newest first."""
    about = answer.trigger_id or "every trigger"
    lines = [f"why: user {answer.user_id}, {about}: {answer.note}"]
    if answer.cooldown_days is not None:
        lines.append(f"  cooldown {answer.cooldown_days:g} days")
    lines.extend(line for evaluation in answer.evaluations for line in _block(evaluation))
    return "\n".join(lines)


def _block(evaluation: Evaluation) -> list[str]:
    decision = evaluation.decision
    outcome = decision.outcome + (f" ({decision.reason})" if decision.reason else "")
    lines = [
        f"- {decision.occurred_at:%Y-%m-%d %H:%M} {decision.trigger_id}: {outcome}",
        f"    {decision.detail}",
    ]
    for c in evaluation.comparisons:
        judged = {True: "holds", False: "does not hold", None: _unjudged(c.feature)}[c.holds]
        value = "-" if c.value is None else f"{c.value:g}"
        op = f"not {c.op}" if c.negated else c.op
        lines.append(f"    {c.feature} = {value}  {op} {c.threshold}  -> {judged}")
    return lines


def _unjudged(feature: str) -> str:
    """Say why a comparison cannot be judged from the decision's recorded numbers."""
    kind = FEATURES[feature].kind if feature in FEATURES else None
    if kind in (FeatureKind.NUMBER, FeatureKind.MOMENT):
        return "not recorded"
    return "not a number, not recorded (the sentence above gives its value)"
