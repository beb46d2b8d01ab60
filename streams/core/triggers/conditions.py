"""Evaluate a definition's condition tree against feature values. No ``eval``, ever.

A comparison whose feature has no value (not enough history) does not hold; ``not`` of
it does. Threshold references (``"$name"``) are resolved from the definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.features import FEATURES
from schemas.triggers import AllOf, AnyOf, Comparison, Condition, Not, parse_duration
from streams.core.features.context import FeatureContext, Value, format_value


def holds(
    node: Condition, ctx: FeatureContext, thresholds: Mapping[str, float], now: float
) -> bool:
    """Return whether ``node`` holds for this evaluation.

    Args:
        node: The condition tree.
        ctx: Feature values of the user and event.
        thresholds: The definition's named thresholds.
        now: Event time of the evaluation (epoch seconds), for ``within``.
    """
    if isinstance(node, AllOf):
        return all(holds(child, ctx, thresholds, now) for child in node.all)
    if isinstance(node, AnyOf):
        return any(holds(child, ctx, thresholds, now) for child in node.any)
    if isinstance(node, Not):
        return not holds(node.not_, ctx, thresholds, now)
    return compare(node, ctx, thresholds, now)


def compare(
    node: Comparison, ctx: FeatureContext, thresholds: Mapping[str, float], now: float
) -> bool:
    """Return whether one comparison holds."""
    actual = ctx.value(node.feature)
    if actual is None:
        return False
    expected = resolve(node.value, thresholds)
    op = node.op
    if op == "changed_to":
        return bool(actual == expected and ctx.previous(node.feature) != expected)
    if op == "within":
        return isinstance(actual, float) and abs(now - actual) <= parse_duration(expected)
    if op == "in":
        return bool(actual in expected)
    if op == "between":
        low, high = expected
        return bool(low <= actual <= high)
    return _ordered(op, actual, expected)


def _ordered(op: str, actual: Value, expected: Any) -> bool:
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if not isinstance(actual, float | int) or isinstance(actual, bool):
        return False
    if op == "gt":
        return bool(actual > expected)
    if op == "gte":
        return bool(actual >= expected)
    if op == "lt":
        return bool(actual < expected)
    return bool(actual <= expected)  # lte


def resolve(value: Any, thresholds: Mapping[str, float]) -> Any:
    """Replace ``"$name"`` references (also inside lists) by the thresholds' values."""
    if isinstance(value, list):
        return [resolve(item, thresholds) for item in value]
    if isinstance(value, str) and value.startswith("$"):
        return thresholds[value[1:]]
    return value


def describe(
    comparisons: list[tuple[Comparison, bool]],
    ctx: FeatureContext,
    thresholds: Mapping[str, float],
) -> str:
    """Say which values the comparisons saw: ``spend_week_change_pct 114.3% ≥ 20%``.

    ``comparisons``: each with whether it is negated (``schemas.triggers.senses``): one
    under a ``not`` is said negated, ``transaction_category groceries not in [rent]``.
    """
    parts = []
    for node, negated in comparisons:
        unit = FEATURES[node.feature].unit
        shown = _shown(ctx.value(node.feature), unit, precise=True)
        limit = _shown(resolve(node.value, thresholds), unit, precise=False)
        op = (
            _NEGATED.get(node.op, f"not {_SYMBOLS.get(node.op, node.op)}")
            if negated
            else (_SYMBOLS.get(node.op, node.op))
        )
        parts.append(f"{node.feature} {shown} {op} {limit}")
    return "; ".join(parts)


def _shown(value: Any, unit: str, *, precise: bool) -> str:
    """Format a value (or a list of them) by unit; ``none`` when there is no value."""
    if value is None:
        return "none"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v, unit, precise=precise) for v in value) + "]"
    if unit == "percent" and isinstance(value, float | int) and not isinstance(value, bool):
        return f"{value:.1f}%" if precise else f"{value:g}%"
    return format_value(value, unit)


_SYMBOLS = {"gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "eq": "=", "ne": "≠"}
#: How a comparison under a ``not`` is said when the symbol has a plain opposite.
_NEGATED = {"eq": "≠", "ne": "=", "in": "not in"}
