"""Card holders for the alert recommender: what they spend, and which alerts they switch on.

Each user is one of ``PERSONAS``: a way of spending (how many debits in 30 days, how
large, across how many merchants and categories, how close to their credit limit) and
the alerts such people switch on. Each of a persona's alerts is on with probability
``TAKES_UP``, and one other alert at random with ``STRAYS``, so labels are noisy as real
ones are; a share ``SILENT`` of the users switch nothing on (the trainer labels them from
their behaviour). The alerts people choose follow from how they spend, which is what a
nearest-neighbours recommender can learn and a popularity list cannot: the demo's
evaluation shows by how much. Seeded: the same seed gives the same users and events.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas.alerts import AlertType
from streams.simulation.synthetic import event_dict

EventDict = dict[str, Any]

#: Users' ids start with this.
PREFIX = "cardholder-"
#: Chance that a user switches on each of their persona's alerts, one other at random, and
#: none at all.
TAKES_UP, STRAYS, SILENT = 0.85, 0.15, 0.25
#: Days of history each user has.
HISTORY_DAYS = 30


@dataclass(frozen=True, slots=True)
class Persona:
    """A way of spending and the alerts that goes with it."""

    name: str
    debits: tuple[int, int]
    amount: tuple[float, float]
    merchants: int
    categories: tuple[str, ...]
    utilisation: tuple[float, float]
    alerts: tuple[AlertType, ...]


PERSONAS = (
    Persona("traveller", (40, 60), (20, 300), 35, ("travel", "hotel", "dining", "transport"),
            (0.1, 0.4), (AlertType.LOCATION_BASED, AlertType.NEW_MERCHANT)),
    Persona("big_spender", (20, 40), (200, 1500), 10, ("electronics", "fashion", "home"),
            (0.2, 0.5), (AlertType.HIGH_SPENDER, AlertType.LARGE_TRANSACTION)),
    Persona("frequent_small", (90, 150), (3, 20), 6, ("coffee", "groceries"),
            (0.05, 0.3), (AlertType.HIGH_TX_VOLUME, AlertType.SUBSCRIPTION_MONITORING)),
    Persona("stretched", (30, 50), (30, 120), 12, ("groceries", "utilities", "fuel"),
            (0.75, 0.98), (AlertType.NEAR_CREDIT_LIMIT, AlertType.SUBSCRIPTION_MONITORING)),
    Persona("explorer", (50, 80), (10, 80), 60,
            ("books", "music", "games", "dining", "crafts", "garden", "pets", "sport"),
            (0.1, 0.4), (AlertType.HIGH_MERCHANT_DIVERSITY, AlertType.NEW_MERCHANT)),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Cardholder:
    """One simulated user: their persona and the alerts they switch on."""

    user_id: str
    persona: str
    alerts: tuple[AlertType, ...]


def population(users: int, *, seed: int) -> list[Cardholder]:
    """Return ``users`` card holders, personas in turn, alerts drawn with the seed."""
    rng = random.Random(f"alerts:{seed}")  # noqa: S311 - a simulation
    people = []
    for n in range(users):
        persona = PERSONAS[n % len(PERSONAS)]
        chosen: list[AlertType] = []
        if rng.random() >= SILENT:
            chosen = [a for a in persona.alerts if rng.random() < TAKES_UP]
            if rng.random() < STRAYS:
                chosen.append(rng.choice([a for a in AlertType if a not in persona.alerts]))
        people.append(Cardholder(f"{PREFIX}{n:05d}", persona.name, tuple(chosen)))
    return people


def cardholder_events(users: int, *, now: datetime, seed: int) -> list[EventDict]:
    """Return every card holder's debits, balance and alert actions, oldest first.

    The history ends an hour before ``now``: old enough to be a backfill (profiles are
    published, nobody is recommended anything until a model is promoted).
    """
    by_name = {p.name: p for p in PERSONAS}
    end = now - timedelta(hours=1)
    events: list[EventDict] = []
    for person in population(users, seed=seed):
        rng = random.Random(f"alerts:{seed}:{person.user_id}")  # noqa: S311 - a simulation
        persona = by_name[person.persona]
        for _ in range(rng.randint(*persona.debits)):
            at = end - timedelta(seconds=rng.uniform(0, HISTORY_DAYS * 86_400))
            payload = {
                "type": "transaction",
                "amount": f"{rng.uniform(*persona.amount):.2f}",
                "merchant": f"{persona.name}-shop-{rng.randrange(persona.merchants)}",
                "category": rng.choice(persona.categories),
            }
            events.append(event_dict(rng, person.user_id, at, payload, source="app"))
        limit = rng.choice((1000, 2500, 5000))
        owed = limit * rng.uniform(*persona.utilisation)
        balance = {"type": "balance_snapshot", "balance": f"{owed:.2f}",
                   "credit_limit": str(limit), "account_kind": "credit_card"}  # fmt: skip
        events.append(
            event_dict(rng, person.user_id, end - timedelta(hours=2), balance, source="app")
        )
        for alert in person.alerts:
            at = end - timedelta(seconds=rng.uniform(3600 * 3, HISTORY_DAYS * 86_400))
            rule = {"type": "alert_rule", "action": "enabled", "alert_type": alert.value}
            events.append(event_dict(rng, person.user_id, at, rule, source="app"))
    events.sort(key=lambda e: e["occurred_at"])
    return events
