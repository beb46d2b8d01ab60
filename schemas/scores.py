"""The behaviour scores' weights: data, validated like trigger definitions.

Four scores of 0 to 100 describe each user (``streams/catalogue/scores.yaml`` ships the
weights; ``streams.core.state.scores`` keeps them up to date):

- **engagement**, **interest** and **intent** gain points from events (by event type, and
  for pages, videos and downloads by page category), decay in event time with a
  half-life each, and read as at most 100;
- **conversion** (a probability, in percent) is computed when read, from recent activity
  (visits in the last days), funnel progress (the furthest funnel step taken lately) and
  the engagement score, weighted.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.events import EVENT_TYPES, PageCategory

#: Event types whose payload carries a page category: their points may depend on it.
CATEGORISED_EVENTS = frozenset({"page_view", "video_play", "download"})

#: The derived event a return visit is: a visit on a day after one without any.
RETURN_VISIT = "return_visit"

ScoreName = Literal["engagement", "interest", "intent"]
Points = Annotated[float, Field(ge=0, le=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PointsRule(_Strict):
    """How one score grows and fades.

    Attributes:
        half_life_days: Event-time days after which a point counts half.
        points: Event type (or ``return_visit``) -> points, or for events with a page
            category, category -> points (categories not named give ``other``'s, or 0).
    """

    half_life_days: Annotated[float, Field(gt=0, le=365)]
    points: dict[str, Points | dict[PageCategory, Points]]

    @model_validator(mode="after")
    def _known_events(self) -> PointsRule:
        for event_type, value in self.points.items():
            if event_type not in EVENT_TYPES and event_type != RETURN_VISIT:
                msg = f"points: unknown event type {event_type!r}"
                raise ValueError(msg)
            if isinstance(value, dict) and event_type not in CATEGORISED_EVENTS:
                msg = f"points.{event_type}: only {sorted(CATEGORISED_EVENTS)} have categories"
                raise ValueError(msg)
        return self


class ConversionRule(_Strict):
    """How the conversion probability is read.

    Attributes:
        recent_days: Visits over these last days count as recent activity.
        recent_visits: Visits in them that count as full activity (fewer: a share).
        funnel_days: A funnel step counts when taken within these last days.
        funnel: The funnel's steps (event types), first to last.
        weights: Shares of recent activity, funnel progress and engagement (sum 1).
    """

    recent_days: Annotated[int, Field(ge=1, le=30)] = 7
    recent_visits: Annotated[int, Field(ge=1, le=100)] = 5
    funnel_days: Annotated[int, Field(ge=1, le=365)] = 30
    funnel: Annotated[list[str], Field(min_length=1, max_length=10)]
    weights: dict[
        Literal["recent_activity", "funnel", "engagement"], Annotated[float, Field(ge=0, le=1)]
    ]

    @model_validator(mode="after")
    def _valid(self) -> ConversionRule:
        unknown = [step for step in self.funnel if step not in EVENT_TYPES]
        if unknown:
            msg = f"funnel: unknown event types {unknown}"
            raise ValueError(msg)
        if set(self.weights) != {"recent_activity", "funnel", "engagement"}:
            msg = "weights: give recent_activity, funnel and engagement"
            raise ValueError(msg)
        if abs(sum(self.weights.values()) - 1) > 1e-9:
            msg = f"weights: must add up to 1, not {sum(self.weights.values()):g}"
            raise ValueError(msg)
        return self


class ScoreModel(_Strict):
    """The weights of every score (``streams/catalogue/scores.yaml``)."""

    version: Annotated[int, Field(ge=1)]
    engagement: PointsRule
    interest: PointsRule
    intent: PointsRule
    conversion: ConversionRule

    def rule(self, name: ScoreName) -> PointsRule:
        """Return the points rule of one accumulated score."""
        rule: PointsRule = getattr(self, name)
        return rule


#: The accumulated scores, in the order the record keeps them.
SCORE_NAMES: tuple[ScoreName, ...] = ("engagement", "interest", "intent")


def validate_scores(document: object) -> ScoreModel | list[str]:
    """Return the model, or every problem as ``path: reason``."""
    try:
        return ScoreModel.model_validate(document)
    except ValidationError as exc:
        return [
            f"{'.'.join(str(part) for part in error['loc']) or '(top)'}: {error['msg']}"
            for error in exc.errors()
        ]
