"""Score weights and pattern rules applied on the definitions topic, and refused ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from streams.core.state.analytics import (
    PATTERNS_KEY,
    SCORES_KEY,
    analytics_from,
    default_pattern_rules,
)
from streams.core.state.scores import default_score_model
from streams.core.state.visits import VisitPolicy

SHIPPED_PATTERNS = yaml.safe_load(Path("streams/catalogue/patterns.yaml").read_text())
SHIPPED_SCORES = yaml.safe_load(Path("streams/catalogue/scores.yaml").read_text())


ONLY_THE_DEFAULT = json.dumps(
    {**SHIPPED_PATTERNS, "rules": SHIPPED_PATTERNS["rules"][-1:]}
).encode()


def with_half_life(days: float) -> bytes:
    document = json.loads(json.dumps(SHIPPED_SCORES))
    document["intent"]["half_life_days"] = days
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("entries", "intent_half_life", "rules", "refused"),
    [
        ({}, 10.0, 6, set()),
        ({b"spending_spike": b"{}"}, 10.0, 6, set()),  # a trigger's entry: not ours
        ({SCORES_KEY: with_half_life(3)}, 3.0, 6, set()),
        (
            {
                PATTERNS_KEY: json.dumps(
                    {**SHIPPED_PATTERNS, "rules": SHIPPED_PATTERNS["rules"][-1:]}
                ).encode()
            },
            10.0,
            1,
            set(),
        ),  # fmt: skip
        ({SCORES_KEY: with_half_life(-1)}, 10.0, 6, {"analytics:scores"}),
        ({PATTERNS_KEY: b"not json"}, 10.0, 6, {"analytics:patterns"}),
    ],
)
def test_the_topic_entries_give_the_analytics_in_force(
    entries: dict[bytes, bytes], intent_half_life: float, rules: int, refused: set[str]
) -> None:
    applied = analytics_from(entries, VisitPolicy(gap=600))
    assert applied.analytics.visits == VisitPolicy(gap=600)  # a setting, kept
    assert applied.analytics.scores.intent.half_life_days == intent_half_life
    assert len(applied.analytics.patterns.rules) == rules
    assert set(applied.refused) == refused


def test_a_refused_entry_says_why_and_the_shipped_data_stays() -> None:
    applied = analytics_from({SCORES_KEY: with_half_life(-1)}, VisitPolicy())
    assert applied.analytics.scores == default_score_model()
    assert applied.analytics.patterns == default_pattern_rules()
    assert any("intent.half_life_days" in p for p in applied.refused["analytics:scores"])
