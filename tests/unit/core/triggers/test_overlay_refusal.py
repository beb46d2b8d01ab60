"""Issue 8: one unusable definition on the topic is refused; the others stay in force."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from schemas.triggers import (
    MAX_CONDITION_DEPTH,
    MAX_CONDITION_NODES,
    TriggerDefinition,
    comparisons,
    validate_definition,
)
from streams.core.rendering import default_catalogue
from streams.core.triggers import overlay as definition_source
from streams.core.triggers.catalogue import default_definitions
from streams.core.triggers.overlay import DefinitionOverlay
from streams.runtime import metrics


def document(trigger_id: str = "spending_spike", **changes: Any) -> dict[str, Any]:
    shipped = {d.id: d for d in default_definitions()}[trigger_id]
    return shipped.model_dump(mode="json", by_alias=True) | changes


def nots(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"feature": "spend_week", "gt": 1}
    for _ in range(depth):
        node = {"not": node}
    return node


TOO_DEEP = (
    f"condition: nested deeper than {MAX_CONDITION_DEPTH} levels "
    f"(at condition{'.not' * MAX_CONDITION_DEPTH})"
)


@pytest.mark.parametrize(
    ("condition", "accepted", "problem"),
    [
        (nots(MAX_CONDITION_DEPTH - 1), True, None),
        (nots(MAX_CONDITION_DEPTH), False, TOO_DEEP),
        (nots(250), False, TOO_DEEP),
        (nots(5000), False, TOO_DEEP),
        ({"all": [{"feature": "spend_week", "gt": i} for i in range(MAX_CONDITION_NODES - 1)]},
         True, None),
        ({"all": [{"feature": "spend_week", "gt": i} for i in range(MAX_CONDITION_NODES)]}, False,
         f"condition: more than {MAX_CONDITION_NODES} conditions"),
    ],
)  # fmt: skip
def test_condition_trees_are_bounded_in_depth_and_size(
    condition: Any, accepted: bool, problem: str | None
) -> None:
    result = validate_definition(document(condition=condition))
    assert isinstance(result, list) is not accepted, result
    if not accepted:
        assert result[0].startswith("condition: ")  # type: ignore[index]
        assert result == [problem]
    else:
        assert isinstance(result, TriggerDefinition)
        leaves = len(condition["all"]) if "all" in condition else 1
        assert len(comparisons(result.condition)) == leaves


def test_a_hostile_definition_is_refused_and_the_rest_stay_in_force() -> None:
    source = DefinitionOverlay.shipped_with(default_catalogue(), metrics.DEFINITIONS_REFUSED.set)
    shipped = {d.id for d in source.current([])}
    hostile = orjson.dumps(document("spending_spike", condition=nots(250)))
    lowered = orjson.dumps(
        document("income_drop", thresholds={"drop_percent": 5.0, "min_baseline": 100.0})
    )
    entries: list[tuple[bytes, bytes | None]] = [
        (b"spending_spike", hostile),
        (b"income_drop", lowered),
    ]
    current = {d.id: d for d in source.current(entries)}
    assert set(current) == shipped  # the shipped spending_spike stays in force
    assert current["income_drop"].thresholds["drop_percent"] == 5.0
    refused = source.refused()
    assert list(refused) == ["spending_spike"]
    assert "nested deeper than" in refused["spending_spike"][0]
    assert metrics.DEFINITIONS_REFUSED._value.get() == 1
    by_type = source.by_event_type(entries)
    assert "spending_spike" in {d.id for d in by_type["transaction"]}
    # A tombstone withdraws the refused entry.
    source.current([(b"spending_spike", None), (b"income_drop", lowered)])
    assert source.refused() == {}


def test_a_definition_that_breaks_the_checks_themselves_is_refused_by_its_error_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(document: Any) -> Any:
        raise RecursionError

    monkeypatch.setattr(definition_source, "validate_definition", broken)
    source = DefinitionOverlay.shipped_with(default_catalogue())
    entries = [(b"spending_spike", orjson.dumps(document()))]
    assert {d.id for d in source.current(entries)} >= {"spending_spike", "income_drop"}
    assert source.refused() == {"spending_spike": ["could not be used: RecursionError"]}


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        (b"spending_spike", "spending_spike"),
        (b"\x1b[31mred\x1b[0m", "<not a trigger id: 12 bytes>"),
        (b"user@example.com", "<not a trigger id: 16 bytes>"),
        (b"x" * 5000, "<not a trigger id: 5000 bytes>"),
    ],
)
def test_logs_show_a_topic_key_only_when_it_is_a_trigger_id(key: bytes, shown: str) -> None:
    from streams.core.triggers.overlay import shown_key

    assert shown_key(key) == shown
