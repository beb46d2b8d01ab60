"""The drift monitor on known streams: steps found and named, noise and rhythm left alone,
its state rebuilt with the same future, and a restart that reports nothing."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable

import pytest

from models import drift as drift_module
from models.drift import (
    ANOMALY_SCORE,
    HISTORY_POINTS,
    Drift,
    DriftMonitor,
    change_point,
)

BUCKET = 1000
RATE = "trigger_rate:t"


def feed(
    monitor: DriftMonitor,
    rng: random.Random,
    buckets: int,
    rates: dict[str, float],
    score: Callable[[random.Random], float | None] = lambda _: None,
) -> list[tuple[int, Drift]]:
    """Feed ``buckets`` buckets of events; each trigger fires with its probability per event.

    Returns each drift reported with the index (from 0) of the bucket that reported it.
    """
    found = []
    for i in range(buckets * monitor.bucket_events):
        fired = [trigger for trigger, p in rates.items() if rng.random() < p]
        drifts = monitor.observe(fired, score(rng))
        found += [(i // monitor.bucket_events, d) for d in drifts or ()]
    return found


def scores(mean: float, share: float = 1.0) -> Callable[[random.Random], float | None]:
    """Scores in [0, 1] around ``mean`` (a Beta with 5 units of weight) on ``share`` of events."""

    def draw(rng: random.Random) -> float | None:
        if rng.random() >= share:
            return None
        return round(rng.betavariate(5 * mean, 5 * (1 - mean)), 4)

    return draw


# --- steps are found and named ------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_rate_stepping_from_1_to_10_percent_is_a_drift_within_a_few_buckets(seed: int) -> None:
    rng = random.Random(seed)
    monitor = DriftMonitor(BUCKET)
    assert feed(monitor, rng, 100, {"t": 0.01}) == []
    found = feed(monitor, rng, 20, {"t": 0.10})
    bucket, drift = found[0]
    assert bucket < 5 and drift.signal == RATE
    assert drift.before == pytest.approx(0.01, rel=0.25)
    assert drift.after == pytest.approx(0.10, rel=0.25)
    assert drift.factor > 5
    assert len(found) == 1  # the detector learnt the new level: one step, one drift
    assert monitor.levels()[RATE] == pytest.approx(0.10, rel=0.1)


def test_only_the_trigger_that_changed_is_named() -> None:
    rng = random.Random(4)
    monitor = DriftMonitor(BUCKET)
    assert feed(monitor, rng, 60, {"steady": 0.02, "t": 0.005}) == []
    found = feed(monitor, rng, 20, {"steady": 0.02, "t": 0.05})
    assert {d.signal for _, d in found} == {RATE}


def test_a_trigger_that_falls_silent_is_a_drift_down_to_zero() -> None:
    rng = random.Random(5)
    monitor = DriftMonitor(BUCKET)
    feed(monitor, rng, 60, {"t": 0.02})
    found = feed(monitor, rng, 20, {})
    ((bucket, drift),) = found
    assert bucket < 8 and drift.signal == RATE and drift.after == 0.0
    assert drift.factor == 0.0


def test_an_anomaly_score_shift_is_a_drift_of_the_score() -> None:
    rng = random.Random(6)
    monitor = DriftMonitor(100)
    assert feed(monitor, rng, 60, {}, scores(0.09)) == []
    found = feed(monitor, rng, 20, {}, scores(0.30))
    bucket, drift = found[0]
    assert bucket < 8 and drift.signal == ANOMALY_SCORE
    assert drift.before == pytest.approx(0.09, abs=0.02)
    assert drift.after == pytest.approx(0.30, abs=0.04)


def test_fewer_debits_is_not_a_change_of_their_scores() -> None:
    # The score's bucket counts debits: when debits become rarer among events, points
    # come more slowly, but the scores' level does not move.
    rng = random.Random(7)
    monitor = DriftMonitor(100)
    assert feed(monitor, rng, 100, {}, scores(0.1, share=1.0)) == []
    assert feed(monitor, rng, 300, {}, scores(0.1, share=0.2)) == []
    assert monitor.levels()[ANOMALY_SCORE] == pytest.approx(0.1, abs=0.01)


# --- noise and rhythm are left alone ----------------------------------------------------


@pytest.mark.parametrize("seed", [11, 12])
def test_a_steady_noisy_stream_reports_no_drift_in_300_buckets(seed: int) -> None:
    rng = random.Random(seed)
    monitor = DriftMonitor(BUCKET)
    rates = {"common": 0.01, "rare": 0.001, "rarest": 0.0001}
    assert feed(monitor, rng, 300, rates, scores(0.09, share=0.4)) == []
    assert set(monitor.signals) == {ANOMALY_SCORE, *(f"trigger_rate:{t}" for t in rates)}


def test_a_daily_rhythm_is_proven_by_adwin_but_too_small_to_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 25 % swing over a "day" of 1000 buckets: ADWIN proves changes, MIN_FACTOR holds them."""

    def run() -> list[tuple[int, Drift]]:
        rng = random.Random(8)
        monitor = DriftMonitor(100)
        found = []
        for bucket in range(3000):
            rate = 0.3 * (1 + 0.25 * math.sin(2 * math.pi * bucket / 1000))
            found += [(bucket, d) for _, d in feed(monitor, rng, 1, {"t": rate})]
        return found

    assert run() == []
    monkeypatch.setattr(drift_module, "MIN_FACTOR", 1.0)
    proven = run()
    assert len(proven) >= 5  # the same stream, every change ADWIN proves reported
    assert all(0.5 < d.factor < 2 for _, d in proven)


# --- the state --------------------------------------------------------------------------


def test_the_state_rebuilt_from_json_has_the_same_future() -> None:
    rng = random.Random(9)
    live = DriftMonitor(200)
    rates = {"t": 0.02, "u": 0.005}
    both = scores(0.1)  # every event scored: both buckets close together
    assert feed(live, rng, 80, rates, both) == []
    state = json.loads(json.dumps(live.to_state()))
    restored = DriftMonitor.from_state(state, 200)
    assert restored.levels() == live.levels()
    assert restored.to_state() == live.to_state()
    future: list[list[tuple[int, Drift]]] = []
    for monitor in (live, restored):
        rng_future = random.Random(10)
        found = feed(monitor, rng_future, 30, {"t": 0.2, "u": 0.005}, scores(0.4))
        found += feed(monitor, rng_future, 30, rates, both)
        future.append(found)
    assert future[0] == future[1]
    assert {d.signal for _, d in future[0]} == {RATE, ANOMALY_SCORE}
    assert restored.to_state() == live.to_state()


def test_the_state_keeps_the_last_points_of_each_signal() -> None:
    rng = random.Random(12)
    monitor = DriftMonitor(10)
    feed(monitor, rng, HISTORY_POINTS + 50, {"t": 0.2})
    points = monitor.to_state()["signals"][RATE]
    assert len(points) == HISTORY_POINTS
    assert all(isinstance(p, float) and 0 <= p <= 10 for p in points)


def test_several_states_give_each_signal_its_longest_history() -> None:
    short = {"version": 1, "bucket_events": 10, "signals": {RATE: [1.0] * 20}}
    long = {
        "version": 1,
        "bucket_events": 10,
        "signals": {RATE: [2.0] * 40, ANOMALY_SCORE: [3.0] * 15},
    }
    monitor = DriftMonitor.from_states([short, long], 10)
    assert monitor.levels() == {RATE: 0.2, ANOMALY_SCORE: 0.3}


@pytest.mark.parametrize(
    "state",
    [
        {"version": 2, "bucket_events": 10, "signals": {}},
        {"bucket_events": 10, "signals": {}},
        {"version": 1, "bucket_events": 10, "signals": {"user:ann": [1.0]}},
        {"version": 1, "bucket_events": 10, "signals": {RATE: [1.0, -1.0]}},
        {"version": 1, "bucket_events": 10, "signals": {RATE: [math.nan]}},
        {"version": 1, "bucket_events": 10, "signals": {RATE: [True]}},
        {"version": 1, "bucket_events": 10, "signals": {RATE: "1,2"}},
    ],
)
def test_a_state_not_written_by_to_state_is_refused(state: dict) -> None:
    with pytest.raises(ValueError, match="drift"):
        DriftMonitor.from_state(state, 10)


def test_a_state_of_another_bucket_size_is_dropped() -> None:
    state = {"version": 1, "bucket_events": 500, "signals": {RATE: [5.0] * 50}}
    assert DriftMonitor.from_state(state, 1000).signals == []


# --- a restart reports nothing ------------------------------------------------------------


def test_a_restart_from_the_state_reports_no_drift() -> None:
    rng = random.Random(13)
    before = DriftMonitor(BUCKET)
    feed(before, rng, 50, {"t": 0.01}, scores(0.09, share=0.3))
    after = DriftMonitor.from_state(json.loads(json.dumps(before.to_state())), BUCKET)
    # The open bucket was lost with the process; the worker goes on with the same stream.
    assert feed(after, rng, 100, {"t": 0.01}, scores(0.09, share=0.3)) == []


def test_rebuilding_from_points_that_hold_a_step_reports_nothing_and_keeps_the_new_level() -> None:
    # A history cut at HISTORY_POINTS may start before a change the live detector had
    # already learnt: rebuilding finds it again, and must not report it.
    stepped = [10.0] * 100 + [100.0] * 100
    state = {"version": 1, "bucket_events": BUCKET, "signals": {RATE: stepped}}
    monitor = DriftMonitor.from_state(state, BUCKET)
    assert monitor.levels()[RATE] == pytest.approx(0.1)
    assert feed(monitor, random.Random(14), 30, {"t": 0.1}) == []


def test_a_fresh_start_reports_nothing_while_it_learns() -> None:
    rng = random.Random(15)
    assert feed(DriftMonitor(BUCKET), rng, 30, {"t": 0.01}, scores(0.09)) == []


# --- the parts ----------------------------------------------------------------------------


def test_observe_says_when_a_bucket_closed() -> None:
    monitor = DriftMonitor(3)
    assert monitor.observe(["t"]) is None
    assert monitor.observe() is None
    assert monitor.observe() == []
    assert monitor.levels() == {RATE: pytest.approx(1 / 3)}
    for _ in range(3):
        closed = monitor.observe()
    assert closed == [] and monitor.to_state()["signals"] == {RATE: [1.0, 0.0]}


@pytest.mark.parametrize(
    ("points", "cut"),
    [([0.0, 0.0, 0.0, 5.0, 5.0], 3), ([1.0, 9.0], 1), ([4.0, 4.0, 4.0, 0.0], 3)],
)
def test_the_change_point_is_where_the_mean_shifts(points: list[float], cut: int) -> None:
    assert change_point(points) == cut


def test_the_factor_of_a_drift() -> None:
    assert Drift("x", 0.01, 0.1).factor == pytest.approx(10)
    assert Drift("x", 0.0, 0.1).factor == math.inf


def test_a_bucket_needs_an_event() -> None:
    with pytest.raises(ValueError, match="bucket_events"):
        DriftMonitor(0)
