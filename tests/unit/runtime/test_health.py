"""Issue 8: a worker that no longer makes progress is judged unhealthy, and why."""

from __future__ import annotations

import pytest

from streams.runtime.health import TICKS_MISSED, Progress, problems

STALL = 60.0
TICK = 10.0
P0 = ("behavior.events", 0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def judged(progress: Progress) -> list[str]:
    return problems(progress, stall_seconds=STALL, tick_interval_seconds=TICK)


def running() -> tuple[Progress, Clock]:
    clock = Clock()
    progress = Progress(clock=clock)
    progress.ticked()
    return progress, clock


def advance(progress: Progress, clock: Clock, seconds: float, offsets: dict, busy: bool = False):
    clock.now += seconds
    progress.ticked()
    progress.sample(offsets, busy=busy)


def test_lag_that_is_being_committed_is_healthy() -> None:
    progress, clock = running()
    for committed in range(0, 1000, 100):
        advance(progress, clock, 20, {P0: (committed, 5000)})
    assert judged(progress) == []
    assert progress.lag[P0] == 4100


@pytest.mark.parametrize(
    ("seconds", "unhealthy"), [(STALL - 1, False), (STALL + 1, False), (STALL + 6, True)]
)
def test_lag_with_no_commit_for_the_stall_time_is_unhealthy(
    seconds: float, unhealthy: bool
) -> None:
    progress, clock = running()
    advance(progress, clock, 5, {P0: (3432, 10266)})  # the commit stops moving here
    advance(progress, clock, 5, {P0: (3432, 10266)})  # stalled since this sample
    advance(progress, clock, seconds - 5, {P0: (3432, 10266)})
    found = judged(progress)
    assert bool(found) is unhealthy
    if unhealthy:
        assert found == [
            f"behavior.events[0]: 6834 messages behind and no commit for {seconds - 5:.0f} s"
        ]


def test_no_lag_is_healthy_however_long_nothing_arrives() -> None:
    progress, clock = running()
    for _ in range(20):
        advance(progress, clock, 30, {P0: (500, 500)})
    assert judged(progress) == []


def test_recovery_and_rebalances_do_not_count_as_stalls() -> None:
    progress, clock = running()
    for _ in range(20):
        advance(progress, clock, 30, {P0: (0, 500)}, busy=True)
    assert judged(progress) == []


def test_a_partition_that_moves_away_is_forgotten() -> None:
    progress, clock = running()
    advance(progress, clock, 5, {P0: (1, 9)})
    advance(progress, clock, 5, {P0: (1, 9)})
    advance(progress, clock, 100, {})
    assert judged(progress) == [] and progress.lag == {}


def test_an_event_loop_that_stopped_sampling_is_unhealthy() -> None:
    progress, clock = running()
    advance(progress, clock, 5, {P0: (1, 1)})
    clock.now += STALL + 1
    assert judged(progress)[0].startswith("the event loop has not sampled progress for 61 s")


def test_a_timer_that_stopped_is_unhealthy() -> None:
    progress, clock = running()
    limit = TICKS_MISSED * TICK + STALL
    for _ in range(int(limit // 5) + 2):
        clock.now += 5
        progress.sample({P0: (1, 1)}, busy=False)
    assert judged(progress) == [f"the timer has not run for {int(limit // 5) * 5 + 10:.0f} s"]


def test_a_stopped_definitions_feed_is_unhealthy() -> None:
    progress, clock = running()
    advance(progress, clock, 5, {})
    progress.feed_alive = False
    assert judged(progress) == ["the trigger definitions feed has stopped"]
