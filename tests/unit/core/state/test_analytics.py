"""Score weights and pattern rules applied on the definitions topic, and refused ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


EXPERIMENT: dict[str, Any] = {
    "id": "quote_message", "name": "Quote message", "trigger": "quote_nudge",
    "varies": "message",
    "variants": [{"id": "control", "control": True, "message": False}, {"id": "nudged"}],
    "metrics": [{"name": "purchase", "events": ["purchase"]}],
}  # fmt: skip
FUNNEL: dict[str, Any] = {
    "id": "quotes", "name": "Quotes", "within": "7d",
    "steps": [{"event": "quote_request"}, {"event": "purchase"}],
}  # fmt: skip


def doc(document: dict[str, Any], **changes: Any) -> bytes:
    return json.dumps(document | changes).encode()


@pytest.mark.parametrize(
    ("entries", "running", "funnels", "refused"),
    [
        ({b"experiment:quote_message": doc(EXPERIMENT)}, ["quote_message"], 2, {}),
        ({b"funnel:quotes": doc(FUNNEL)}, [], 3, {}),
        # not JSON; invalid; under another id's key
        ({b"experiment:x": b"\xff{"}, [], 2, {"experiment:x": "valid dictionary"}),
        ({b"funnel:quotes": doc(FUNNEL, within="400d")}, [], 2, {"funnel:quotes": "within"}),
        (
            {b"experiment:other": doc(EXPERIMENT)},
            [],
            2,
            {"experiment:other": "is published under the key"},
        ),  # fmt: skip
        # a second running experiment on the same trigger: the first by key runs
        (
            {
                b"experiment:quote_message": doc(EXPERIMENT),
                b"experiment:quote_second": doc(EXPERIMENT, id="quote_second"),
            },
            ["quote_message"],
            2,
            {"experiment:quote_second": "both run on trigger"},
        ),  # fmt: skip
        # stopped, it is in force (still attributing) but runs on nothing
        ({b"experiment:quote_message": doc(EXPERIMENT, status="stopped")}, [], 2, {}),
    ],
)
def test_experiment_and_funnel_entries_are_applied_or_refused_with_the_reason(
    entries: dict[bytes, bytes], running: list[str], funnels: int, refused: dict[str, str]
) -> None:
    applied = analytics_from(entries, VisitPolicy())
    experiments = applied.analytics.experiments
    assert [d.id for d in experiments.by_trigger.values()] == running
    assert len(applied.analytics.funnels.definitions) == funnels
    assert set(applied.refused) == set(refused)
    for key, reason in refused.items():
        assert any(reason in problem for problem in applied.refused[key]), applied.refused[key]
