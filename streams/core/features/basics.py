"""The first features: the event's own figures, weekly spend, monthly income, the profile.

Spend and income are compared with their own baselines (``baselines``); the profile
features read what profile updates set.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

from schemas.events import IncomeDeposit, Purchase, Transaction
from streams.core.features.baselines import (
    Baseline,
    baseline_months,
    baseline_weeks,
    mean_of,
    percent_change,
    summarise,
    trend_of,
    week_spend,
    zscore,
)
from streams.core.features.context import Feature, FeatureContext, Value
from streams.core.units import day_number, days_since, month_number, month_number_of

#: Fewest earlier deposits that make a user "paid regularly" (``usual_deposit``).
REGULAR_PAY_DEPOSITS = 3
#: Every earlier deposit within this share of their median, or the pay is not regular.
REGULAR_PAY_SPREAD = 0.10


def _amount(ctx: FeatureContext) -> Value:
    payload = ctx.payload
    if isinstance(payload, Transaction | IncomeDeposit | Purchase):
        return float(payload.amount)
    return None


def _category(ctx: FeatureContext) -> Value:
    payload = ctx.payload
    return payload.category if isinstance(payload, Transaction) else None


def _direction(ctx: FeatureContext) -> Value:
    payload = ctx.payload
    return payload.direction if isinstance(payload, Transaction) else None


def _spend_week(ctx: FeatureContext) -> Value:
    return week_spend(ctx.state.daily_spend, day_number(ctx.at)) / 100


def _spend_baseline(ctx: FeatureContext) -> Value:
    today = day_number(ctx.at)
    mean = mean_of(baseline_weeks(ctx.state.daily_spend, today, ctx.state.spend_since))
    return None if mean is None else mean / 100


def _change_pct(ctx: FeatureContext, current_name: str, baseline_name: str) -> Value:
    """Percent change of one dollar feature against another; ``None`` without a baseline."""
    current, baseline = ctx.value(current_name), ctx.value(baseline_name)
    if not isinstance(current, float) or not isinstance(baseline, float) or baseline <= 0:
        return None
    return percent_change(current * 100, baseline * 100)


def _spend_change(ctx: FeatureContext) -> Value:
    return _change_pct(ctx, "spend_week", "spend_week_baseline")


def _spend_summary(ctx: FeatureContext) -> Baseline | None:
    weeks = baseline_weeks(ctx.state.daily_spend, day_number(ctx.at), ctx.state.spend_since)
    return None if weeks is None else summarise(weeks)


def _spread(
    summary: Callable[[FeatureContext], Baseline | None],
    current: Callable[[FeatureContext], float],
) -> tuple[Feature, Feature, Feature]:
    """Return the deviation (dollars), z-score and trend features of one baseline.

    ``summary`` gives the baseline (cents), ``current`` the period compared with it (cents).
    """

    def deviation(ctx: FeatureContext) -> Value:
        baseline = summary(ctx)
        return None if baseline is None else baseline.deviation / 100

    def score(ctx: FeatureContext) -> Value:
        baseline = summary(ctx)
        return None if baseline is None else zscore(current(ctx), baseline)

    def trend(ctx: FeatureContext) -> Value:
        baseline = summary(ctx)
        return None if baseline is None else trend_of(baseline)

    return deviation, score, trend


_spend_deviation, _spend_zscore, _spend_trend = _spread(
    _spend_summary, lambda ctx: week_spend(ctx.state.daily_spend, day_number(ctx.at))
)


def closed_month_number(ctx: FeatureContext) -> int:
    """Return the month just closed at the evaluation's time (a ``units.month_number``)."""
    return month_number(ctx.at) - 1


def _closed_month(ctx: FeatureContext) -> Value:
    month = closed_month_number(ctx)
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def _income_closed(ctx: FeatureContext) -> Value:
    return ctx.state.monthly_income.get(closed_month_number(ctx), 0) / 100


def _income_baseline(ctx: FeatureContext) -> Value:
    closed = closed_month_number(ctx)
    mean = mean_of(baseline_months(ctx.state.monthly_income, closed, ctx.state.income_since))
    return None if mean is None else mean / 100


def _income_summary(ctx: FeatureContext) -> Baseline | None:
    closed = closed_month_number(ctx)
    months = baseline_months(ctx.state.monthly_income, closed, ctx.state.income_since)
    return None if months is None else summarise(months)


_income_deviation, _income_zscore, _income_trend = _spread(
    _income_summary, lambda ctx: ctx.state.monthly_income.get(closed_month_number(ctx), 0)
)


def _income_change(ctx: FeatureContext) -> Value:
    return _change_pct(ctx, "income_closed_month", "income_month_baseline")


def _income_drop(ctx: FeatureContext) -> Value:
    change = ctx.value("income_change_pct")
    return None if not isinstance(change, float) else -change


def _usual_deposit(ctx: FeatureContext) -> Value:
    """Median of the deposits before this one, if they are regular; else ``None``.

    Regular: at least ``REGULAR_PAY_DEPOSITS`` of them, each within ``REGULAR_PAY_SPREAD``
    of their median (a salary, not freelance or benefit top-ups).
    """
    deposits = ctx.state.deposits
    if isinstance(ctx.payload, IncomeDeposit):
        deposits = deposits[:-1]  # the record has already taken this one in
    if len(deposits) < REGULAR_PAY_DEPOSITS:
        return None
    median = statistics.median(deposits)
    if median <= 0 or any(abs(d - median) > REGULAR_PAY_SPREAD * median for d in deposits):
        return None
    return median / 100


def _deposit_drop(ctx: FeatureContext) -> Value:
    usual = ctx.value("usual_deposit")
    if not isinstance(ctx.payload, IncomeDeposit) or not isinstance(usual, float):
        return None
    return (usual - float(ctx.payload.amount)) / usual * 100


def _pay_cut_told_for_closed_month(ctx: FeatureContext) -> Value:
    told = ctx.state.last_fired.get("pay_cut")
    if told is None:
        return False
    return month_number_of(told) == closed_month_number(ctx)


def _days_since_income_drop_told(ctx: FeatureContext) -> Value:
    told = ctx.state.last_fired.get("income_drop")
    return None if told is None else days_since(told, ctx.at)


def _profile(name: str) -> Feature:
    def read(ctx: FeatureContext) -> Value:
        value = ctx.state.profile.get(name)
        return value if isinstance(value, str | bool | float | int) else None

    return read


def _days_since_first_seen(ctx: FeatureContext) -> Value:
    first = ctx.state.first_day
    return None if first is None else float(day_number(ctx.at) - first)


def _last_event_at(ctx: FeatureContext) -> Value:
    return ctx.before.watermark or None


DEPENDS: dict[str, tuple[str, ...]] = {
    "spend_week_change_pct": ("spend_week", "spend_week_baseline"),
    "spend_week_zscore": ("spend_week", "spend_week_baseline", "spend_week_deviation"),
    "income_month_zscore": (
        "income_closed_month",
        "income_month_baseline",
        "income_month_deviation",
    ),
    "income_change_pct": ("income_closed_month", "income_month_baseline"),
    "income_drop_pct": ("income_change_pct", "income_closed_month", "income_month_baseline"),
    "deposit_drop_pct": ("event_amount", "usual_deposit"),
}

COMPUTE: dict[str, Feature] = {
    "event_type": lambda ctx: None if ctx.event is None else ctx.event.type,
    "event_amount": _amount,
    "transaction_category": _category,
    "transaction_direction": _direction,
    "spend_week": _spend_week,
    "spend_week_baseline": _spend_baseline,
    "spend_week_change_pct": _spend_change,
    "spend_week_deviation": _spend_deviation,
    "spend_week_zscore": _spend_zscore,
    "spend_trend": _spend_trend,
    "closed_month": _closed_month,
    "income_closed_month": _income_closed,
    "income_month_baseline": _income_baseline,
    "income_change_pct": _income_change,
    "income_drop_pct": _income_drop,
    "income_month_deviation": _income_deviation,
    "income_month_zscore": _income_zscore,
    "income_trend": _income_trend,
    "usual_deposit": _usual_deposit,
    "deposit_drop_pct": _deposit_drop,
    "pay_cut_told_for_closed_month": _pay_cut_told_for_closed_month,
    "days_since_income_drop_told": _days_since_income_drop_told,
    "tier": _profile("tier"),
    "relationship_status": _profile("relationship_status"),
    "days_since_first_seen": _days_since_first_seen,
    "last_event_at": _last_event_at,
}
