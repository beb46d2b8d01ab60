"""Feature values: what trigger conditions compare, computed from state and the event.

Every feature named in ``schemas.features`` has a function here or in a domain module
(``features_financial``, ``features_life``, ``features_career``, ``features_engagement``)
merged into ``COMPUTE`` below; a test holds the two lists equal. Values are plain: floats
(dollars, percent, days, counts, epoch seconds), strings and booleans; ``None`` when there
is not enough history or the event does not carry the figure, which no comparison matches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.events import Event, IncomeDeposit, Payload, Purchase, Transaction
from streams.core.features import career as features_career
from streams.core.features import engagement as features_engagement
from streams.core.features import financial as features_financial
from streams.core.features import life as features_life
from streams.core.features.baselines import (
    baseline_months,
    baseline_weeks,
    mean_of,
    percent_change,
    week_spend,
)
from streams.core.state.record import UserState
from streams.core.units import day_number, month_number

_DOMAINS = (features_financial, features_life, features_career, features_engagement)

Value = float | str | bool | None


@dataclass(frozen=True, slots=True)
class Before:
    """What the user's record said before the current event was folded in.

    ``changed_to`` compares against it; ``last_event_at`` is its watermark;
    ``savings_milestone_crossed`` against the goal milestones reached before.
    """

    watermark: float = 0.0
    profile: dict[str, Any] = field(default_factory=dict)
    goal_milestones: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, state: UserState) -> Before:
        """Snapshot the parts of ``state`` that features compare against."""
        return cls(
            watermark=state.watermark,
            profile=dict(state.profile),
            goal_milestones=dict(state.goal_milestones),
        )


@dataclass(slots=True)
class Context:
    """One evaluation's inputs, with each derived figure computed at most once.

    An event evaluates triggers at its own time; a schedule evaluates them with no event
    at the clock's time (``at``), and features of the event are then ``None``.
    """

    user_id: str
    state: UserState
    event: Event | None
    before: Before
    at: datetime
    """When the evaluation happens: the event's ``occurred_at``, or the scheduler's now."""
    _cache: dict[str, Value] = field(default_factory=dict)

    @classmethod
    def of_event(cls, state: UserState, event: Event, before: Before) -> Context:
        """The context of an event, evaluated at its own time."""
        return cls(event.user_id, state, event, before, event.occurred_at)

    @classmethod
    def scheduled(cls, user_id: str, state: UserState, now: datetime) -> Context:
        """The context of a scheduled evaluation at ``now`` (nothing changed, no event)."""
        return cls(user_id, state, None, Before.of(state), now)

    @property
    def payload(self) -> Payload | None:
        """The event's payload, or ``None`` on a scheduled evaluation."""
        return None if self.event is None else self.event.payload

    def value(self, name: str) -> Value:
        """Return feature ``name`` (computed on first use)."""
        if name not in self._cache:
            self._cache[name] = COMPUTE[name](self)
        return self._cache[name]

    def previous(self, name: str) -> Value:
        """Return a profile feature's value before this event (for ``changed_to``)."""
        value = self.before.profile.get(name)
        return value if isinstance(value, str | bool | float | int) else None


def _amount(ctx: Context) -> Value:
    payload = ctx.payload
    if isinstance(payload, Transaction | IncomeDeposit | Purchase):
        return float(payload.amount)
    return None


def _category(ctx: Context) -> Value:
    payload = ctx.payload
    return payload.category if isinstance(payload, Transaction) else None


def _direction(ctx: Context) -> Value:
    payload = ctx.payload
    return payload.direction if isinstance(payload, Transaction) else None


def _spend_week(ctx: Context) -> Value:
    return week_spend(ctx.state.daily_spend, day_number(ctx.at)) / 100


def _spend_baseline(ctx: Context) -> Value:
    today = day_number(ctx.at)
    mean = mean_of(baseline_weeks(ctx.state.daily_spend, today, ctx.state.spend_since))
    return None if mean is None else mean / 100


def _change_pct(ctx: Context, current_name: str, baseline_name: str) -> Value:
    """Percent change of one dollar feature against another; ``None`` without a baseline."""
    current, baseline = ctx.value(current_name), ctx.value(baseline_name)
    if not isinstance(current, float) or not isinstance(baseline, float) or baseline <= 0:
        return None
    return percent_change(current * 100, baseline * 100)


def _spend_change(ctx: Context) -> Value:
    return _change_pct(ctx, "spend_week", "spend_week_baseline")


def closed_month_number(ctx: Context) -> int:
    """Return the month just closed at the evaluation's time (``state.month_number``)."""
    return month_number(ctx.at) - 1


def _closed_month(ctx: Context) -> Value:
    month = closed_month_number(ctx)
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def _income_closed(ctx: Context) -> Value:
    return ctx.state.monthly_income.get(closed_month_number(ctx), 0) / 100


def _income_baseline(ctx: Context) -> Value:
    closed = closed_month_number(ctx)
    mean = mean_of(baseline_months(ctx.state.monthly_income, closed, ctx.state.income_since))
    return None if mean is None else mean / 100


def _income_change(ctx: Context) -> Value:
    return _change_pct(ctx, "income_closed_month", "income_month_baseline")


def _income_drop(ctx: Context) -> Value:
    change = ctx.value("income_change_pct")
    return None if not isinstance(change, float) else -change


def _profile(name: str) -> Callable[[Context], Value]:
    def read(ctx: Context) -> Value:
        value = ctx.state.profile.get(name)
        return value if isinstance(value, str | bool | float | int) else None

    return read


def _days_since_first_seen(ctx: Context) -> Value:
    first = ctx.state.first_day
    return None if first is None else float(day_number(ctx.at) - first)


def _last_event_at(ctx: Context) -> Value:
    return ctx.before.watermark or None


#: Features derived from others: a decision records these inputs beside the result.
DEPENDS: dict[str, tuple[str, ...]] = {
    "spend_week_change_pct": ("spend_week", "spend_week_baseline"),
    "income_change_pct": ("income_closed_month", "income_month_baseline"),
    "income_drop_pct": ("income_change_pct", "income_closed_month", "income_month_baseline"),
    **{name: inputs for domain in _DOMAINS for name, inputs in domain.DEPENDS.items()},
}

#: Feature name -> how to compute it. Must match ``schemas.features.FEATURES``.
COMPUTE: dict[str, Callable[[Context], Value]] = {
    "event_type": lambda ctx: None if ctx.event is None else ctx.event.type,
    "event_amount": _amount,
    "transaction_category": _category,
    "transaction_direction": _direction,
    "spend_week": _spend_week,
    "spend_week_baseline": _spend_baseline,
    "spend_week_change_pct": _spend_change,
    "closed_month": _closed_month,
    "income_closed_month": _income_closed,
    "income_month_baseline": _income_baseline,
    "income_change_pct": _income_change,
    "income_drop_pct": _income_drop,
    "tier": _profile("tier"),
    "relationship_status": _profile("relationship_status"),
    "days_since_first_seen": _days_since_first_seen,
    "last_event_at": _last_event_at,
    **{name: compute for domain in _DOMAINS for name, compute in domain.COMPUTE.items()},
}


def format_value(value: Value, unit: str) -> str:
    """Format a feature value for people: ``$1,234.50``, ``34``, ``8.5`` (times).

    Percent, days, minutes and counts are whole numbers (a mean count keeps one decimal);
    a multiple keeps one decimal.
    """
    if isinstance(value, bool) or not isinstance(value, float | int):
        return str(value)
    if unit == "dollars":
        return f"${value:,.2f}"
    if unit == "count" and value != int(value):
        return f"{value:.1f}"  # a mean of counts (1.5 sessions a week), not rounded to 2
    if unit in ("percent", "days", "minutes", "count"):
        return f"{value:.0f}"
    if unit == "times":
        return f"{value:.1f}"
    return f"{value:g}"


__all__ = ["COMPUTE", "Before", "Context", "Value", "closed_month_number", "format_value"]
