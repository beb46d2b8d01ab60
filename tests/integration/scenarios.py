"""Event histories for integration tests, relative to the real clock.

The worker evaluates only fresh events (within two days of now), so histories end now.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from schemas.events import Event
from tests.unit.factories import event


def spend(user: str, at: datetime, amount: str, event_id: str | None = None) -> Event:
    """A debit card transaction."""
    payload = {"type": "transaction", "amount": amount, "category": "groceries"}
    return event(user, at, payload, event_id=event_id)


def named(user: str, at: datetime, first_name: str) -> Event:
    """A profile update giving the user's first name."""
    return event(user, at, {"type": "profile_update", "first_name": first_name})


def steady_spender(user: str, now: datetime, days: int = 35, daily: str = "50.00") -> list[Event]:
    """A user who spends the same every day up to an hour ago."""
    start = now - timedelta(days=days)
    events = [named(user, start - timedelta(hours=1), user.split("-")[0].title())]
    events += [spend(user, now - timedelta(days=d, hours=1), daily) for d in range(days, -1, -1)]
    return events


def spiker(user: str, now: datetime) -> list[Event]:
    """A steady spender who spends an extra $400 a few minutes ago."""
    return [
        *steady_spender(user, now),
        spend(user, now - timedelta(minutes=5), "400.00", f"{user}-spike"),
    ]


def month_start(moment: datetime, back: int) -> datetime:
    """Midnight UTC on the first day of the month ``back`` months before ``moment``."""
    index = moment.year * 12 + moment.month - 1 - back
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def income_dropper(user: str, now: datetime, drop: Decimal = Decimal("0.33")) -> list[Event]:
    """Paid $3000 on the 1st for months, a third less last month, and active this month."""
    events = [named(user, month_start(now, 5) + timedelta(days=20), "Dana")]
    for back in (4, 3, 2, 1):
        amount = Decimal(3000) * (1 - drop) if back == 1 else Decimal(3000)
        events.append(
            event(user, month_start(now, back) + timedelta(hours=9),
                  {"type": "income_deposit", "amount": str(amount.quantize(Decimal("0.01")))})
        )  # fmt: skip
    this_month = month_start(now, 0)
    fresh = now - min((now - this_month) / 2, timedelta(hours=1))
    events.append(spend(user, fresh, "20.00", f"{user}-fresh"))
    return events


def ordered(*histories: list[Event]) -> list[Event]:
    """Merge histories by event time, as producers would publish them."""
    return sorted((e for history in histories for e in history), key=lambda e: e.occurred_at)


def as_messages(events: list[Event]) -> list[tuple[bytes | None, bytes]]:
    """Kafka (key, value) pairs for events."""
    return [(e.user_id.encode(), e.model_dump_json().encode()) for e in events]


def card_balance(user: str, at: datetime, used_percent: int = 85) -> Event:
    """A credit card snapshot with ``used_percent`` of a $1000 limit owed (over 70 % fires)."""
    payload = {
        "type": "balance_snapshot",
        "account_kind": "credit_card",
        "balance": f"{used_percent * 10}.00",
        "credit_limit": "1000.00",
    }
    return event(user, at, payload, event_id=f"{user}-card-{int(at.timestamp())}")


def quote_abandoned(user: str, at: datetime) -> Event:
    """The user left a car-insurance quote form unfinished."""
    payload = {"type": "form_abandon", "form_id": "auto-quote", "product": "car insurance"}
    return event(user, at, payload, event_id=f"{user}-quote-{int(at.timestamp())}")


def risk_scores(
    user: str, now: datetime, values: tuple[float, ...], drivers: tuple[str, ...] = ()
) -> list[Event]:
    """One risk score every three days, the last an hour ago: only the last is fresh."""
    last = len(values) - 1
    return [
        event(user, now - timedelta(days=3 * (last - i), hours=1),
              {"type": "risk_score", "score": v, "top_drivers": list(drivers)})
        for i, v in enumerate(values)
    ]  # fmt: skip


#: An experiment on the spikes' messages whose arms both send (the trigger's copy, or the
#: large-transaction one): exposures and assignments without changing who gets a command.
SPIKE_COPY = {
    "id": "spike_copy", "name": "Spike copy", "trigger": "spending_spike", "varies": "template",
    "variants": [
        {"id": "control", "control": True},
        {"id": "plain", "templates": {"sms": "large_transaction.sms",
                                      "email": "large_transaction.email"}},
    ],
    "metrics": [{"name": "purchase", "events": ["purchase"], "window": "1d"}],
}  # fmt: skip
