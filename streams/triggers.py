"""Trigger conditions: when does a user's picture call for a message?

Each trigger is a pure function of the user's state (the current event already folded in)
and the event, returning a ``Match`` with the feature values and message variables, or
``None``. Whether a match is then sent or suppressed is ``streams.decisions``' job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.commands import Priority
from schemas.events import Channel, Event, Transaction
from streams.baselines import (
    monthly_income_baseline,
    percent_change,
    week_spend,
    weekly_spend_baseline,
)
from streams.state import UserState, day_number, month_number

DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Match:
    """A trigger's condition held.

    Attributes:
        cause: What the decision is about: the event id, or a period such as
            ``2026-10`` for triggers that judge a closed period once. Ids derive from it.
        features: The numbers the condition was decided on.
        variables: Raw values for the message templates.
        detail: One sentence with those numbers, for the decision record.
    """

    cause: str
    features: dict[str, float]
    variables: dict[str, str]
    detail: str


@dataclass(frozen=True, slots=True)
class TriggerConfig:
    """How one trigger behaves.

    Attributes:
        trigger_id: Stable id; also the template message id.
        event_types: Event types that evaluate it.
        threshold_percent: Change against the baseline that matches, in percent
            (positive: at least this much above; for drops, at least this much below).
        min_amount_cents: Smallest amount the comparison is about, in cents: this week's
            spending for a spike, the usual monthly income for a drop (a drop from a
            tiny income is noise).
        cooldown_seconds: After a firing, matches are suppressed this long (event time).
        priority: Arbitration rank and the commands' priority.
        channels: Channels to send on, in order of preference.
    """

    trigger_id: str
    event_types: frozenset[str]
    threshold_percent: float
    min_amount_cents: int
    cooldown_seconds: float
    priority: Priority
    channels: tuple[Channel, ...]


def money(cents: float) -> str:
    """Format cents as dollars for a message (``$1,234.50``)."""
    return f"${cents / 100:,.2f}"


def spending_spike(state: UserState, event: Event, config: TriggerConfig) -> Match | None:
    """Match when this week's spending is at least the threshold above the usual week.

    The week is the 7 UTC days ending on the event's day; the usual week is the mean of
    the four weeks before it (at least two full weeks since the first debit needed).
    """
    if not isinstance(event.payload, Transaction) or event.payload.direction != "debit":
        return None
    today = day_number(event.occurred_at)
    baseline = weekly_spend_baseline(state.daily_spend, today, state.spend_since)
    if baseline is None or baseline.mean <= 0:
        return None
    current = week_spend(state.daily_spend, today)
    change = percent_change(current, baseline.mean)
    if change < config.threshold_percent or current < config.min_amount_cents:
        return None
    return Match(
        cause=event.event_id,
        features={
            "week_spend_cents": float(current),
            "baseline_cents": baseline.mean,
            "baseline_deviation_cents": baseline.deviation,
            "baseline_trend_cents_per_week": baseline.trend,
            "change_percent": change,
        },
        variables={
            "percentage": f"{change:.0f}",
            "week_spend": money(current),
            "baseline": money(baseline.mean),
        },
        detail=(
            f"Spending over the 7 days to {_day_text(today)} was {money(current)}, "
            f"{change:.1f}% above the {baseline.periods}-week baseline of "
            f"{money(baseline.mean)} (threshold {config.threshold_percent:g}%, "
            f"minimum {money(config.min_amount_cents)})."
        ),
    )


def income_drop(state: UserState, event: Event, config: TriggerConfig) -> Match | None:
    """Match when the month just closed brought at least the threshold less income than usual.

    Judged once per closed month, at the user's first event of the next month: the closed
    month against the mean of the three before it (at least two full months after the
    month of the first deposit needed). Marks the month as judged in ``state.evaluated``.
    """
    closed = month_number(event.occurred_at) - 1
    if state.evaluated.get(config.trigger_id, -1) >= closed:
        return None
    state.evaluated[config.trigger_id] = closed
    baseline = monthly_income_baseline(state.monthly_income, closed, state.income_since)
    if baseline is None or baseline.mean <= 0:
        return None
    income = state.monthly_income.get(closed, 0)
    drop = -percent_change(income, baseline.mean)
    if drop < config.threshold_percent or baseline.mean < config.min_amount_cents:
        return None
    month = _month_text(closed)
    return Match(
        cause=f"month:{month}",
        features={
            "month_income_cents": float(income),
            "baseline_cents": baseline.mean,
            "baseline_deviation_cents": baseline.deviation,
            "baseline_trend_cents_per_month": baseline.trend,
            "drop_percent": drop,
        },
        variables={
            "percentage": f"{drop:.0f}",
            "income": money(income),
            "baseline": money(baseline.mean),
            "month": month,
        },
        detail=(
            f"Income in {month} was {money(income)}, {drop:.1f}% below the "
            f"{baseline.periods}-month baseline of {money(baseline.mean)} "
            f"(threshold {config.threshold_percent:g}%)."
        ),
    )


Matcher = Callable[[UserState, Event, TriggerConfig], "Match | None"]

#: Trigger id -> condition. Issue 3 replaces these with definitions as data.
MATCHERS: dict[str, Matcher] = {
    "spending_spike": spending_spike,
    "income_drop": income_drop,
}

DEFAULT_TRIGGERS: tuple[TriggerConfig, ...] = (
    TriggerConfig(
        trigger_id="spending_spike",
        event_types=frozenset({"transaction"}),
        threshold_percent=20.0,
        min_amount_cents=100_00,
        cooldown_seconds=7 * DAY,
        priority=Priority.MEDIUM,
        channels=(Channel.SMS, Channel.EMAIL),
    ),
    TriggerConfig(
        trigger_id="income_drop",
        event_types=frozenset({"income_deposit", "transaction"}),
        threshold_percent=15.0,
        min_amount_cents=100_00,
        # Judged once a month already; a little under a month so that a further drop
        # next month is still told, whatever day the user's first event falls on.
        cooldown_seconds=25 * DAY,
        priority=Priority.HIGH,
        channels=(Channel.SMS, Channel.EMAIL),
    ),
)


def _day_start(day: int) -> datetime:
    return datetime.fromtimestamp(day * DAY, tz=UTC)


def _day_text(day: int) -> str:
    return _day_start(day).date().isoformat()


def _month_text(month: int) -> str:
    return f"{month // 12:04d}-{month % 12 + 1:02d}"
