"""The benchmark's workload: one fixed set of valid behaviour events, built without Kafka.

Every user gets a short spending history (one weekly-sized debit in each of the three
weeks before last, so the spending baseline exists) and then the bulk of their events
within the last day: mostly debit card transactions, some income deposits and page views.
History events are older than the worker's evaluation horizon, so they build state only;
recent events are evaluated for real. A share of users ("spikers") spend this day well
above their usual week, so ``spending_spike`` fires for them once and later debits are
suppressed by its cooldown, as in production.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

#: Share of recent events that are income deposits and page views; the rest are card
#: transactions, of which ``CREDIT_SHARE`` are refunds (credits) and the others debits.
INCOME_SHARE = 0.03
PAGE_VIEW_SHARE = 0.15
CREDIT_SHARE = 0.03
#: Share of users whose day of spending is well above their usual week.
SPIKER_SHARE = 0.15
#: A spiker's usual week is this fraction of the day's debits: ``spending_spike`` (at
#: +20 %) fires once the day reaches 36 % to 72 % of its total.
SPIKER_WEEK_FACTOR = (0.3, 0.6)
#: Everyone else's usual week is this multiple of the day's debits: never a +20 % spike.
STEADY_WEEK_FACTOR = (1.0, 2.0)
#: History: one weekly debit 10, 17 and 24 days back, in the middle of the three weekly
#: windows before the current one, whichever UTC day "today" is for a recent event.
HISTORY_DAYS_BACK = (10, 17, 24)
#: Recent events happen within this span before ``now``, ending a minute before it.
RECENT_SPAN = timedelta(hours=23)
#: Card amounts: log-normal with this median (dollars) and shape; a few large ones.
AMOUNT_MEDIAN = 28.0
AMOUNT_SIGMA = 0.9
AMOUNT_RANGE = (0.5, 4000.0)

CATEGORIES = ("groceries", "dining", "transport", "shopping", "utilities", "entertainment")
MERCHANTS = ("Fresh Mart", "Cafe Nero", "City Transit", "Shopmax", "PowerCo", "Cinema 8")
PATHS = ("/home", "/accounts", "/cards", "/loans/apply", "/savings/goals", "/help")
SOURCES = ("app", "web")


@dataclass(frozen=True, slots=True)
class Workload:
    """The events to pre-load, as Kafka messages in publishing (event-time) order.

    Attributes:
        messages: ``(key, value)`` pairs: the user id and one JSON event.
        counts: Events by type (debits and credits both count as ``transaction``).
        users: Distinct users.
        spikers: Users whose day of spending should fire ``spending_spike``.
    """

    messages: list[tuple[bytes, bytes]]
    counts: dict[str, int]
    users: int
    spikers: int


def build_workload(events: int, users: int, *, now: datetime, seed: int = 7) -> Workload:
    """Return ``events`` valid events for ``users`` users, keyed and ordered by event time.

    Args:
        events: How many events in all (at least ``users``).
        users: How many users; events are spread evenly over them.
        now: Timezone-aware "now": recent events end a minute before it.
        seed: Seed of the generator; the same arguments give the same events.

    Raises:
        ValueError: ``users`` below 1, fewer events than users, or a naive ``now``.
    """
    if users < 1 or events < users:
        msg = f"need 1 <= users <= events, got {users} users and {events} events"
        raise ValueError(msg)
    if now.tzinfo is None:
        msg = "now must be timezone-aware"
        raise ValueError(msg)
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    # Serialised as they are made: the parent holds bytes, not 200k nested dicts.
    timeline: list[tuple[datetime, bytes, bytes]] = []
    counts: Counter[str] = Counter()
    spikers = 0
    for index in range(users):
        share = events // users + (1 if index < events % users else 0)
        user = f"user-{index:06d}"
        user_timeline, spiker = _user_events(rng, user, share, now)
        key = user.encode()
        for at, document in user_timeline:
            counts[document["payload"]["type"]] += 1
            timeline.append((at, key, compact_json(document)))
        spikers += spiker
    timeline.sort(key=lambda item: item[0])
    messages = [(key, value) for _, key, value in timeline]
    return Workload(messages=messages, counts=dict(counts), users=users, spikers=spikers)


def _user_events(
    rng: random.Random, user: str, count: int, now: datetime
) -> tuple[list[tuple[datetime, dict[str, Any]]], bool]:
    """Return one user's ``count`` events with their times, and whether they spike."""
    weeks = len(HISTORY_DAYS_BACK) if count > len(HISTORY_DAYS_BACK) else 0
    recent = [_recent_payload(rng) for _ in range(count - weeks)]
    spent = sum(
        float(p["amount"])
        for p in recent
        if p["type"] == "transaction" and p["direction"] == "debit"
    )
    spiker = weeks > 0 and rng.random() < SPIKER_SHARE
    factor = rng.uniform(*(SPIKER_WEEK_FACTOR if spiker else STEADY_WEEK_FACTOR))
    week_amount = max(spent * factor, 1.0)
    timeline = []
    for days in HISTORY_DAYS_BACK[:weeks]:
        at = now - timedelta(days=days, hours=rng.uniform(-9.0, 9.0))
        timeline.append((at, _envelope(rng, user, at, _weekly_debit(week_amount))))
    for payload in recent:
        at = now - timedelta(minutes=1) - RECENT_SPAN * rng.random()
        timeline.append((at, _envelope(rng, user, at, payload)))
    return timeline, spiker


def _envelope(
    rng: random.Random, user: str, at: datetime, payload: dict[str, Any]
) -> dict[str, Any]:
    """Wrap a payload in the event envelope (``schemas.events.Event``)."""
    return {
        "schema_version": 1,
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "user_id": user,
        "occurred_at": at.isoformat(),
        "source": rng.choice(SOURCES),
        "context": {"device": "ios", "country": "US"},
        "payload": payload,
    }


def _recent_payload(rng: random.Random) -> dict[str, Any]:
    """Draw one recent event's payload: page view, income deposit or card transaction."""
    draw = rng.random()
    if draw < PAGE_VIEW_SHARE:
        return {
            "type": "page_view",
            "path": rng.choice(PATHS),
            "duration_seconds": round(rng.uniform(1.0, 120.0), 1),
        }
    if draw < PAGE_VIEW_SHARE + INCOME_SHARE:
        return {
            "type": "income_deposit",
            "amount": f"{rng.uniform(1200.0, 4500.0):.2f}",
            "kind": "salary",
            "source_name": "Acme Payroll",
        }
    shop = rng.randrange(len(CATEGORIES))
    return {
        "type": "transaction",
        "amount": f"{card_amount(rng):.2f}",
        "currency": "USD",
        "merchant": MERCHANTS[shop],
        "category": CATEGORIES[shop],
        "direction": "credit" if rng.random() < CREDIT_SHARE else "debit",
    }


def _weekly_debit(amount: float) -> dict[str, Any]:
    """A debit the size of a whole usual week (the history's one event per week)."""
    return {
        "type": "transaction",
        "amount": f"{amount:.2f}",
        "currency": "USD",
        "merchant": "Weekly Shop",
        "category": "groceries",
        "direction": "debit",
    }


def compact_json(document: dict[str, Any]) -> bytes:
    """Serialise ``document`` into a bytes object of exactly its size.

    ``orjson.dumps`` returns bytes that keep about 4 KiB of resident memory each while
    alive (its output buffer is not trimmed); 200k of them would hold ~800 MiB, so the
    result is copied once into a right-sized object.
    """
    return bytes(memoryview(orjson.dumps(document)))


def card_amount(rng: random.Random) -> float:
    """Draw a card payment in dollars: log-normal around ``AMOUNT_MEDIAN``, clamped."""
    amount = rng.lognormvariate(math.log(AMOUNT_MEDIAN), AMOUNT_SIGMA)
    return min(max(amount, AMOUNT_RANGE[0]), AMOUNT_RANGE[1])
