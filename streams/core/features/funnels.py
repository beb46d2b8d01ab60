"""Features of funnel drop-outs: which funnel the user last dropped out of, at which step, when.

The record keeps the last drop (``streams.core.funnels``): "dropped at step 2 of the quote
journey in the last day" is ``funnel_dropped eq quote_journey``, ``funnel_dropped_step eq
2`` and ``funnel_dropped_at within 1d``.
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.core.features.context import Feature, FeatureContext, Value


def _dropped(ctx: FeatureContext) -> Value:
    drop = ctx.state.funnel_drop
    return str(drop[0]) if drop else None


def _dropped_step(ctx: FeatureContext) -> Value:
    drop = ctx.state.funnel_drop
    return float(drop[1]) if drop else None


def _dropped_at(ctx: FeatureContext) -> Value:
    drop = ctx.state.funnel_drop
    return float(drop[2]) if drop else None


COMPUTE: Mapping[str, Feature] = {
    "funnel_dropped": _dropped,
    "funnel_dropped_step": _dropped_step,
    "funnel_dropped_at": _dropped_at,
}

DEPENDS: Mapping[str, tuple[str, ...]] = {}
