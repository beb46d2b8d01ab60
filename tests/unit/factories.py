"""Small builders of validated events and histories for the unit tests.

Every builder goes through ``Event.model_validate``, the same validation the intake uses,
so a test never holds an event the real edge would have refused. Times are fixed (not the
clock) so every test is reproducible.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.alerts import AlertFeatureValues
from schemas.events import Event
from streams.core.features.context import Before
from streams.core.features.registry import event_context
from streams.core.state.fold import apply_event
from streams.core.state.record import UserState
from streams.core.triggers.catalogue import default_definitions
from streams.core.triggers.evaluation import Match, evaluate

#: A fixed Monday noon UTC that histories start from.
START = datetime(2026, 1, 5, 12, tzinfo=UTC)

Amount = Decimal | str | int


def event(
    user: str, at: datetime, payload: dict[str, Any], *, event_id: str | None = None
) -> Event:
    """Build one validated event of ``user`` at ``at`` (aware) with ``payload``."""
    return Event.model_validate(
        {
            "event_id": event_id or str(uuid.uuid4()),
            "user_id": user,
            "occurred_at": at.isoformat(),
            "source": "app",
            "payload": payload,
        }
    )


def transaction(
    user: str,
    at: datetime,
    amount: Amount,
    *,
    event_id: str | None = None,
    direction: str = "debit",
) -> Event:
    """A card transaction of ``amount`` dollars (debit unless told)."""
    payload = {"type": "transaction", "amount": str(amount), "direction": direction}
    return event(user, at, payload, event_id=event_id)


def income(user: str, at: datetime, amount: Amount, *, event_id: str | None = None) -> Event:
    """An income deposit of ``amount`` dollars."""
    payload = {"type": "income_deposit", "amount": str(amount)}
    return event(user, at, payload, event_id=event_id)


def profile(user: str, at: datetime, *, event_id: str | None = None, **fields: Any) -> Event:
    """A profile update carrying only ``fields`` (``first_name``, ``consent``...)."""
    return event(user, at, {"type": "profile_update", **fields}, event_id=event_id)


def card_debit(  # noqa: PLR0913 - a debit's details, keyword-only
    user: str,
    at: datetime,
    amount: Amount,
    *,
    merchant: str,
    category: str = "groceries",
    country: str = "US",
    event_id: str | None = None,
) -> Event:
    """A card debit at ``merchant`` in ``country`` (the event's context)."""
    payload = {
        "type": "transaction", "amount": str(amount), "merchant": merchant, "category": category,
    }  # fmt: skip
    return Event.model_validate(
        {
            "event_id": event_id or str(uuid.uuid4()),
            "user_id": user,
            "occurred_at": at.isoformat(),
            "source": "backend",
            "context": {"country": country},
            "payload": payload,
        }
    )


def history(
    user: str, start: datetime = START, days: int = 28, daily: Amount = "20.00"
) -> list[Event]:
    """``days`` debits of ``daily`` dollars, one a day at ``start``'s time, oldest first."""
    return [transaction(user, start + timedelta(days=d), daily) for d in range(days)]


def fold(events: list[Event], state: UserState | None = None) -> UserState:
    """Apply ``events`` in order through ``apply_event`` (the real path) and return the state."""
    state = UserState() if state is None else state
    for item in events:
        apply_event(state, item)
    return state


#: Day offset (from ``START``) of the spending-spike event: four baseline weeks (days 0-27),
#: then the current week, days 28-34.
SPIKE_DAY = 34


def spike_history(user: str) -> list[Event]:
    """$20 a day on days 0-33: baseline weeks of exactly 14000 cents, 12000 so far this week.

    A final debit of ``X`` on ``SPIKE_DAY`` makes this week ``12000 + X`` cents, so ``$48.00``
    is exactly +20 % and ``$47.86`` is +19.9 %.
    """
    return history(user, START, days=SPIKE_DAY, daily="20.00")


def spike_at(offset: timedelta = timedelta()) -> datetime:
    """Time of the spike event (noon of ``SPIKE_DAY``), shifted by ``offset``."""
    return START + timedelta(days=SPIKE_DAY) + offset


def income_history(user: str, closed_income: Amount, *, partial_income: Amount = 0) -> list[Event]:
    """First paid mid-February 2026, $3000 on 1 March and 1 April, ``closed_income`` in May.

    February is the partial first month of income (``partial_income`` there, $1 if not
    given), so the baseline of May is March and April only: 300000 cents over 2 months.
    The first event of June (see ``june_event``) judges May.
    """
    feb = datetime(2026, 2, 15, 9, tzinfo=UTC)
    first = income(user, feb, partial_income or "1.00")
    events = [
        first,
        income(user, datetime(2026, 3, 1, 9, tzinfo=UTC), "3000.00"),
        income(user, datetime(2026, 4, 1, 9, tzinfo=UTC), "3000.00"),
    ]
    if Decimal(str(closed_income)):
        events.append(income(user, datetime(2026, 5, 1, 9, tzinfo=UTC), closed_income))
    return events


#: The first moment of June 2026 used to judge May.
JUNE = datetime(2026, 6, 2, 10, tzinfo=UTC)


def match_of(trigger_id: str, state: UserState, event: Event) -> Match | None:
    """Fold ``event`` in and evaluate the shipped definition ``trigger_id`` on it."""
    definition = next(d for d in default_definitions() if d.id == trigger_id)
    before = Before.of(state)
    assert apply_event(state, event)
    if event.type not in definition.evaluate_on.events:
        return None
    return evaluate(definition, event_context(state, event, before))


#: A user's recommender features, as the worker publishes them (any valid values do).
ALERT_FEATURES = AlertFeatureValues(
    total_amount=1200.0,
    average_transaction=40.0,
    spending_volatility=12.5,
    transaction_count=30,
    transactions_per_day=1.0,
    unique_merchants=11,
    unique_categories=5,
    credit_utilisation=0.35,
)
