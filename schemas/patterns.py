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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.triggers import Condition, condition_problem

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
    if isinstance(document, dict) and isinstance(document.get("rules"), list):
        problems = [
            problem
            for index, rule in enumerate(document["rules"])
            if isinstance(rule, dict)
            and (problem := condition_problem(rule.get("when"), f"rules.{index}.when"))
        ]
        if problems:
            return problems
    try:
        return PatternRules.model_validate(document)
    except ValidationError as exc:
        return [
            f"{'.'.join(str(part) for part in error['loc']) or '(top)'}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors(include_url=False, include_input=False)
        ]
