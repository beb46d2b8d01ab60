"""Features of behaviour change: each activity's last complete week against its baseline.

``<activity>_week_change_pct`` is the change ``streams.core.behavior.change`` judges, in
percent, at the evaluation's time: ``None`` until the user has four full weeks of history
and some activity in them. The decision's ``min_baseline`` is not applied here: a trigger
condition that wants a floor names one (with ``<activity>_week`` counts elsewhere, or its
own thresholds).
"""

from __future__ import annotations

from collections.abc import Mapping

from schemas.records import Activity
from streams.core.behavior.change import judged_week, state_change
from streams.core.features.context import Feature, FeatureContext, Value


def _change_of(activity: str) -> Feature:
    def change(ctx: FeatureContext) -> Value:
        if not ctx.state.activity_weeks.get(activity):
            return None
        found = state_change(ctx.state, activity, judged_week(ctx.at), 0.0)
        return None if found is None else round(found.change_pct, 2)

    return change


COMPUTE: Mapping[str, Feature] = {
    f"{activity.value}_week_change_pct": _change_of(activity.value) for activity in Activity
}

DEPENDS: Mapping[str, tuple[str, ...]] = {}
