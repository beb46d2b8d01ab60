"""Features for the pattern rules: the label, days since the last visit, a form left.

``pattern`` is the label the record holds (``streams.core.patterns``), updated before the
triggers of an event are evaluated, so ``pattern changed_to high_intent`` holds on the
event that changed it.
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.core.features.context import Feature, FeatureContext, Value
from streams.core.state.visits import VISIT_EVENTS

#: A form abandoned this recently, and not followed by a submission, counts.
FORM_ABANDONED_DAYS = 7
#: What makes a form abandonment old news: the user went on.
_WENT_ON = ("form_submit", "quote_request", "application_start", "application_complete")


def _pattern(ctx: FeatureContext) -> Value:
    return ctx.state.pattern


def _days_since_visit(ctx: FeatureContext) -> Value:
    seen = ctx.state.last_seen
    latest = max((seen[kind] for kind in VISIT_EVENTS if kind in seen), default=None)
    if latest is None:
        return None
    return round(max(ctx.at.timestamp() - latest, 0.0) / 86_400, 2)


def _form_abandoned_recently(ctx: FeatureContext) -> Value:
    seen = ctx.state.last_seen
    abandoned = seen.get("form_abandon")
    if abandoned is None or ctx.at.timestamp() - abandoned > FORM_ABANDONED_DAYS * 86_400:
        return False
    return all(seen.get(kind, 0.0) < abandoned for kind in _WENT_ON)


COMPUTE: Mapping[str, Feature] = {
    "pattern": _pattern,
    "days_since_visit": _days_since_visit,
    "form_abandoned_recently": _form_abandoned_recently,
}

DEPENDS: Mapping[str, tuple[str, ...]] = {}
