"""Learned features: the debit's anomaly score, the spending forecast, goal probabilities.

Registered into ``streams.core.features.registry.COMPUTE``. The models are in
``models.online``; their per-user state is in the record, updated by the fold
(``streams.core.state.fold``), so these functions only read.
"""

from __future__ import annotations

from models.online import anomaly, forecast, goals
from schemas.events import SavingsProgress, Transaction
from streams.core.features.context import Feature, FeatureContext, Value
from streams.core.units import SECONDS_PER_DAY, day_number

#: Days from one pay deposit to the next, for users paid monthly.
PAY_PERIOD_DAYS = 30.44


def _debit_score(ctx: FeatureContext) -> tuple[float | None, str | None]:
    payload = ctx.payload
    if not isinstance(payload, Transaction) or payload.direction != "debit":
        return None, None
    return anomaly.last_score(ctx.state.anomaly)  # scored by the fold, before it learned


def _anomaly_score(ctx: FeatureContext) -> Value:
    return _debit_score(ctx)[0]


def _anomaly_reason(ctx: FeatureContext) -> Value:
    return _debit_score(ctx)[1]


def _forecast_week(ctx: FeatureContext) -> Value:
    state = ctx.state
    cents = forecast.next_week_cents(state.daily_spend, day_number(ctx.at), state.spend_since)
    return None if cents is None else round(cents / 100, 2)


def _last_pay(ctx: FeatureContext) -> float | None:
    return ctx.state.last_seen.get("income_deposit")


def _days_to_payday(ctx: FeatureContext) -> Value:
    last = _last_pay(ctx)
    if last is None or not isinstance(ctx.value("usual_deposit"), float):
        return None  # not paid regularly: no payday to count to
    due = last + PAY_PERIOD_DAYS * SECONDS_PER_DAY
    return round(max(due - ctx.at.timestamp(), 0.0) / SECONDS_PER_DAY, 2)


def _overspend(ctx: FeatureContext) -> Value:
    week, days, usual = (
        ctx.value("spend_forecast_week"), ctx.value("days_to_payday"), ctx.value("usual_deposit")
    )  # fmt: skip
    last = _last_pay(ctx)
    if not isinstance(week, float) or not isinstance(days, float) or not isinstance(usual, float):
        return None
    if last is None:
        return None
    since = day_number_of(last)
    spent = sum(cents for day, cents in ctx.state.daily_spend.items() if day >= since) / 100
    result = forecast.overspend_pct(spent, week / forecast.DAYS_PER_WEEK, days, usual)
    return None if result is None else round(result, 2)


def _goal(ctx: FeatureContext) -> list[object] | None:
    """The goal the evaluation is about: the event's, or on a schedule the least likely."""
    progress = ctx.state.goal_progress
    payload = ctx.payload
    now = ctx.at.timestamp()
    if isinstance(payload, SavingsProgress):
        return progress.get(payload.goal_id)
    return None if ctx.event is not None else goals.least_likely(progress, now)


def _goal_probability(ctx: FeatureContext) -> Value:
    goal = _goal(ctx)
    return None if goal is None else goals.probability(goal, ctx.at.timestamp())


def _goal_days_left(ctx: FeatureContext) -> Value:
    goal = _goal(ctx)
    if goal is None:
        return None
    left = goals.days_left(goal, ctx.at.timestamp())
    return None if left is None else round(left, 2)


def day_number_of(epoch_seconds: float) -> int:
    """Return the UTC day number of a time in epoch seconds."""
    return int(epoch_seconds // SECONDS_PER_DAY)


COMPUTE: dict[str, Feature] = {
    "transaction_anomaly_score": _anomaly_score,
    "transaction_anomaly_reason": _anomaly_reason,
    "spend_forecast_week": _forecast_week,
    "days_to_payday": _days_to_payday,
    "forecast_overspend_pct": _overspend,
    "goal_probability": _goal_probability,
    "goal_days_left": _goal_days_left,
}

DEPENDS: dict[str, tuple[str, ...]] = {
    "days_to_payday": ("usual_deposit",),
    "forecast_overspend_pct": ("spend_forecast_week", "days_to_payday", "usual_deposit"),
}
