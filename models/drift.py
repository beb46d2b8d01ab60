"""Drift detection on what a worker decides: each trigger's firing rate and the anomaly score.

A trigger that suddenly fires ten times as often is usually a producer bug (a field renamed,
amounts in cents); so is an anomaly score that jumps for everyone at once. A
``DriftMonitor`` watches both with river's ADWIN, one detector per signal:

- ``trigger_rate:<trigger id>``: every ``bucket_events`` events, one point per trigger seen
  so far: its FIRED decisions among those events (0 once it has been seen and did not fire);
- ``anomaly_score``: every ``bucket_events`` scored debits, one point: their scores' sum.

A point is a bucket's *sum*, not its mean. ADWIN's bound (Bifet and Gavaldà 2007) assumes
inputs in [0, 1]: a mean over a thousand events varies by a thousandth of that, and fed
means ADWIN misses even a tenfold step (a 1 % rate stepping to 10 % went unseen for 100
buckets in a trial; fed sums it was found 2 to 3 buckets after the step). Fed the sum of
``n`` items each in [0, 1], its test on a window is the one it would make fed every item
(same variance term, and the range term ``n`` times the items'), cut only at bucket
boundaries; so one ADWIN update per bucket costs what one per event would detect. The
score's bucket is a count of debits, not of events: a change in the share of debits is
not a change in their scores.

ADWIN finds any change it can prove, and at a thousand events a point it proves a daily
swing of 25 % a dozen times a day. A drift is reported only when the level moved by
``MIN_FACTOR`` or more (up or down), judged at the most likely change point of the
detector's recent points; a smaller change restarts the detector all the same, from that
change point, so it learns the new level (river's ADWIN would restart empty).

The monitor's state is each detector's points since it last restarted, at most
``HISTORY_POINTS`` of them (``to_state``, JSON); ``from_state`` rebuilds the detectors by
feeding those points again, reporting nothing: a worker that restarts does not report a
drift because it restarted. The runtime feeds it (``streams.runtime.drift_watch``). It is
not checkpointed yet: a detector watches one worker's recent flow, which has no clean
meaning per input partition when partitions move; a restarted worker learns its levels
again (nothing is reported in a detector's first 10 points).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from river.drift import ADWIN

#: Signal of a trigger's firing rate: this prefix and the trigger's id.
TRIGGER_RATE_PREFIX = "trigger_rate:"
#: Signal of the debits' anomaly score (``models.online.anomaly``).
ANOMALY_SCORE = "anomaly_score"
#: Points kept per signal, for the checkpoint and the change point: 200 buckets of 1000
#: events are 200,000 events, more than enough to know a level before a sudden change.
HISTORY_POINTS = 200
#: ADWIN's confidence (river's default): the chance of a false alarm at a given cut.
ADWIN_DELTA = 0.002
#: ADWIN looks for a change at every point (river's default, 32, is for per-item streams;
#: a point here is already a thousand events, and waiting 32 of them would be slow).
ADWIN_CLOCK = 1
#: The smallest change of level reported: a producer bug moves a rate or a mean score
#: severalfold, while traffic's daily rhythm moves it by tens of percent.
MIN_FACTOR = 2.0
#: Version of ``to_state``'s layout.
STATE_VERSION = 1
#: Decimals a score bucket's sum keeps (scores have 4): the state stays short and a
#: rebuilt detector is fed exactly what the live one was.
SUM_DECIMALS = 4


@dataclass(frozen=True, slots=True)
class Drift:
    """A change of a signal's level that its detector proved and that is large enough.

    Attributes:
        signal: ``trigger_rate:<trigger id>`` or ``anomaly_score``.
        before: The level before the change: firings per event, or the mean score.
        after: The level since the change, in the same unit.
    """

    signal: str
    before: float
    after: float

    @property
    def factor(self) -> float:
        """How many times the level grew (below 1: shrank); infinite from zero."""
        if self.before == 0.0:
            return math.inf
        return self.after / self.before


class _Detector:
    """One signal's ADWIN and the points it was fed since it last restarted."""

    __slots__ = ("adwin", "points", "scale")

    def __init__(self, scale: int, points: Iterable[float] = ()) -> None:
        self.scale = scale
        """Items summed in one point: a point divided by it is a level."""
        self.adwin = _adwin()
        self.points: deque[float] = deque(maxlen=HISTORY_POINTS)
        for point in points:
            self.add(point)  # rebuilding: whatever it finds is not news

    @property
    def level(self) -> float:
        """The mean level over ADWIN's window: firings per event, or the mean score."""
        return self.adwin.estimation / self.scale

    def add(self, point: float) -> tuple[float, float, bool] | None:
        """Feed one point; on a change ADWIN proves, restart from its change point.

        Returns:
            ``None`` while ADWIN sees no change; else the levels before and after the
            change point and whether they differ by ``MIN_FACTOR`` or more.
        """
        self.points.append(point)
        self.adwin.update(point)  # type: ignore[no-untyped-call] # river has no annotations
        if not self.adwin.drift_detected:
            return None
        points = list(self.points)
        cut = change_point(points)
        before = sum(points[:cut]) / (cut * self.scale)
        after = sum(points[cut:]) / ((len(points) - cut) * self.scale)
        self._restart(points[cut:])
        return before, after, _large(before, after)

    def _restart(self, points: Sequence[float]) -> None:
        self.adwin = _adwin()
        self.points.clear()
        for point in points:
            self.add(point)


def _adwin() -> ADWIN:
    return ADWIN(delta=ADWIN_DELTA, clock=ADWIN_CLOCK)  # type: ignore[no-untyped-call]


def _large(before: float, after: float) -> bool:
    low, high = sorted((before, after))
    return high > 0.0 and high >= MIN_FACTOR * low


def change_point(points: Sequence[float]) -> int:
    """Return where a single shift of the mean most likely happened in ``points``.

    The cut ``c`` (``1 <= c < len(points)``) maximising ``n0 n1 / n (m0 - m1)**2``, the
    between-parts sum of squares: the maximum-likelihood cut for one shift of a mean.
    """
    total, n = sum(points), len(points)
    best, best_cut, left = -1.0, 1, 0.0
    for cut in range(1, n):
        left += points[cut - 1]
        gap = left / cut - (total - left) / (n - cut)
        score = cut * (n - cut) / n * gap * gap
        if score > best:
            best, best_cut = score, cut
    return best_cut


class DriftMonitor:
    """A worker's drift detectors: fed per event, a point per signal every bucket.

    Args:
        bucket_events: Events per point of the firing rates, and scored debits per point
            of the anomaly score (``NUDGE_DRIFT_BUCKET_EVENTS``, 1000 by default).
    """

    __slots__ = ("_detectors", "_events", "_fired", "_score_sum", "_scored", "bucket_events")

    def __init__(self, bucket_events: int = 1000) -> None:
        if bucket_events < 1:
            msg = f"bucket_events must be >= 1, not {bucket_events}"
            raise ValueError(msg)
        self.bucket_events = bucket_events
        self._detectors: dict[str, _Detector] = {}
        self._events = 0
        self._fired: dict[str, int] = {}
        self._score_sum = 0.0
        self._scored = 0

    def observe(self, fired: Iterable[str] = (), score: float | None = None) -> list[Drift] | None:
        """Count one processed event: the triggers it fired, and its debit's score if any.

        Args:
            fired: The ids of the triggers whose decision on this event was FIRED.
            score: The debit's anomaly score in [0, 1], ``None`` when the event had none.

        Returns:
            ``None`` while no bucket closed with this event; else the drifts found (often
            none) when the firings' or the scores' bucket closed.
        """
        for trigger in fired:
            self._fired[trigger] = self._fired.get(trigger, 0) + 1
        closed: list[Drift] | None = None
        if score is not None:
            self._score_sum += score
            self._scored += 1
            if self._scored >= self.bucket_events:
                closed = self._close_scores()
        self._events += 1
        if self._events >= self.bucket_events:
            closed = [*(closed or ()), *self._close_rates()]
        return closed

    def levels(self) -> dict[str, float]:
        """Return each signal's level over its detector's window (see ``Drift``'s units)."""
        return {signal: detector.level for signal, detector in self._detectors.items()}

    @property
    def signals(self) -> list[str]:
        """The signals watched so far, in the order they were first seen."""
        return list(self._detectors)

    def _close_rates(self) -> list[Drift]:
        counts, self._fired, self._events = self._fired, {}, 0
        for signal in self._detectors:  # seen before: a bucket without a firing is a 0
            if signal.startswith(TRIGGER_RATE_PREFIX):
                counts.setdefault(signal[len(TRIGGER_RATE_PREFIX) :], 0)
        drifts = []
        for trigger, count in counts.items():
            drift = self._add(TRIGGER_RATE_PREFIX + trigger, float(count))
            if drift is not None:
                drifts.append(drift)
        return drifts

    def _close_scores(self) -> list[Drift]:
        point = round(self._score_sum, SUM_DECIMALS)
        self._score_sum, self._scored = 0.0, 0
        drift = self._add(ANOMALY_SCORE, point)
        return [] if drift is None else [drift]

    def _add(self, signal: str, point: float) -> Drift | None:
        detector = self._detectors.get(signal)
        if detector is None:
            detector = self._detectors[signal] = _Detector(self.bucket_events)
        change = detector.add(point)
        if change is None or not change[2]:
            return None
        return Drift(signal, change[0], change[1])

    def to_state(self) -> dict[str, Any]:
        """Return the detectors' recent points, JSON-ready (the open bucket is not kept)."""
        return {
            "version": STATE_VERSION,
            "bucket_events": self.bucket_events,
            "signals": {signal: list(d.points) for signal, d in self._detectors.items()},
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], bucket_events: int) -> DriftMonitor:
        """Rebuild a monitor from ``to_state``'s output, reporting nothing while it does.

        A state of another bucket size is dropped (its points are in other units): the
        monitor starts empty, as a worker's first start does.

        Raises:
            ValueError: The state is not one ``to_state`` writes.
        """
        return cls.from_states([state], bucket_events)

    @classmethod
    def from_states(cls, states: Iterable[Mapping[str, Any]], bucket_events: int) -> DriftMonitor:
        """Rebuild a monitor from several states (one per input partition's checkpoint).

        Each signal is rebuilt from the state that holds the most points for it.

        Raises:
            ValueError: A state is not one ``to_state`` writes.
        """
        chosen: dict[str, list[float]] = {}
        for state in states:
            for signal, points in _signals(state, bucket_events).items():
                if len(points) > len(chosen.get(signal, ())):
                    chosen[signal] = points
        monitor = cls(bucket_events)
        for signal, points in chosen.items():
            monitor._detectors[signal] = _Detector(bucket_events, points[-HISTORY_POINTS:])
        return monitor


def _signals(state: Mapping[str, Any], bucket_events: int) -> dict[str, list[float]]:
    """Return a state's points by signal, checked; none when its bucket size differs."""
    if state.get("version") != STATE_VERSION or not isinstance(state.get("signals"), dict):
        msg = f"not a drift detectors' state of version {STATE_VERSION}"
        raise ValueError(msg)
    if state.get("bucket_events") != bucket_events:
        return {}
    found = {}
    for signal, points in state["signals"].items():
        if signal != ANOMALY_SCORE and not str(signal).startswith(TRIGGER_RATE_PREFIX):
            msg = f"unknown drift signal {signal!r}"
            raise ValueError(msg)
        if not isinstance(points, list) or not all(_is_point(p) for p in points):
            msg = f"drift signal {signal}: points must be a list of finite numbers >= 0"
            raise ValueError(msg)
        found[signal] = [float(p) for p in points]
    return found


def _is_point(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )
