"""Pattern rules: which label describes a user now, as data (like trigger definitions).

Each user carries one pattern label: ``high_intent``, ``qualified_interest``,
``researching``, ``exploring`` or ``at_risk``. The rules (``streams/catalogue/patterns.yaml``)
are tried in order and the first whose condition holds gives the label and the insight
recorded when the label changes ("form abandonment detected"). A rule without a
condition always holds: the last one is the default. Conditions use the trigger
definitions' language over any feature (``schemas.triggers.Condition``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.triggers import Condition, validate_rules

PatternLabel = Literal["high_intent", "qualified_interest", "researching", "exploring", "at_risk"]

#: Every label, most urgent first (the order the reports list them in).
PATTERN_LABELS: tuple[PatternLabel, ...] = (
    "at_risk", "high_intent", "qualified_interest", "researching", "exploring",
)  # fmt: skip


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PatternRule(_Strict):
    """One rule: the label it gives, the insight it records, and when it holds."""

    label: PatternLabel
    insight: Annotated[str, Field(min_length=1, max_length=120)]
    when: Condition | None = None


class PatternRules(_Strict):
    """The rules, tried in order (``streams/catalogue/patterns.yaml``)."""

    version: Annotated[int, Field(ge=1)]
    rules: Annotated[list[PatternRule], Field(min_length=1, max_length=50)]

    @model_validator(mode="after")
    def _ends_with_a_default(self) -> PatternRules:
        if self.rules[-1].when is not None:
            msg = "rules: the last rule must have no condition (the default label)"
            raise ValueError(msg)
        return self


def validate_patterns(document: Any) -> PatternRules | list[str]:
    """Return the rules, or every problem as ``path: reason``."""
    return validate_rules(document, PatternRules)
