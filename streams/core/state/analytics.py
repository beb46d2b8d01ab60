"""What the analytics half of the record is kept with: visits, scores and patterns, as data.

One object so the core's entry points take one argument for all three, and the worker
can swap it whole when new weights or rules are applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import yaml

from schemas.patterns import PatternRules, validate_patterns
from schemas.scores import ScoreModel
from streams.core.state.scores import default_score_model
from streams.core.state.visits import VisitPolicy


@cache
def default_pattern_rules() -> PatternRules:
    """Return the shipped pattern rules (``streams/catalogue/patterns.yaml``), validated."""
    text = resources.files("streams.catalogue").joinpath("patterns.yaml").read_text()
    rules = validate_patterns(yaml.safe_load(text))
    if isinstance(rules, list):
        msg = "the shipped patterns.yaml is invalid:\n  " + "\n  ".join(rules)
        raise ValueError(msg)
    return rules


@dataclass(frozen=True, slots=True)
class Analytics:
    """How visits are cut, how scores are weighed, which pattern rules label users."""

    visits: VisitPolicy = field(default_factory=VisitPolicy)
    scores: ScoreModel = field(default_factory=default_score_model)
    patterns: PatternRules = field(default_factory=default_pattern_rules)
