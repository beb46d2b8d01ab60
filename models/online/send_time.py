"""Send time that learns: Thompson sampling over the user's local hours, with a prior.

Each user has, per local hour, the messages sent at that hour and how many of them were
opened or clicked (``note_send``, ``note_outcome``). To pick a send hour among those a
trigger may use (``best_hour``), each allowed hour's open rate is drawn from its Beta
posterior::

    rate(h) ~ Beta(PRIOR_STRENGTH * prior(h) + opens(h) + 1,
                   PRIOR_STRENGTH * (1 - prior(h)) + sends(h) - opens(h) + 1)

and the hour with the highest draw wins: hours never tried keep being tried now and then,
hours that work win more and more often (Thompson, 1933; Chapelle and Li, 2011). ``prior``
is the population's open rate per hour (``models.online.prior``), so a new user starts
from what works for everyone; without one every hour starts at Beta(1, 1).

The draw is seeded from the decision's cause, so deciding the same event again (a replay
after a crash) picks the same hour.

Layout of ``UserState.send_hours`` (a list; ``None`` until the first send): ``[counts,
recent]``, where ``counts`` maps a local hour (as text: the record is JSON) to
``[sends, opens]``, and ``recent`` is ``[[command fingerprint, hour], ...]`` for the last
``RECENT_KEPT`` sends, so an outcome can be credited to the hour its message went at.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from typing import Any

COUNTS, RECENT = 0, 1

#: Sends remembered for crediting outcomes (each about a dozen bytes of record).
RECENT_KEPT = 8
#: An hour's counts halve when its sends reach this: preferences may move.
SENDS_CAP = 40
#: Weight of the population prior, in messages.
PRIOR_STRENGTH = 2.0
#: Outcomes that count as the message working.
REWARDED = frozenset({"opened", "clicked"})


def empty() -> list[Any]:
    """Return the state of a user never sent anything."""
    return [{}, []]


def command_key(command_id: str) -> int:
    """Return the short fingerprint a send is remembered by (CRC-32 of its id)."""
    return zlib.crc32(command_id.encode())


def note_send(state: list[Any], command_id: str, local_hour: int) -> None:
    """Count a message sent at ``local_hour``, and remember it for its outcome."""
    counts = state[COUNTS]
    key = str(local_hour)
    sends, opens = counts.get(key, (0, 0))
    sends += 1
    if sends >= SENDS_CAP:
        sends, opens = sends // 2, opens // 2
    counts[key] = [sends, opens]
    recent = state[RECENT]
    recent.append([command_key(command_id), local_hour])
    del recent[:-RECENT_KEPT]


def note_outcome(state: list[Any], command_id: str, outcome: str) -> int | None:
    """Credit an open or click to the hour its message was sent at; at most once a message.

    Returns:
        The hour credited, or ``None`` (not a rewarded outcome, a message not remembered,
        or one already credited).
    """
    if outcome not in REWARDED:
        return None
    key = command_key(command_id)
    recent = state[RECENT]
    for i, (sent, hour) in enumerate(recent):
        if sent == key:
            del recent[i]  # credited once: a click after an open is not a second success
            counts = state[COUNTS]
            sends, opens = counts.get(str(hour), (1, 0))
            counts[str(hour)] = [sends, min(opens + 1, sends)]
            return int(hour)
    return None


def sends_and_opens(state: list[Any] | None) -> tuple[int, int]:
    """Return the user's counted sends and opens over every hour."""
    if state is None:
        return 0, 0
    pairs = state[COUNTS].values()
    return sum(s for s, _ in pairs), sum(o for _, o in pairs)


def best_hour(
    state: list[Any] | None,
    hours: Sequence[int],
    seed: str,
    prior: Sequence[float] = (),
) -> int:
    """Pick the hour to send at among ``hours`` (local hours, not empty), by Thompson sampling.

    Args:
        state: The user's send-time state, ``None`` when never sent anything.
        hours: The hours allowed (outside quiet hours, within the maximum delay).
        seed: Names the decision; the same seed draws the same hour.
        prior: The population's open rate for each of the 24 hours (empty: none known).
    """
    counts = state[COUNTS] if state is not None else {}
    rng = random.Random(zlib.crc32(seed.encode()))  # noqa: S311 - a draw, not a secret
    best, best_draw = hours[0], -1.0
    for hour in hours:
        sends, opens = counts.get(str(hour), (0, 0))
        rate = min(max(prior[hour], 0.0), 1.0) if prior else 0.5  # a rate, whatever it is given
        alpha = PRIOR_STRENGTH * rate + opens + 1
        beta = PRIOR_STRENGTH * (1 - rate) + sends - opens + 1
        draw = rng.betavariate(alpha, beta)
        if draw > best_draw:
            best, best_draw = hour, draw
    return best
