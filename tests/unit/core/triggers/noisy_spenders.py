"""Two spenders with the same usual week ($140) and the same rise (+40 %), one noisy.

Shared by the unit test and the broker test of spending_spike's 2-sigma guard.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas.events import Event
from tests.unit.factories import transaction

#: Days of the four baseline weeks, then six ordinary days, then the rise.
BASELINE_DAYS = 28
CURRENT_DAYS = 6
#: The final debit: six $20 days and this make a week of $196, +40 % on $140.
RISE = "76.00"


def spender(user: str, rise_at: datetime, *, noisy: bool) -> list[Event]:
    """Four weeks of history, six $20 days, then the $76 debit at ``rise_at``.

    Steady: $20 every day (weeks of $140, no spread). Noisy: weeks of $100 and $180 in
    turn (the same $140 mean, a deviation of $40): +40 % is 1.4 deviations, not news.
    """
    start = rise_at - timedelta(days=BASELINE_DAYS + CURRENT_DAYS)
    events = []
    for day in range(BASELINE_DAYS):
        if noisy:
            big_week = (day // 7) % 2 == 1
            amount = (
                ("60.00" if big_week else "40.00")
                if day % 7 == 6
                else ("20.00" if big_week else "10.00")
            )
        else:
            amount = "20.00"
        events.append(transaction(user, start + timedelta(days=day), amount))
    for day in range(BASELINE_DAYS, BASELINE_DAYS + CURRENT_DAYS):
        events.append(transaction(user, start + timedelta(days=day), "20.00"))
    events.append(transaction(user, rise_at, RISE, event_id=f"{user}-rise"))
    return events
