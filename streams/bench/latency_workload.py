"""The latency run's events: a pre-loaded population, then a steady stream that fires.

The population: every user has one weekly-sized debit 10, 17 and 24 days back (older
than the evaluation horizon: state only), so each has a spending baseline and the timer
has a record to look at. The stream: debits happening now. Every ``spike_every``-th
(``SPIKE_EVERY`` by default) goes to the next user who has not spiked yet and is
``SPIKE_FACTOR`` times their usual week, so ``spending_spike`` fires (an SMS and an email
command); the others are small debits of random users (decisions suppressed by the
cooldown, or nothing).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from streams.bench.workload import HISTORY_DAYS_BACK, compact_json

#: One steady event in this many is a spike of a user not yet spiked (by default). One in
#: twenty fires ~0.25 commands an event, already ~15 times the throughput workload's
#: share; one in four (1.2 commands an event) keeps a worker on this 2-core box near its
#: capacity at 1,000 events/s (see docs/benchmark.md).
SPIKE_EVERY = 20
#: A spike is this multiple of the user's usual week (``spending_spike`` needs +20 %).
SPIKE_FACTOR = 3.0
#: A usual week, in dollars (uniform), and a small debit's amount.
WEEK_RANGE = (150.0, 600.0)
SMALL_DEBIT = "4.50"


def user_id(index: int) -> str:
    """Return the id of population user ``index``."""
    return f"lat-user-{index:06d}"


def week_amount(index: int, seed: int) -> float:
    """Return user ``index``'s usual week in dollars (the same for the same seed)."""
    return random.Random(seed * 1_000_003 + index).uniform(*WEEK_RANGE)  # noqa: S311 - test data


def population(users: int, now: datetime, seed: int) -> list[tuple[bytes, bytes]]:
    """Return the pre-load: three weekly debits per user, in event-time order."""
    timeline = []
    for index in range(users):
        amount = week_amount(index, seed)
        for days in HISTORY_DAYS_BACK:
            at = now - timedelta(days=days, hours=(index % 17) - 8)
            event_id = f"lat-{seed}-h{days}-{index}"
            timeline.append((at, index, debit(event_id, user_id(index), at, f"{amount:.2f}")))
    timeline.sort(key=lambda item: item[0])
    return [(user_id(index).encode(), value) for _, index, value in timeline]


def steady_event(  # noqa: PLR0913 - the stream's parameters, each needed
    number: int,
    users: int,
    now: datetime,
    seed: int,
    rng: random.Random,
    *,
    spike_every: int = SPIKE_EVERY,
) -> tuple[str, bytes, bytes]:
    """Return steady event ``number`` as ``(event id, key, value)``, happening at ``now``."""
    event_id = f"lat-{seed}-s{number}"
    spike, rest = divmod(number, spike_every)
    if rest == 0 and spike < users:
        index = spike
        amount = f"{week_amount(index, seed) * SPIKE_FACTOR:.2f}"
    else:
        index, amount = rng.randrange(users), SMALL_DEBIT
    user = user_id(index)
    return event_id, user.encode(), debit(event_id, user, now, amount)


def debit(event_id: str, user: str, at: datetime, amount: str) -> bytes:
    """Return one card debit event (``schemas.events.Event``) as JSON."""
    return compact_json(
        {
            "schema_version": 1,
            "event_id": event_id,
            "user_id": user,
            "occurred_at": at.isoformat(),
            "source": "app",
            "payload": {
                "type": "transaction",
                "amount": amount,
                "currency": "USD",
                "merchant": "Shopmax",
                "category": "shopping",
                "direction": "debit",
            },
        }
    )
