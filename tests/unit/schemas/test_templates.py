"""Message templates as data: the schema, the registry of variables, the SMS length check."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from schemas.features import FEATURES
from schemas.templates import (
    SMS_LIMIT,
    VARIABLES,
    MessageTemplate,
    fallback_problems,
    longest_sms,
    sms_length,
    validate_template,
)
from streams.core.features.context import format_value
from tests.paths import ROOT

TEMPLATES = ROOT / "streams" / "templates"
#: A 100-character SMS of plain text, to pad a body towards the limit.
PAD = "x" * 100


def template(**fields: Any) -> dict[str, Any]:
    return {"id": "hello", "version": 1, "sms": "Hi {{user_name}}", **fields}


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (
            template(scope="intervention", sms="{{user_name}}: {{amount}} due"),
            "sms.body: {{amount}} is known only to a <type>_due message",
        ),
        # unknown variables: named with the channel and part they are in
        (template(sms="Hi {{first_name}}"), "sms.body: unknown variable {{first_name}}"),
        (
            template(email={"subject": "{{nope}}", "body": "b"}),
            "email.subject: unknown variable {{nope}}",
        ),
        (template(push={"body": "{{personalization.price}}"}), "push.body: unknown variable"),
        # an intervention variable is not a trigger variable, nor the other way round
        (template(sms="Due {{amount}}"), "sms.body: unknown variable {{amount}}"),
        (
            template(scope="intervention", sms="{{spend_week}}"),
            "sms.body: unknown variable {{spend_week}}",
        ),
        (template(sms="Hi {{ User }}"), "sms.body: a malformed placeholder"),
        (template(sms="Hi {{user_name}"), "sms.body: a malformed placeholder"),
        # SMS with every variable at its longest: 20 + 3 + 140 = 163 > 160
        (
            template(sms="Hi {{user_name}}" + "x" * 140),
            "sms.body: 163 characters with every variable at its longest (user_name 20); "
            "an SMS holds 160",
        ),
        (
            template(sms="{{spend_week}} {{spend_week_baseline}} " + "y" * 125),
            "sms.body: 161 characters with every variable at its longest "
            "(spend_week 17, spend_week_baseline 17)",
        ),
        (template(sms="It’s here"), "sms.body: characters outside GSM-7 ('’')"),
        (template(sms={"subject": "S", "body": "b"}), "sms.subject: an SMS has no subject"),
        # versions
        (template(version=0), "version: Input should be greater than or equal to 1"),
        (template(version=-3), "version: Input should be greater than or equal to 1"),
        (template(version="two"), "version: Input should be a valid integer"),
        (template(version=1.5), "version: Input should be a valid integer"),
        ({"id": "hello", "sms": "Hi"}, "version: Field required"),
        # shape
        (template(id="Hello"), "id: String should match pattern"),
        ({"id": "hello", "version": 1}, "give at least one channel"),
        (template(fax="Hi"), "fax: Extra inputs are not permitted"),
        (template(email={"body": ""}), "email.body: String should have at least 1 character"),
    ],
)
def test_an_invalid_template_is_refused_with_where_and_why(
    document: dict[str, Any], problem: str
) -> None:
    result = validate_template(document)
    assert isinstance(result, list), result
    assert any(p.startswith(problem) for p in result), result


@pytest.mark.parametrize(
    "document",
    [
        template(),
        template(sms="Hi {{user_name}}" + "x" * 137),  # 160 exactly at the longest
        template(sms="{{ user_name }}, {{personalization.cta}}"[:16]),
        template(sms=None, email={"subject": "Hi {{user_name}}", "body": "<p>{{spend_week}}</p>"}),
        template(
            id="hello_due", scope="intervention", sms="{{user_name}}: {{amount}} due {{due_when}}"
        ),
        template(sms="Braces {} and [~] cost two each, and that is fine: " + PAD),
    ],
)
def test_a_valid_template_passes(document: dict[str, Any]) -> None:
    assert isinstance(validate_template(document), MessageTemplate)


def test_extension_characters_count_twice() -> None:
    assert sms_length("a{b}c") == 7
    assert sms_length("  two   words \n") == 9  # white space collapsed, as the renderer does
    assert len(longest_sms("{{user_name}}")) == 20
    assert len(longest_sms("{{amount}}", "intervention")) == 14


@pytest.mark.parametrize("file", ["catalogue.yaml", "interventions.yaml"])
def test_every_shipped_template_passes(file: str) -> None:
    document = yaml.safe_load((TEMPLATES / file).read_text("utf-8"))
    scope = document.get("scope", "trigger")
    assert fallback_problems(document["fallbacks"]) == []
    for message_id, spec in document["templates"].items():
        result = validate_template({"id": message_id, "scope": scope, **spec})
        assert isinstance(result, MessageTemplate), (message_id, result)
        if result.sms is not None:
            assert sms_length(longest_sms(result.sms.body, scope)) <= SMS_LIMIT


def test_every_feature_and_personalization_field_is_a_trigger_variable() -> None:
    names = set(VARIABLES["trigger"])
    assert set(FEATURES) <= names
    assert {"user_name", "personalization.offer"} <= names
    assert set(VARIABLES["intervention"]) == {"user_name", "amount", "due_when"}


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        (9_999_999_999.99, "dollars"),
        (-999_999_999.99, "dollars"),
        (999_999.0, "percent"),
        (-99_999.0, "days"),
        (9_999_999.0, "count"),
        (99_999.5, "count"),
        (999_999.9, "times"),
        (-1_234_567.0, ""),
    ],
)
def test_the_longest_values_of_a_unit_fit_its_registered_length(value: float, unit: str) -> None:
    # The registry's lengths follow the formatting: the largest value it allows fits.
    feature = next(f for f in FEATURES.values() if f.unit == unit and f.kind == "number")
    limit = VARIABLES["trigger"][feature.name].max_length
    assert len(format_value(value, unit)) <= limit


def test_fallbacks_must_be_registered_and_fit() -> None:
    assert fallback_problems({"user_name": "there"}) == []
    assert fallback_problems({"nickname": "x", "product": "y" * 25}) == [
        "fallbacks.nickname: not a registered variable",
        "fallbacks.product: 25 characters; at most 24",
    ]


def test_same_wording_ignores_the_version_only() -> None:
    one = MessageTemplate.model_validate(template())
    assert one.same_wording(MessageTemplate.model_validate(template(version=7)))
    assert not one.same_wording(MessageTemplate.model_validate(template(sms="Hello")))
