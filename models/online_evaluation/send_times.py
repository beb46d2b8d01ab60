"""Does learned send timing open more messages? A simulation against fixed and random hours.

Each simulated user has a hidden preferred window of two local hours, starting anywhere
from 08:00 to 19:00 (so it ends by 21:00, when quiet hours start): a message sent in it is
opened with probability 0.35 to 0.5, one sent at another hour with 0.05 to 0.1. Each gets
``sends`` messages, one a round, decided at a uniformly random local hour (a trigger fires
when the user's event comes). Every policy sends the same messages, and one uniform draw
per message decides its open under every policy (common random numbers: the policies
differ by the hour alone):

- ``learned``: ``send_at: best_time`` as the core runs it: ``models.online.send_time``'s
  ``best_hour`` among the hours outside quiet hours (21:00 to 08:00) within a day of the
  decision, each send counted (``note_send``) and each open credited to its hour
  (``note_outcome``), the population's prior (``models.online.prior.HourCounts``) counting
  every send and open and served anew after each round (as checkpoints would).
- ``trigger time``: what ``send_at: now`` does: the decision's hour, or 08:00 when that
  is in quiet hours.
- ``noon``: always 12:00.
- ``random``: an allowed hour at random.
- ``best possible``: the first hour of the user's window: the ceiling, knowing what no
  policy knows.

The open rate is over every send (1..N) and over the last ``last`` sends, per policy; the
uplift is the learned rate over another's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from models.online import send_time
from models.online.prior import HourCounts

#: Quiet hours as the default ``SendPolicy`` has them (local time).
QUIET_START, QUIET_END = 21, 8
#: ``DEFAULT_MAX_DELAY`` of a trigger, in hours.
MAX_DELAY_HOURS = 24
#: Width of a user's preferred window, in hours, and the hours it may start at.
WINDOW_HOURS = 2
WINDOW_STARTS = (8, QUIET_START - WINDOW_HOURS)
#: Open probabilities inside and outside the window.
OPEN_IN = (0.35, 0.5)
OPEN_OUT = (0.05, 0.1)
NOON = 12
POLICIES = ("learned", "trigger time", "noon", "random", "best possible")
#: The policies learning is measured against (the ceiling is not one).
BASELINES = ("trigger time", "noon", "random")


@dataclass(frozen=True, slots=True)
class Reader:
    """A user's hidden taste: the window's first hour and the open probabilities."""

    window: int
    p_in: float
    p_out: float

    def open_probability(self, hour: int) -> float:
        """Return the chance a message sent at ``hour`` (local) is opened."""
        return self.p_in if self.window <= hour < self.window + WINDOW_HOURS else self.p_out


@dataclass(frozen=True, slots=True)
class SendTimeSimulation:
    """Opens per policy and per send (round), over ``users`` users.

    Attributes:
        users: Users simulated.
        sends: Messages each.
        seed: The seed.
        last: How many of the last sends ``rate_last`` covers.
        opens: Policy -> opens at each send (index 0: the first message), over the users.
    """

    users: int
    sends: int
    seed: int
    last: int
    opens: dict[str, list[int]] = field(default_factory=dict)

    def rate(self, policy: str, first: int = 1, last: int | None = None) -> float:
        """Return the policy's open rate over sends ``first`` to ``last`` (1-based, inclusive)."""
        chosen = self.opens[policy][first - 1 : self.sends if last is None else last]
        return sum(chosen) / (len(chosen) * self.users)

    def rate_last(self, policy: str) -> float:
        """Return the policy's open rate over the last ``last`` sends."""
        return self.rate(policy, self.sends - self.last + 1)

    def uplift(self, over: str, *, recent: bool = False) -> float:
        """Return the learned open rate over ``over``'s (all sends, or the last ones)."""
        rate = self.rate_last if recent else self.rate
        return rate("learned") / rate(over)


def allowed_hours(hour: int, max_delay_hours: int = MAX_DELAY_HOURS) -> list[int]:
    """Return the local hours a message decided at ``hour`` may go at, in the order they come.

    As ``streams.core.decisions.send_policy.best_time_hours`` from the decision moved out
    of quiet hours: that hour, then each later one within ``max_delay_hours`` that is not
    quiet.
    """
    start = QUIET_END if _quiet(hour) else hour
    hours = [start]
    for step in range(1, max_delay_hours + 1):
        later = (start + step) % 24
        if not _quiet(later) and later not in hours:
            hours.append(later)
    return hours


def simulate_send_time(
    users: int = 400, sends: int = 60, seed: int = 0, last: int = 10
) -> SendTimeSimulation:
    """Send ``sends`` messages to each of ``users`` users under every policy; count opens.

    Args:
        users: Users, each with a hidden window (see the module).
        sends: Messages each user gets.
        seed: Same seed, same users, messages, draws and figures.
        last: The last sends ``rate_last`` covers (at most ``sends``).
    """
    rng = random.Random(f"send-time:{seed}")  # noqa: S311 - a simulation
    readers = [
        Reader(rng.randint(*WINDOW_STARTS), rng.uniform(*OPEN_IN), rng.uniform(*OPEN_OUT))
        for _ in range(users)
    ]
    states = [send_time.empty() for _ in readers]
    counts = HourCounts()
    prior: tuple[float, ...] = ()
    opens = {policy: [0] * sends for policy in POLICIES}
    for n in range(sends):
        for user, reader in enumerate(readers):
            decided, draw = rng.randrange(24), rng.random()
            hours = allowed_hours(decided)
            command = f"sim-{seed}-{user}-{n}"
            chosen = {
                "learned": send_time.best_hour(states[user], hours, command, prior=prior),
                "trigger time": hours[0],
                "noon": NOON,
                "random": rng.choice(hours),
                "best possible": reader.window,
            }
            for policy, hour in chosen.items():
                opens[policy][n] += draw < reader.open_probability(hour)
            _learn(states[user], counts, command, chosen["learned"],
                   opened=draw < reader.open_probability(chosen["learned"]))  # fmt: skip
        prior = counts.rates()
    return SendTimeSimulation(users, sends, seed, min(last, sends), opens)


def _learn(
    state: list[object], counts: HourCounts, command: str, hour: int, *, opened: bool
) -> None:
    """What the worker learns from a send and its outcome: the user's counts, the prior's."""
    send_time.note_send(state, command, hour)
    counts.add(hour, sends=1)
    if opened and send_time.note_outcome(state, command, "opened") is not None:
        counts.add(hour, opens=1)


def _quiet(hour: int) -> bool:
    return hour >= QUIET_START or hour < QUIET_END
