"""The send ledger: when a user was sent what, per channel, for the frequency caps."""

from __future__ import annotations

from streams.core.state.record import UserState
from streams.core.units import SECONDS_PER_DAY

#: How far back the send ledger reaches: the longest frequency-cap window (a week).
SEND_LEDGER_SECONDS = 7 * SECONDS_PER_DAY


def record_send(state: UserState, channel: str, at: float, *, decided_at: float) -> None:
    """Add a send on ``channel`` at ``at`` (epoch seconds) and forget those past a week.

    "Past" counts from ``decided_at``, the evaluation's time, not from ``at``: a send held
    for later (quiet hours, a delay) must not erase the sends the caps still count now.
    """
    oldest = min(at, decided_at) - SEND_LEDGER_SECONDS
    times = [t for t in state.sends.get(channel, []) if t > oldest]
    times.append(at)
    state.sends[channel] = sorted(times)


def sends_within(state: UserState, channel: str, at: float, window: float) -> int:
    """Count sends on ``channel`` in the ``window`` seconds up to ``at`` (either side)."""
    return sum(1 for t in state.sends.get(channel, []) if abs(at - t) < window)
