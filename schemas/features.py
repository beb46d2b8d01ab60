"""The features trigger conditions may name: the contract between definitions and the engine.

A trigger definition names features, never code. Each feature has a kind that decides
which comparisons make sense; ``streams.features`` computes them from a user's state and
the current event, and a test holds the two lists equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FeatureKind(StrEnum):
    """What a feature's value is, and so which operators apply to it."""

    NUMBER = "number"
    """A float; gt, gte, lt, lte, eq, ne, in, between."""
    TEXT = "text"
    """A string; eq, ne, in, changed_to."""
    BOOLEAN = "boolean"
    """True or false; eq, ne, changed_to."""
    MOMENT = "moment"
    """A point in time (epoch seconds); within (past or future)."""


@dataclass(frozen=True, slots=True)
class Feature:
    """One named feature.

    Attributes:
        name: What definitions call it.
        kind: Its value's kind.
        description: What it measures.
        unit: ``dollars``, ``percent``, ``days`` or empty; messages format values by it.
        tracks_changes: Its value before the event is kept, so ``changed_to`` applies.
    """

    name: str
    kind: FeatureKind
    description: str
    unit: str = ""
    tracks_changes: bool = False


_N, _T, _B, _M = FeatureKind.NUMBER, FeatureKind.TEXT, FeatureKind.BOOLEAN, FeatureKind.MOMENT

_USD, _PCT, _DAYS = "dollars", "percent", "days"

FEATURES: dict[str, Feature] = {
    f.name: f
    for f in (
        Feature("event_type", _T, "type of the event being evaluated"),
        Feature("event_amount", _N, "amount of the current transaction or deposit", _USD),
        Feature("transaction_category", _T, "category of the current transaction"),
        Feature("transaction_direction", _T, "debit or credit, for the current transaction"),
        Feature("spend_week", _N, "debit spending over the 7 UTC days ending today", _USD),
        Feature("spend_week_baseline", _N, "mean weekly spending of the 4 weeks before", _USD),
        Feature("spend_week_change_pct", _N, "this week's spending against the baseline", _PCT),
        Feature("closed_month", _T, "the calendar month just closed, YYYY-MM"),
        Feature("income_closed_month", _N, "income in the calendar month just closed", _USD),
        Feature("income_month_baseline", _N, "mean income of the 3 months before it", _USD),
        Feature("income_change_pct", _N, "closed month's income against the baseline", _PCT),
        Feature("income_drop_pct", _N, "how far the closed month's income fell short", _PCT),
        Feature("tier", _T, "the user's tier: free, standard or premium", tracks_changes=True),
        Feature("relationship_status", _T, "relationship status", tracks_changes=True),
        Feature("days_since_first_seen", _N, "days since the user's first event", _DAYS),
        Feature("last_event_at", _M, "when the user's previous event occurred"),
    )
}


def feature(name: str) -> Feature | None:
    """Return the feature called ``name``, if there is one."""
    return FEATURES.get(name)
