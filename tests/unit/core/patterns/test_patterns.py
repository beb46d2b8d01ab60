"""Pattern labels by rules as data: each shipped rule, the insight, changed_to, the timer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.patterns import PatternRules, validate_patterns
from schemas.records import PATTERN_CHANGE_TRIGGER_ID
from schemas.triggers import TriggerDefinition
from streams.core.behavior.change import BehaviorPolicy
from streams.core.decisions.process import process, process_idle
from streams.core.rendering import default_catalogue
from streams.core.state.record import UserState
from tests.unit.factories import START, event

CATALOGUE = default_catalogue()
PAGE = {"type": "page_view", "path": "/"}
PRICING = {"type": "page_view", "path": "/pricing", "category": "pricing"}
CONTENT = [
    PRICING,
    {"type": "page_view", "path": "/features", "category": "features"},
    {"type": "page_view", "path": "/compare", "category": "comparison"},
]
QUOTE = {"type": "quote_request", "product": "car"}
APPLICATION = {"type": "application_start", "application_id": "a", "product": "loan"}


def run(
    steps: list[tuple[float, dict[str, Any]]], definitions: list[TriggerDefinition] | None = None
) -> tuple[UserState, list[Any]]:
    """Process events ``hours`` after START, each fresh; return the record and decisions."""
    state = UserState()
    decisions = []
    for hours, payload in steps:
        item = event("ada", START + timedelta(hours=hours), payload)
        result = process(state, item, definitions or [], CATALOGUE, now=item.occurred_at,
                         max_event_age_seconds=86_400)  # fmt: skip
        decisions += result.decisions
    return state, decisions


@pytest.mark.parametrize(
    ("steps", "label"),
    [
        ([(0, PAGE)], "exploring"),
        ([(0, PAGE), (30, PAGE), (60, PAGE)], "researching"),  # three visits in a week
        ([(0, PRICING)], "researching"),  # interest 6 >= 5
        # Four days of pricing, features and comparison pages, an email click, then a
        # form: interest 64, engagement 16.6 (but no intent, and a conversion chance of 53).
        (
            [(h + m, page) for h in range(0, 96, 24) for m, page in enumerate(CONTENT)]
            + [(96.5, {"type": "email_click", "url": "https://x"})]
            + [(97, {"type": "form_start", "form_id": "f"})],
            "qualified_interest",
        ),  # fmt: skip
        (
            [
                (0, PAGE),
                (0.1, {"type": "quote_request", "product": "car"}),
                (0.2, {"type": "application_start", "application_id": "a", "product": "loan"}),
            ],
            "high_intent",
        ),  # fmt: skip
        (
            [
                (0, PRICING),
                (0.1, {"type": "form_start", "form_id": "f"}),
                (0.2, {"type": "form_abandon", "form_id": "f"}),
            ],
            "at_risk",
        ),  # fmt: skip
        (
            [
                (0, {"type": "form_abandon", "form_id": "f"}),
                (1, {"type": "form_submit", "form_id": "f"}),
            ],
            "exploring",
        ),  # went on: no longer news  # fmt: skip
    ],
)
def test_each_rule_gives_its_label(steps: list[tuple[float, dict[str, Any]]], label: str) -> None:
    state, _ = run(steps)
    assert state.pattern == label


def test_a_change_of_label_is_an_insight_with_the_rules_sentence() -> None:
    steps = [(0, PRICING), (0.1, {"type": "form_start", "form_id": "f"}),
             (0.2, {"type": "form_abandon", "form_id": "f"})]  # fmt: skip
    state, decisions = run(steps)
    insights = [d for d in decisions if d.trigger_id == PATTERN_CHANGE_TRIGGER_ID]
    changes = [d.pattern_change for d in insights]
    assert [(c.from_label, c.to_label, c.insight) for c in changes if c] == [
        ("researching", "at_risk", "form abandonment detected")
    ]
    assert insights[0].command_ids == [] and insights[0].outcome.value == "fired"
    assert "interest_score" in insights[0].features


def test_the_first_label_is_not_news() -> None:
    _, decisions = run([(0, PAGE)])
    assert decisions == []


def test_triggers_see_the_new_label_with_changed_to() -> None:
    definition = TriggerDefinition.model_validate(
        {
            "id": "hot_lead_alert", "name": "Hot lead", "type": "behavioral",
            "category": "lead_journey", "evaluate_on": {"events": ["application_start"]},
            "condition": {"feature": "pattern", "changed_to": "high_intent"},
            "cooldown": "1d", "priority": "high",
            "channels": [{"channel": "email", "template": "high_intent_follow_up.email"}],
        }
    )  # fmt: skip
    _, decisions = run([(0, PAGE), (0.05, QUOTE), (0.1, APPLICATION)], [definition])
    assert [d.trigger_id for d in decisions] == [PATTERN_CHANGE_TRIGGER_ID, "hot_lead_alert"]


def test_the_timer_finds_a_user_gone_quiet() -> None:
    state, _ = run([(0, PAGE), (30, PAGE), (60, PAGE)])
    assert state.pattern == "researching"
    later = START + timedelta(days=20)
    result = process_idle("ada", state, [], CATALOGUE, now=later, behavior=BehaviorPolicy())
    (insight,) = [d for d in result.decisions if d.trigger_id == PATTERN_CHANGE_TRIGGER_ID]
    assert insight.pattern_change.insight == "no recent activity"  # type: ignore[union-attr]
    assert state.pattern == "at_risk" and result.judged  # the record is to be stored


def test_a_user_with_no_web_activity_gets_no_label() -> None:
    state, decisions = run([(0, {"type": "transaction", "amount": "5.00"})])
    assert state.pattern is None and decisions == []


def test_the_rules_are_data_and_are_validated() -> None:
    document = yaml.safe_load(Path("streams/catalogue/patterns.yaml").read_text())
    assert isinstance(validate_patterns(document), PatternRules)
    document["rules"][0]["when"] = {"feature": "form_abandond", "eq": True}
    document["rules"][1]["label"] = "lukewarm"
    problems = validate_patterns(document)
    assert isinstance(problems, list)
    text = "\n".join(problems)
    assert "unknown feature 'form_abandond'" in text and "rules.1.label" in text
    document = yaml.safe_load(Path("streams/catalogue/patterns.yaml").read_text())
    document["rules"] = document["rules"][:-1]
    assert "the last rule must have no condition" in "\n".join(validate_patterns(document))  # type: ignore[arg-type]
