"""Financial features: large debits against the usual day, credit use, savings milestones.

Registered into ``streams.core.features.registry.COMPUTE``. Percentages of money are
computed in exact decimals from the event's amounts, so an edge such as 70 % of a limit is
exactly 70.
"""

from __future__ import annotations

from decimal import Decimal

from schemas.events import BalanceSnapshot, SavingsProgress, Transaction
from streams.core.features.baselines import DAYS_PER_WEEK
from streams.core.features.context import Feature, FeatureContext, Value
from streams.core.state.fold import savings_milestone
from streams.core.units import days_since

#: Digits kept of computed ratios, so exact edges stay exact (as ``percent_change``).
_ROUNDING = 9


def _spend_day_baseline(ctx: FeatureContext) -> Value:
    weekly = ctx.value("spend_week_baseline")
    return None if not isinstance(weekly, float) else round(weekly / DAYS_PER_WEEK, _ROUNDING)


def _debit_multiple(ctx: FeatureContext) -> Value:
    payload = ctx.payload
    if not isinstance(payload, Transaction) or payload.direction != "debit":
        return None
    weekly = ctx.value("spend_week_baseline")
    if not isinstance(weekly, float) or weekly <= 0:
        return None
    # amount / (weekly / 7), as amount * 7 / weekly: one rounding instead of two.
    return round(float(payload.amount) * DAYS_PER_WEEK / weekly, _ROUNDING)


def _snapshot(ctx: FeatureContext) -> BalanceSnapshot | None:
    payload = ctx.payload
    return payload if isinstance(payload, BalanceSnapshot) else None


def _account_kind(ctx: FeatureContext) -> Value:
    snapshot = _snapshot(ctx)
    return None if snapshot is None else snapshot.account_kind


def _account_balance(ctx: FeatureContext) -> Value:
    snapshot = _snapshot(ctx)
    return None if snapshot is None else float(snapshot.balance)


def _credit_limit(ctx: FeatureContext) -> Value:
    snapshot = _snapshot(ctx)
    if snapshot is None or snapshot.credit_limit is None:
        return None
    return float(snapshot.credit_limit)


def _owed(snapshot: BalanceSnapshot) -> Decimal:
    # A negative balance on a card is money in credit: nothing is owed.
    return max(snapshot.balance, Decimal(0))


def _credit_available(ctx: FeatureContext) -> Value:
    snapshot = _snapshot(ctx)
    if snapshot is None or snapshot.credit_limit is None:
        return None
    return float(max(snapshot.credit_limit - _owed(snapshot), Decimal(0)))


def _credit_utilisation(ctx: FeatureContext) -> Value:
    snapshot = _snapshot(ctx)
    if snapshot is None or not snapshot.credit_limit:
        return None
    return round(float(_owed(snapshot) * 100 / snapshot.credit_limit), _ROUNDING)


def _savings(ctx: FeatureContext) -> SavingsProgress | None:
    payload = ctx.payload
    return payload if isinstance(payload, SavingsProgress) else None


def _savings_saved(ctx: FeatureContext) -> Value:
    progress = _savings(ctx)
    return None if progress is None else float(progress.saved)


def _savings_target(ctx: FeatureContext) -> Value:
    progress = _savings(ctx)
    return None if progress is None else float(progress.target)


def _savings_progress(ctx: FeatureContext) -> Value:
    progress = _savings(ctx)
    if progress is None or not progress.target:
        return None
    return round(float(progress.saved * 100 / progress.target), _ROUNDING)


def _milestone_crossed(ctx: FeatureContext) -> Value:
    progress = _savings(ctx)
    if progress is None:
        return None
    reached = savings_milestone(progress.saved, progress.target)
    before = ctx.before.goal_milestones.get(progress.goal_id, 0)
    return float(reached) if reached > before else 0.0


def _open_goals(ctx: FeatureContext) -> Value:
    return float(sum(1 for reached in ctx.state.goal_milestones.values() if reached < 100))


def _last_savings_progress(ctx: FeatureContext) -> Value:
    return ctx.state.last_seen.get("savings_progress")


def _days_since_savings_progress(ctx: FeatureContext) -> Value:
    last = ctx.state.last_seen.get("savings_progress")
    return None if last is None else days_since(last, ctx.at)


COMPUTE: dict[str, Feature] = {
    "open_savings_goals": _open_goals,
    "last_savings_progress_at": _last_savings_progress,
    "days_since_savings_progress": _days_since_savings_progress,
    "spend_day_baseline": _spend_day_baseline,
    "debit_multiple": _debit_multiple,
    "account_kind": _account_kind,
    "account_balance": _account_balance,
    "credit_limit": _credit_limit,
    "credit_available": _credit_available,
    "credit_utilisation_pct": _credit_utilisation,
    "savings_saved": _savings_saved,
    "savings_target": _savings_target,
    "savings_progress_pct": _savings_progress,
    "savings_milestone_crossed": _milestone_crossed,
}

DEPENDS: dict[str, tuple[str, ...]] = {
    "days_since_savings_progress": ("open_savings_goals",),
    "spend_day_baseline": ("spend_week_baseline",),
    "debit_multiple": ("event_amount", "spend_day_baseline"),
    "credit_available": ("credit_limit", "account_balance"),
    "credit_utilisation_pct": ("account_balance", "credit_limit"),
    "savings_progress_pct": ("savings_saved", "savings_target"),
    "savings_milestone_crossed": ("savings_progress_pct", "savings_saved", "savings_target"),
}
