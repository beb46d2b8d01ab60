"""The query API's contract: routes, models, the OpenAPI document and the token setting."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.api import ERRORS, MODELS, ROUTES, openapi
from schemas.settings import Settings, api_callers


def test_every_route_is_documented_with_its_answer_and_errors() -> None:
    document = openapi()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {route.path for route in ROUTES}
    for route in ROUTES:
        operation = document["paths"][route.path]["get"]
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert ref == f"#/components/schemas/{route.answer}"
        assert set(operation["responses"]) == {"200", *ERRORS}
        names = {p["name"] for p in operation["parameters"]}
        assert names == {
            *(p[1:-1] for p in route.path.split("/") if p.startswith("{")),
            *route.query,
        }


def test_every_reference_in_the_document_resolves() -> None:
    document = openapi()
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                found.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert found
    schemas = document["components"]["schemas"]
    for ref in found:
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in schemas, ref


def test_every_answer_names_a_model() -> None:
    assert {route.answer for route in ROUTES} <= set(MODELS)
    assert len({route.name for route in ROUTES}) == len(ROUTES)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("support:0123456789abcdef", None),
        ("a:0123456789abcdef, b:fedcba9876543210", None),
        ("support", "pair 1 is not name:token"),
        (":0123456789abcdef", "pair 1 is not name:token"),
        ("a:0123456789abcdef,b:", "pair 2 is not name:token"),
        ("a:short", "shorter than 16"),
        ("a:0123456789abcdef,a:fedcba9876543210", "given twice"),
        ("a:0123456789abcdef,b:0123456789abcdef", "given twice"),
    ],
)
def test_api_tokens_are_name_token_pairs(text: str, problem: str | None) -> None:
    if problem is None:
        assert set(api_callers(text).values()) == {p.split(":")[0].strip() for p in text.split(",")}
        return
    with pytest.raises(ValueError, match=problem):
        api_callers(text)


def test_a_refused_token_setting_does_not_echo_the_token() -> None:
    with pytest.raises(ValidationError) as error:
        Settings(api_tokens="support:tiny-secret")
    assert "tiny-secret" not in str(error.value)
    assert "shorter than 16" in str(error.value)


def test_no_tokens_no_callers() -> None:
    assert Settings(api_tokens=None).api_callers() == {}
