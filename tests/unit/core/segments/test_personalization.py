"""Personalization rules: which rule applies, by priority, targets, condition and dates,
and its content in the messages decided in the same evaluation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from schemas.personalization import (
    PERSONALIZATION_RULE,
    PersonalizationRules,
    validate_personalization,
)
from streams.core.decisions.process import process
from streams.core.rendering import default_catalogue
from streams.core.state.analytics import (
    PERSONALIZATION_KEY,
    Analytics,
    analytics_from,
    default_personalization,
)
from streams.core.state.record import UserState
from streams.core.state.visits import VisitPolicy
from streams.core.triggers.catalogue import default_definitions
from tests.unit.factories import START, event

CATALOGUE = default_catalogue()
PAGE = {"type": "page_view", "path": "/"}
PRICING = {"type": "page_view", "path": "/pricing", "category": "pricing"}
QUOTE = {"type": "quote_request", "product": "car"}
APPLICATION = {"type": "application_start", "application_id": "a", "product": "loan"}


def rules(*items: dict[str, Any]) -> PersonalizationRules:
    found = validate_personalization({"version": 1, "rules": [
        {"name": item["id"], "content": {"any": {"headline": f"for {item['id']}"}}, **item}
        for item in items
    ]})  # fmt: skip
    assert isinstance(found, PersonalizationRules), found
    return found


def run(steps: list[tuple[float, dict[str, Any]]], analytics: Analytics) -> tuple[UserState, Any]:
    state, result = UserState(), None
    definitions = default_definitions()
    for hours, payload in steps:
        item = event("ada", START + timedelta(hours=hours), payload, event_id=f"e-{hours}")
        result = process(state, item, definitions, CATALOGUE, now=item.occurred_at,
                         max_event_age_seconds=86_400, analytics=analytics)  # fmt: skip
    return state, result


@pytest.mark.parametrize(
    ("items", "chosen"),
    [
        ([{"id": "everyone", "priority": 1}], "everyone"),
        ([{"id": "low", "priority": 1}, {"id": "high", "priority": 5}], "high"),
        ([{"id": "first", "priority": 5}, {"id": "second", "priority": 5}], "first"),
        (
            [{"id": "paused", "priority": 9, "status": "paused"}, {"id": "one", "priority": 1}],
            "one",
        ),  # fmt: skip
        ([{"id": "researchers", "priority": 9, "patterns": ["researching"]}], "researchers"),
        ([{"id": "leads", "priority": 9, "patterns": ["high_intent"]}], None),
        ([{"id": "members", "priority": 9, "segments": ["frequent_browsers"]}], None),
        ([{"id": "cond", "priority": 9, "when": {"feature": "interest_score", "gte": 5}}], "cond"),
        ([{"id": "cond", "priority": 9, "when": {"feature": "interest_score", "gte": 50}}], None),
        ([{"id": "later", "priority": 9, "starts": str(START.date() + timedelta(days=1))}], None),
        ([{"id": "over", "priority": 9, "ends": str(START.date() - timedelta(days=1))}], None),
        (
            [
                {
                    "id": "today",
                    "priority": 9,
                    "starts": str(START.date()),
                    "ends": str(START.date()),
                }
            ],
            "today",
        ),  # fmt: skip
    ],
)
def test_the_highest_priority_matching_rule_applies(
    items: list[dict[str, Any]], chosen: str | None
) -> None:
    state, _ = run([(0, PRICING)], Analytics(personalization=rules(*items)))  # researching
    assert state.pattern == "researching"
    assert state.personalization == chosen


LOOK_AROUND = [(minutes / 60, PRICING) for minutes in range(0, 30, 5)]  # six pages


def test_a_hot_lead_s_follow_up_carries_the_rule_s_offer() -> None:
    # Six pages, an application, then a quote: the high-intent follow-up fires on the
    # quote, and the two (intent 20 + 15) make the lead high_intent.
    state, result = run([*LOOK_AROUND, (0.45, APPLICATION), (0.5, QUOTE)], Analytics())
    assert state.pattern == "high_intent"
    assert state.personalization == "finish_application"
    email = next(c for c in result.commands if c.channel.value == "email")
    assert "Your rate is held for 7 days." in email.body
    assert email.variables[PERSONALIZATION_RULE] == "finish_application"
    assert email.variables["personalization.offer"] == "Your rate is held for 7 days"


def test_without_a_rule_the_catalogue_fallback_is_used_and_no_rule_is_named() -> None:
    analytics = Analytics(personalization=rules())
    _, result = run([*LOOK_AROUND, (0.5, QUOTE)], analytics)
    email = next(c for c in result.commands if c.channel.value == "email")
    assert "Your quote is saved in your account." in email.body
    assert PERSONALIZATION_RULE not in email.variables


def test_rules_applied_on_the_topic_replace_the_shipped_ones_and_bad_ones_are_refused() -> None:
    good = (
        b'{"version": 2, "rules": [{"id": "vip", "name": "VIP", "priority": 1,'
        b' "content": {"email": {"offer": "A gift"}}}]}'
    )
    applied = analytics_from({PERSONALIZATION_KEY: good}, VisitPolicy())
    assert [r.id for r in applied.analytics.personalization.rules] == ["vip"]
    bad = analytics_from({PERSONALIZATION_KEY: b'{"version": 1, "rules": [{"id": "x"}]}'},
                         VisitPolicy())  # fmt: skip
    assert bad.analytics.personalization == default_personalization()
    assert any("rules.0.name" in p for p in bad.refused["analytics:personalization"])


def test_content_per_channel_overrides_any() -> None:
    (rule,) = rules(
        {
            "id": "rul",
            "priority": 1,
            "content": {
                "any": {"headline": "Hello", "offer": "10% off"},
                "sms": {"headline": "Hi"},
            },
        }
    ).rules
    assert rule.content_for("sms") == {
        "personalization.headline": "Hi",
        "personalization.offer": "10% off",
    }
    assert rule.content_for("email")["personalization.headline"] == "Hello"


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"ends": "2026-01-01", "starts": "2026-02-01"}, "rules.0: Value error"),
        ({"content": {"any": {}}}, "rules.0: Value error"),
        ({"patterns": ["nope"]}, "rules.0.patterns.0:"),
        ({"when": {"feature": "nope", "eq": 1}}, "rules.0.when"),
    ],
)
def test_a_bad_rule_is_refused_with_the_field(rule: dict[str, Any], problem: str) -> None:
    document = {
        "version": 1,
        "rules": [
            {"id": "abc", "name": "x", "priority": 1, "content": {"any": {"cta": "Go"}}, **rule}
        ],
    }
    found = validate_personalization(document)
    assert isinstance(found, list)
    assert any(p.startswith(problem.split(":")[0]) for p in found), found


def test_the_shipped_rules_are_valid() -> None:
    shipped = default_personalization()
    assert {r.id for r in shipped.rules} >= {"finish_application", "win_back"}
    assert Analytics().personalization == shipped  # what a worker uses until one is applied
