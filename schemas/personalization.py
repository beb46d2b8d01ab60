"""Personalization rules: what content each user's messages carry, as data.

The specification's personalization engine. Each rule has a priority, targets (live
segments and pattern labels: a user in any of them; none means everyone), an optional
condition in the trigger definitions' language, a window of dates, and content per
channel (or for ``any`` channel): a headline, an offer, a call to action and a
recommended next step. For each user the highest-priority rule that matches (ties: the
first in the file) is kept in the record (``streams.core.segments.personalization``), and
templates use its content as ``{{personalization.headline}}``, ``{{personalization.offer}}``,
``{{personalization.cta}}`` and ``{{personalization.next_step}}``. The rules travel on the
definitions topic under ``analytics:personalization`` (``nudge personalization apply``);
``streams/catalogue/personalization.yaml`` ships some.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.events import Channel, SegmentId
from schemas.patterns import PatternLabel
from schemas.triggers import Condition, validate_rules

#: The content fields a rule gives, each a template variable ``personalization.<field>``.
CONTENT_FIELDS = ("headline", "offer", "cta", "next_step")
#: Template variables the rules fill.
PERSONALIZATION_VARIABLES = tuple(f"personalization.{name}" for name in CONTENT_FIELDS)
#: The command variable naming the rule whose content a message used (reports per rule).
PERSONALIZATION_RULE = "personalization.rule"

Text = Annotated[str, Field(min_length=1, max_length=160)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Content(_Strict):
    """What a rule puts in a message on one channel."""

    headline: Text | None = None
    offer: Text | None = None
    cta: Text | None = None
    next_step: Text | None = None

    def variables(self) -> dict[str, str]:
        """Return the template variables this content fills."""
        values = {name: getattr(self, name) for name in CONTENT_FIELDS}
        return {f"personalization.{k}": v for k, v in values.items() if v is not None}


class PersonalizationRule(_Strict):
    """One rule: whom it is for, when, and the content per channel."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{2,63}$")]
    name: Annotated[str, Field(min_length=1, max_length=120)]
    priority: Annotated[int, Field(ge=0, le=1000)]
    """Higher wins."""
    status: Literal["active", "paused"] = "active"
    segments: list[SegmentId] = []
    patterns: list[PatternLabel] = []
    when: Condition | None = None
    starts: date | None = None
    """First day (UTC) the rule applies."""
    ends: date | None = None
    """Last day (UTC) the rule applies."""
    content: dict[Channel | Literal["any"], Content]

    @model_validator(mode="after")
    def _valid(self) -> PersonalizationRule:
        if self.starts and self.ends and self.ends < self.starts:
            msg = "ends: before starts"
            raise ValueError(msg)
        if not self.content or not any(c.variables() for c in self.content.values()):
            msg = "content: give at least one field (headline, offer, cta, next_step)"
            raise ValueError(msg)
        return self

    def content_for(self, channel: str) -> dict[str, str]:
        """Return the template variables for ``channel`` (its own content over ``any``)."""
        found: dict[str, str] = {}
        for key in ("any", channel):
            content = self.content.get(key)  # type: ignore[call-overload]
            if content is not None:
                found.update(content.variables())
        return found


class PersonalizationRules(_Strict):
    """The rules (``streams/catalogue/personalization.yaml``)."""

    version: Annotated[int, Field(ge=1)]
    rules: Annotated[list[PersonalizationRule], Field(max_length=100)]

    @model_validator(mode="after")
    def _unique(self) -> PersonalizationRules:
        ids = [rule.id for rule in self.rules]
        if len(ids) != len(set(ids)):
            msg = "rules: each id once"
            raise ValueError(msg)
        return self


def validate_personalization(document: Any) -> PersonalizationRules | list[str]:
    """Return the rules, or every problem as ``path: reason``."""
    return validate_rules(document, PersonalizationRules)
