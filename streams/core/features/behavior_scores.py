"""Features of the behaviour scores: engagement, interest, intent and conversion, 0-100.

The first three are the record's points faded to the evaluation's time
(``streams.core.state.scores``). The conversion probability is read from the record:
recent activity (visits in the last ``recent_days``, full at ``recent_visits``), funnel
progress (the furthest step of the funnel taken in the last ``funnel_days``) and the
engagement score, weighted (``schemas.scores.ConversionRule``).
"""

from __future__ import annotations

from collections.abc import Mapping

from schemas.scores import ScoreModel, ScoreName
from streams.core.features.context import Feature, FeatureContext, Value
from streams.core.state.scores import default_score_model, score_at
from streams.core.units import day_number


def _model(ctx: FeatureContext) -> ScoreModel:
    return ctx.score_model or default_score_model()


def _score(name: ScoreName) -> Feature:
    def score(ctx: FeatureContext) -> Value:
        return score_at(ctx.state.scores, name, ctx.at.timestamp(), _model(ctx))

    return score


def _conversion(ctx: FeatureContext) -> Value:
    rule = _model(ctx).conversion
    today = day_number(ctx.at)
    visits = sum(
        totals[0]
        for day, totals in ctx.state.visit_days.items()
        if today - rule.recent_days < day <= today
    )
    recent = min(visits / rule.recent_visits, 1.0)
    since = ctx.at.timestamp() - rule.funnel_days * 86_400
    reached = [
        i for i, step in enumerate(rule.funnel, 1) if ctx.state.last_seen.get(step, 0) >= since
    ]
    funnel = max(reached, default=0) / len(rule.funnel)
    engagement = score_at(ctx.state.scores, "engagement", ctx.at.timestamp(), _model(ctx)) / 100
    weights = rule.weights
    value = (
        weights["recent_activity"] * recent + weights["funnel"] * funnel
        + weights["engagement"] * engagement
    )  # fmt: skip
    return round(100 * value, 1)


COMPUTE: Mapping[str, Feature] = {
    "engagement_score": _score("engagement"),
    "interest_score": _score("interest"),
    "intent_score": _score("intent"),
    "conversion_probability": _conversion,
}

DEPENDS: Mapping[str, tuple[str, ...]] = {}
