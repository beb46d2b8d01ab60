"""Learned send times against fixed and random ones, in the simulation: a clear margin."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from models.online import send_time
from models.online_evaluation.send_times import (
    BASELINES,
    allowed_hours,
    simulate_send_time,
)
from streams.core.decisions.send_policy import SendPolicy, best_time_hours, outside_quiet_hours

USERS, SENDS = 300, 60
#: Learned timing must open at least this many times as often as each other policy does,
#: over the last ten of sixty messages.
MARGIN = 1.3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_learned_send_times_open_clearly_more_than_fixed_or_random_ones(seed: int) -> None:
    simulation = simulate_send_time(users=USERS, sends=SENDS, seed=seed)
    for baseline in BASELINES:
        assert simulation.uplift(baseline, recent=True) >= MARGIN, (
            baseline, simulation.rate_last("learned"), simulation.rate_last(baseline),
        )  # fmt: skip
    # It learns: later messages open more often than the first ones.
    assert simulation.rate("learned", SENDS - 9) > simulation.rate("learned", 1, 10) * 1.2
    # ... and stays below what knowing the hidden hours would give.
    assert simulation.rate_last("learned") < simulation.rate_last("best possible")


def test_a_bandit_that_ignores_what_it_learned_has_no_margin(monkeypatch) -> None:
    # The same draws, but every user's counts forgotten at each decision (the population's
    # prior still learns): the test above must fail for such a policy.
    shipped = send_time.best_hour

    def forgetful(state, hours, seed, prior=()):
        return shipped(None, hours, seed, prior)

    monkeypatch.setattr(send_time, "best_hour", forgetful)
    simulation = simulate_send_time(users=USERS, sends=SENDS, seed=0)
    assert simulation.uplift("random", recent=True) < 1.15


def test_the_simulation_is_the_same_for_the_same_seed() -> None:
    first = simulate_send_time(users=50, sends=10, seed=3)
    assert first.opens == simulate_send_time(users=50, sends=10, seed=3).opens
    assert first.opens != simulate_send_time(users=50, sends=10, seed=4).opens


@pytest.mark.parametrize("max_delay_hours", [1, 3, 12, 24, 48])
def test_allowed_hours_are_the_cores_best_time_hours(max_delay_hours: int) -> None:
    policy, zone = SendPolicy(), ZoneInfo("UTC")
    for hour in range(24):
        decided = datetime(2026, 3, 2, hour, 30, tzinfo=UTC)
        earliest = outside_quiet_hours(decided, zone, policy)
        core = best_time_hours(earliest, max_delay_hours * 3600.0, zone, policy)
        assert allowed_hours(hour, max_delay_hours) == list(core), hour


def test_a_day_of_delay_allows_every_hour_outside_quiet_hours() -> None:
    assert sorted(allowed_hours(15)) == list(range(8, 21))
    assert allowed_hours(23)[0] == 8  # moved to the morning first
