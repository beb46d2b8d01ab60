"""The behaviour scores in the user's record: points gained, faded in event time.

``UserState.scores`` is ``[at, engagement, interest, intent]``: each score's points,
faded to ``at`` (epoch seconds, the newest event that scored), uncapped. An event scores
``ScoreModel`` points (``schemas.scores``); they are added faded to ``at`` when the event
is older than it, and every score fades to the event's time when it is newer, so the
result does not depend on the order events arrive in (but for rounding to 0.001). A
score is read (``score_at``) faded to the time asked, and capped at 100.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from schemas.events import Event
from schemas.scores import (
    CATEGORISED_EVENTS,
    RETURN_VISIT,
    SCORE_NAMES,
    PointsRule,
    ScoreModel,
    ScoreName,
    validate_scores,
)
from streams.core.state.shipped import shipped

_DAY = 86_400.0
#: Scores are kept to this many decimals.
_DECIMALS = 3


@cache
def default_score_model() -> ScoreModel:
    """Return the shipped weights (``streams/catalogue/scores.yaml``), validated."""
    return shipped("scores.yaml", validate_scores)


def fade(value: float, seconds: float, half_life_days: float) -> float:
    """Return ``value`` after ``seconds`` of a half-life of ``half_life_days``."""
    faded: float = value * 0.5 ** (seconds / (half_life_days * _DAY))
    return faded


def points_of(rule: PointsRule, event_type: str, category: str | None = None) -> float:
    """Return the points ``rule`` gives an event of ``event_type`` (and page ``category``)."""
    value = rule.points.get(event_type)
    if value is None:
        return 0.0
    if isinstance(value, dict):
        points: float = value.get(category or "other", value.get("other", 0.0))  # type: ignore[call-overload]
        return float(points)
    return float(value)


def event_points(model: ScoreModel, event: Event, *, return_visit: bool) -> list[float]:
    """Return the points ``event`` scores, per accumulated score (``SCORE_NAMES`` order)."""
    category = (
        getattr(event.payload, "category", None) if event.type in CATEGORISED_EVENTS else None
    )
    name = None if category is None else str(category)
    gains = []
    for score in SCORE_NAMES:
        rule = model.rule(score)
        gain = points_of(rule, event.type, name)
        if return_visit:
            gain += points_of(rule, RETURN_VISIT)
        gains.append(gain)
    return gains


def add_points(
    scores: list[float], at: float, gains: Sequence[float], model: ScoreModel
) -> list[float]:
    """Return ``scores`` (``UserState.scores``) with ``gains`` scored at ``at``."""
    if not any(gains):
        return scores
    moment = int(at)
    if not scores:
        scores = [moment, 0.0, 0.0, 0.0]
    reference = scores[0]
    rules = [model.rule(score) for score in SCORE_NAMES]
    values = scores[1:]
    if moment > reference:
        values = [
            fade(v, moment - reference, r.half_life_days)
            for v, r in zip(values, rules, strict=True)
        ]
        reference = moment
    values = [
        round(v + fade(g, reference - moment, r.half_life_days), _DECIMALS)
        for v, g, r in zip(values, gains, rules, strict=True)
    ]
    return [reference, *values]


def score_at(scores: Sequence[float], name: ScoreName, at: float, model: ScoreModel) -> float:
    """Return one score (0-100) as it stands at ``at`` (epoch seconds)."""
    if not scores:
        return 0.0
    value = scores[1 + SCORE_NAMES.index(name)]
    elapsed = max(at - scores[0], 0.0)
    return round(min(fade(value, elapsed, model.rule(name).half_life_days), 100.0), 1)
