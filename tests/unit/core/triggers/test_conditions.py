"""The condition engine: every operator on every feature kind it applies to, missing values,
threshold references and the sentence that describes what the comparisons saw."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from schemas.events import Event
from schemas.features import FEATURES, Feature, FeatureKind
from schemas.triggers import Comparison, Condition, TriggerDefinition, senses
from streams.core.features.context import Before, FeatureContext, format_value
from streams.core.features.registry import COMPUTE, event_context
from streams.core.state.fold import apply_event
from streams.core.state.record import UserState
from streams.core.triggers.catalogue import default_definitions
from streams.core.triggers.conditions import compare, describe, holds, resolve
from streams.core.triggers.evaluation import evaluate
from tests.unit.factories import (
    START,
    event,
    fold,
    profile,
    spike_at,
    spike_history,
    transaction,
)

USER = "user-1"
CONDITION: TypeAdapter[Any] = TypeAdapter(Condition)


def context(history: list[Event], current: Event) -> FeatureContext:
    """Fold ``history``, then ``current`` through ``apply_event``, as ``process`` does."""
    state = fold(history)
    before = Before.of(state)
    assert apply_event(state, current)
    return event_context(state, current, before)


def check(
    condition: dict[str, Any], ctx: FeatureContext, thresholds: dict[str, float] | None = None
) -> bool:
    node = CONDITION.validate_python(condition)
    assert ctx.event is not None
    return holds(node, ctx, thresholds or {}, ctx.event.occurred_at.timestamp())


def purchase_of(amount: str, category: str = "groceries") -> Event:
    payload = {"type": "transaction", "amount": amount, "category": category}
    return event(USER, START, payload)


# --- numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("gt", 47.99, True),
        ("gt", 48, False),
        ("gte", 48, True),
        ("gte", 48.01, False),
        ("lt", 48.01, True),
        ("lt", 48, False),
        ("lte", 48, True),
        ("lte", 47.99, False),
        ("eq", 48, True),
        ("eq", 47, False),
        ("ne", 47, True),
        ("ne", 48, False),
        ("in", [1, 48], True),
        ("in", [1, 2], False),
        ("between", [48, 50], True),  # low edge is inside
        ("between", [40, 48], True),  # high edge is inside
        ("between", [48, 48], True),
        ("between", [48.01, 50], False),
        ("between", [10, 47.99], False),
    ],
)
def test_number_operators(op: str, value: Any, expected: bool) -> None:
    ctx = context([], purchase_of("48.00"))
    assert ctx.value("event_amount") == 48.0
    assert check({"feature": "event_amount", op: value}, ctx) is expected


@pytest.mark.parametrize(
    ("final", "change", "fires"),
    [("48.00", 20.0, True), ("47.99", 19.992857143, False), ("47.86", 19.9, False)],
)
def test_percent_edge_19_99_against_20(final: str, change: float, fires: bool) -> None:
    ctx = context(spike_history(USER), transaction(USER, spike_at(), final))
    assert ctx.value("spend_week_change_pct") == change
    assert check({"feature": "spend_week_change_pct", "gte": 20}, ctx) is fires
    assert check({"feature": "spend_week_change_pct", "lt": 20}, ctx) is not fires


@settings(max_examples=60, deadline=None)
@given(
    cents=st.integers(min_value=0, max_value=10**9),
    limit=st.integers(min_value=0, max_value=10**9),
)
def test_gte_and_lt_partition_every_amount(cents: int, limit: int) -> None:
    ctx = context([], purchase_of(str(Decimal(cents) / 100)))
    threshold = limit / 100
    gte = check({"feature": "event_amount", "gte": threshold}, ctx)
    lt = check({"feature": "event_amount", "lt": threshold}, ctx)
    assert gte is (cents >= limit)
    assert gte is not lt


# --- text --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feature", "op", "value", "expected"),
    [
        ("transaction_category", "eq", "groceries", True),
        ("transaction_category", "eq", "travel", False),
        ("transaction_category", "ne", "travel", True),
        ("transaction_category", "ne", "groceries", False),
        ("transaction_category", "in", ["travel", "groceries"], True),
        ("transaction_category", "in", ["travel", "rent"], False),
        ("transaction_direction", "eq", "debit", True),
        ("transaction_direction", "eq", "credit", False),
        ("event_type", "eq", "transaction", True),
        ("event_type", "in", ["income_deposit", "purchase"], False),
        ("tier", "eq", "premium", True),
        ("tier", "ne", "premium", False),
        ("tier", "in", ["free", "standard"], False),
        ("tier", "in", ["standard", "premium"], True),
    ],
)
def test_text_operators(feature: str, op: str, value: Any, expected: bool) -> None:
    ctx = context([profile(USER, START - timedelta(days=1), tier="premium")], purchase_of("5"))
    assert check({"feature": feature, op: value}, ctx) is expected


def _status_change(before: str | None, after: str) -> FeatureContext:
    history = [] if before is None else [profile(USER, START, relationship_status=before)]
    update = profile(USER, START + timedelta(days=1), relationship_status=after)
    return context(history, update)


@pytest.mark.parametrize(
    ("before", "after", "wanted", "expected"),
    [
        ("single", "married", "married", True),  # the update changed it to married
        ("single", "married", "single", False),  # it changed, but not to single
        ("married", "married", "married", False),  # sent again: no change
        (None, "married", "married", True),  # first time told: a change from nothing
    ],
)
def test_changed_to_compares_before_and_after_a_profile_update(
    before: str | None, after: str, wanted: str, expected: bool
) -> None:
    ctx = _status_change(before, after)
    assert ctx.value("relationship_status") == after
    assert ctx.previous("relationship_status") == before
    assert check({"feature": "relationship_status", "changed_to": wanted}, ctx) is expected
    # eq only looks at the value now
    assert check({"feature": "relationship_status", "eq": wanted}, ctx) is (after == wanted)


def test_changed_to_does_not_hold_on_later_events() -> None:
    history = [
        profile(USER, START, relationship_status="single"),
        profile(USER, START + timedelta(hours=1), relationship_status="married"),
    ]
    ctx = context(history, transaction(USER, START + timedelta(hours=2), "5.00"))
    assert ctx.value("relationship_status") == "married"
    assert check({"feature": "relationship_status", "changed_to": "married"}, ctx) is False
    assert check({"feature": "relationship_status", "eq": "married"}, ctx) is True


# --- booleans (no shipped feature is boolean yet: one is added for the test) -------------


@pytest.fixture
def student_feature(monkeypatch: pytest.MonkeyPatch) -> None:
    """Declare a boolean ``is_student`` profile feature for one test (computed below)."""
    monkeypatch.setitem(
        FEATURES,
        "is_student",
        Feature("is_student", FeatureKind.BOOLEAN, "a student", tracks_changes=True),
    )


def _student_context(before: bool | None, now: bool) -> FeatureContext:
    state = UserState(profile={"is_student": now})
    current = purchase_of("5")
    apply_event(state, current)
    previous = {} if before is None else {"is_student": before}
    with_student = {**COMPUTE, "is_student": lambda ctx: ctx.state.profile.get("is_student")}
    before_event = Before(watermark=0.0, profile=previous)
    return FeatureContext(
        current.user_id, state, current, before_event, current.occurred_at, with_student
    )


@pytest.mark.usefixtures("student_feature")
@pytest.mark.parametrize(
    ("before", "now", "op", "value", "expected"),
    [
        (False, True, "eq", True, True),
        (False, True, "eq", False, False),
        (False, True, "ne", False, True),
        (False, True, "ne", True, False),
        (False, True, "changed_to", True, True),
        (True, True, "changed_to", True, False),
        (True, False, "changed_to", False, True),
        (None, True, "changed_to", True, True),
    ],
)
def test_boolean_operators(
    before: bool | None, now: bool, op: str, value: bool, expected: bool
) -> None:
    ctx = _student_context(before, now)
    assert check({"feature": "is_student", op: value}, ctx) is expected


@pytest.mark.usefixtures("student_feature")
@pytest.mark.parametrize(
    ("condition", "reason"),
    [
        ({"feature": "is_student", "eq": 1}, "eq needs a boolean value"),
        ({"feature": "is_student", "eq": "yes"}, "eq needs a boolean value"),
        ({"feature": "is_student", "gte": True},
         "gte does not apply to boolean feature 'is_student' (changed_to, eq, ne)"),
        ({"feature": "is_student", "in": [True]},
         "in does not apply to boolean feature 'is_student' (changed_to, eq, ne)"),
    ],
)  # fmt: skip
def test_boolean_feature_rejects_other_values_and_operators(
    condition: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Comparison.model_validate(condition)
    # The reason is the boolean rule, not "unknown feature": the feature is declared.
    (error,) = caught.value.errors()
    assert error["msg"] == f"Value error, {reason}"


# --- moments: within ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gap", "window", "expected"),
    [
        (timedelta(days=1), "2d", True),
        (timedelta(days=1), "1d", True),  # the edge is inside
        (timedelta(days=1), 86_400, True),
        (timedelta(days=1), 86_399, False),
        (timedelta(days=1), "23h", False),
        (timedelta(days=10), "1w", False),
        (timedelta(days=10), "2w", True),
        # a late event, dated before the previous one: within looks both ways
        (timedelta(days=-1), "1d", True),
        (timedelta(days=-1), "12h", False),
    ],
)
def test_within_on_last_event_at(gap: timedelta, window: Any, expected: bool) -> None:
    ctx = context([transaction(USER, START, "5.00")], transaction(USER, START + gap, "5.00"))
    assert ctx.value("last_event_at") == START.timestamp()
    assert check({"feature": "last_event_at", "within": window}, ctx) is expected


def test_last_event_at_is_the_previous_watermark_not_this_event() -> None:
    history = [transaction(USER, START, "5.00"), transaction(USER, START + timedelta(days=3), "1")]
    ctx = context(history, transaction(USER, START + timedelta(days=4), "5.00"))
    assert ctx.value("last_event_at") == (START + timedelta(days=3)).timestamp()


def test_within_for_a_first_event_does_not_hold() -> None:
    ctx = context([], transaction(USER, START, "5.00"))
    assert ctx.value("last_event_at") is None
    assert check({"feature": "last_event_at", "within": "100w"}, ctx) is False
    assert check({"not": {"feature": "last_event_at", "within": "100w"}}, ctx) is True


# --- no value ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value"),
    [
        ("gt", -1e9),
        ("gte", 0),
        ("lt", 1e9),
        ("lte", 1e9),
        ("eq", 0),
        ("ne", 0),
        ("in", [0, 100]),
        ("between", [-1e9, 1e9]),
    ],
)
def test_a_feature_without_value_fails_every_comparison(op: str, value: Any) -> None:
    ctx = context([], transaction(USER, START, "500.00"))  # a new user: no baseline yet
    assert ctx.value("spend_week_baseline") is None
    assert ctx.value("spend_week_change_pct") is None
    assert check({"feature": "spend_week_change_pct", op: value}, ctx) is False
    assert check({"not": {"feature": "spend_week_change_pct", op: value}}, ctx) is True


def test_missing_text_value_fails_eq_and_ne() -> None:
    ctx = context([], profile(USER, START, first_name="Ada"))
    assert ctx.value("transaction_category") is None
    assert check({"feature": "transaction_category", "eq": "rent"}, ctx) is False
    assert check({"feature": "transaction_category", "ne": "rent"}, ctx) is False
    assert check({"feature": "tier", "in": ["free", "premium"]}, ctx) is False  # never told


def test_all_any_not_combine_missing_values() -> None:
    ctx = context([], transaction(USER, START, "500.00"))
    missing = {"feature": "spend_week_change_pct", "gte": 20}
    present = {"feature": "event_amount", "gte": 100}
    assert check({"all": [missing, present]}, ctx) is False
    assert check({"any": [missing, present]}, ctx) is True
    assert check({"any": [missing, {"not": present}]}, ctx) is False
    assert check({"all": [{"not": missing}, present]}, ctx) is True
    assert check({"not": {"not": missing}}, ctx) is False


# --- thresholds --------------------------------------------------------------------------


@pytest.mark.parametrize(("limit", "expected"), [(48.0, True), (48.01, False), (0.0, True)])
def test_threshold_reference_resolves(limit: float, expected: bool) -> None:
    ctx = context([], purchase_of("48.00"))
    condition = {"feature": "event_amount", "gte": "$min_amount"}
    assert check(condition, ctx, {"min_amount": limit}) is expected


def test_resolve_replaces_references_also_inside_lists() -> None:
    thresholds = {"low": 10.0, "high": 20.0}
    assert resolve("$low", thresholds) == 10.0
    assert resolve(["$low", 15, "$high"], thresholds) == [10.0, 15, 20.0]
    assert resolve("groceries", thresholds) == "groceries"
    assert resolve(7, thresholds) == 7
    with pytest.raises(KeyError):
        resolve("$nope", thresholds)


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("between", ["$low", "$high"], True),
        ("between", ["$high", 100], False),
        ("in", ["$low", 48], True),
        ("in", ["$low", "$high"], False),
    ],
)
def test_compare_resolves_references_inside_lists(op: Any, value: Any, expected: bool) -> None:
    # Built without validation, so only ``compare`` is under test; the schema accepts
    # references in lists too (test_trigger_definitions's
    # test_threshold_references_inside_lists_validate), and a validated node agrees.
    node = Comparison.model_construct(feature="event_amount", op=op, value=value)
    ctx = context([], purchase_of("48.00"))
    assert ctx.event is not None
    now = ctx.event.occurred_at.timestamp()
    assert compare(node, ctx, {"low": 40.0, "high": 50.0}, now) is expected
    validated = Comparison.model_validate({"feature": "event_amount", op: value})
    assert compare(validated, ctx, {"low": 40.0, "high": 50.0}, now) is expected


def test_within_with_a_threshold_reference() -> None:
    ctx = context(
        [transaction(USER, START, "5.00")], transaction(USER, START + timedelta(hours=3), "5")
    )
    condition = {"feature": "last_event_at", "within": "$window"}
    assert check(condition, ctx, {"window": 3 * 3600}) is True
    assert check(condition, ctx, {"window": 3 * 3600 - 1}) is False


# --- describe ----------------------------------------------------------------------------


def _spike_context(final: str = "48.00") -> FeatureContext:
    return context(spike_history(USER), transaction(USER, spike_at(), final))


def test_describe_formats_dollars_and_percent() -> None:
    spike = next(d for d in default_definitions() if d.id == "spending_spike")
    ctx = _spike_context()
    assert describe(senses(spike.condition), ctx, spike.thresholds) == (
        "transaction_direction debit = debit; "
        "spend_week_change_pct 20.0% ≥ 20%; "
        "spend_week $168.00 ≥ $100.00; "
        "spend_week_zscore 20 ≥ 2"
    )


@pytest.mark.parametrize(
    ("comparison", "text"),
    [
        ({"feature": "spend_week", "gt": 1000}, "spend_week $168.00 > $1,000.00"),
        ({"feature": "spend_week", "lt": 200.5}, "spend_week $168.00 < $200.50"),
        ({"feature": "spend_week_baseline", "lte": 140}, "spend_week_baseline $140.00 ≤ $140.00"),
        ({"feature": "spend_week_change_pct", "ne": 12.5}, "spend_week_change_pct 20.0% ≠ 12.5%"),
        ({"feature": "days_since_first_seen", "gte": 30}, "days_since_first_seen 34 ≥ 30"),
        (
            {"feature": "transaction_direction", "ne": "credit"},
            "transaction_direction debit ≠ credit",
        ),
        ({"feature": "event_type", "eq": "transaction"}, "event_type transaction = transaction"),
    ],
)
def test_describe_each_operator(comparison: dict[str, Any], text: str) -> None:
    node = Comparison.model_validate(comparison)
    assert describe([(node, False)], _spike_context(), {}) == text


def test_describe_resolves_threshold_references() -> None:
    node = Comparison.model_validate({"feature": "event_amount", "gte": "$big"})
    ctx = context([], purchase_of("1234.5"))
    assert describe([(node, False)], ctx, {"big": 1000.0}) == "event_amount $1,234.50 ≥ $1,000.00"


@pytest.mark.parametrize(
    ("condition", "text"),
    [
        ({"not": {"feature": "transaction_direction", "eq": "credit"}},
         "transaction_direction debit ≠ credit"),
        ({"not": {"feature": "transaction_direction", "ne": "debit"}},
         "transaction_direction debit = debit"),
        ({"not": {"feature": "tier", "in": ["gold"]}}, "tier premium not in [gold]"),
        ({"not": {"feature": "spend_week", "gte": 1000}}, "spend_week $168.00 not ≥ $1,000.00"),
        ({"not": {"not": {"feature": "spend_week", "gte": 100}}}, "spend_week $168.00 ≥ $100.00"),
        ({"all": [{"feature": "tier", "eq": "premium"},
                  {"not": {"any": [{"feature": "tier", "eq": "gold"},
                                   {"feature": "spend_week", "lt": 10}]}}]},
         "tier premium = premium; tier premium ≠ gold; spend_week $168.00 not < $10.00"),
    ],
)  # fmt: skip
def test_describe_says_a_comparison_under_a_not_negated(
    condition: dict[str, Any], text: str
) -> None:
    # The condition held: what it says must read as true ("not in", never "in").
    node = TypeAdapter(Condition).validate_python(condition)
    ctx = context([*spike_history(USER), profile(USER, START, tier="premium")],
                  transaction(USER, spike_at(), "48.00"))  # fmt: skip
    assert holds(node, ctx, {}, ctx.at.timestamp())
    assert describe(senses(node), ctx, {}) == text


def test_describe_names_an_operator_without_a_symbol() -> None:
    node = Comparison.model_validate({"feature": "tier", "in": ["free", "premium"]})
    ctx = context([profile(USER, START, tier="premium")], purchase_of("5"))
    assert describe([(node, False)], ctx, {}).startswith("tier premium in ")
    assert describe([(node, False)], ctx, {}) == "tier premium in [free, premium]"


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1234.5, "dollars", "$1,234.50"),
        (0.0, "dollars", "$0.00"),
        (19.6, "percent", "20"),
        (34.0, "days", "34"),
        (2.5, "", "2.5"),
        ("debit", "", "debit"),
        (True, "dollars", "True"),
        (None, "dollars", "None"),
    ],
)
def test_format_value_by_unit(value: Any, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


def _definition(condition: dict[str, Any]) -> TriggerDefinition:
    return TriggerDefinition.model_validate(
        {
            "id": "described",
            "name": "Described",
            "type": "behavioral",
            "category": "financial",
            "evaluate_on": {"events": ["transaction"]},
            "condition": condition,
            "channels": [{"channel": "sms", "template": "spending_spike.sms"}],
        }
    )


@pytest.mark.parametrize(
    ("condition", "detail"),
    [
        (
            {"not": {"feature": "spend_week_change_pct", "gte": 20}},
            "Described: spend_week_change_pct none not ≥ 20%.",
        ),
        (
            {
                "any": [
                    {"feature": "spend_week_change_pct", "gte": 20},
                    {"feature": "event_amount", "gte": 100},
                ]
            },
            "Described: spend_week_change_pct none ≥ 20%; event_amount $500.00 ≥ $100.00.",
        ),
    ],
)
def test_a_match_through_a_missing_percent_is_described(
    condition: dict[str, Any], detail: str
) -> None:
    ctx = context([], transaction(USER, START, "500.00"))  # no spending baseline yet
    match = evaluate(_definition(condition), ctx)
    assert match is not None
    assert "spend_week_change_pct" in match.detail
    assert match.detail == detail


@pytest.mark.parametrize(
    ("condition", "shown"),
    [
        ({"feature": "spend_week_change_pct", "between": [10, 30]}, "between [10%, 30%]"),
        ({"feature": "spend_week_change_pct", "in": [20, 30]}, "in [20%, 30%]"),
    ],
)
def test_a_match_on_a_percent_list_operator_is_described(
    condition: dict[str, Any], shown: str
) -> None:
    match = evaluate(_definition(condition), _spike_context())
    assert match is not None
    assert match.detail.startswith("Described: spend_week_change_pct 20.0%")
    assert match.detail == f"Described: spend_week_change_pct 20.0% {shown}."
