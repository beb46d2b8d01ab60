"""The replay reports exactly what a direct replay of the same history gives, live and
candidate; a lowered threshold gains users; the window and its warm-up are kept."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from functools import cache

import pytest

from schemas.records import SuppressionReason
from streams.core.replay import Simulation, Tally, Window, simulate, take_in
from streams.core.replay.replay import BEHAVIOR_EVERY_SECONDS, SEGMENTS_RUN
from tests.unit.core.replay.history_fixture import (
    MALFORMED,
    MODERATE,
    NOW,
    SETUP,
    WINDOW,
    Direct,
    direct_replay,
    history_messages,
    live_definitions,
    lowered_spike,
)
from tests.unit.factories import transaction


@cache
def simulation() -> Simulation:
    return simulate(history_messages(), live_definitions(), lowered_spike(), SETUP, WINDOW)


def as_direct(tally: Tally) -> Direct:
    """The replay's tally in the direct replay's terms."""
    direct = Direct()
    for trigger_id, each in tally.triggers.items():
        direct.fired |= {(trigger_id, user) for user in each.fired_users}
        if each.firings:
            direct.firings[trigger_id] = each.firings
        direct.sends.update({(trigger_id, c): n for c, n in each.sends.items()})
        direct.suppressed.update({(trigger_id, r): n for r, n in each.suppressed.items()})
    return direct


@pytest.mark.parametrize("run", ["live", "candidate"])
def test_the_replay_reports_exactly_what_a_direct_replay_gives(run: str) -> None:
    definitions = live_definitions() if run == "live" else lowered_spike()
    expected = direct_replay(history_messages(), definitions)
    got = as_direct(getattr(simulation(), run))
    assert got.fired == expected.fired
    assert got.firings == expected.firings
    assert got.sends == expected.sends
    assert got.suppressed == expected.suppressed
    # The history exercises what the comparison must cover: many triggers, the timer's
    # time-based firings, sends held by quiet hours and released, suppressions.
    assert len({trigger for trigger, _ in expected.fired}) >= 10
    assert expected.scheduled_firings > 0
    assert expected.released > 0
    assert expected.suppressed[("spending_spike", SuppressionReason.COOLDOWN.value)] > 0
    assert expected.held_at_end > 0


def test_a_lowered_spike_threshold_gains_the_moderate_spenders_and_loses_nobody() -> None:
    [spike] = [t for t in simulation().triggers if t.trigger_id == "spending_spike"]
    assert spike.changed
    assert set(MODERATE) <= set(spike.gained)
    assert spike.lost == []
    assert len(spike.candidate.fired_users) > len(spike.live.fired_users)
    assert simulation().changed == ["spending_spike"]
    report = simulation().to_json(examples=2)
    assert report["triggers"]["spending_spike"]["gained"] == len(spike.gained)
    assert report["triggers"]["spending_spike"]["gained_examples"] == spike.gained[:2]
    assert list(report["triggers"])[0] == "spending_spike"  # changed ones first


def test_dead_letters_duplicates_and_the_window_are_counted() -> None:
    sim = simulation()
    assert sum(sim.history.dead_letters.values()) == MALFORMED
    assert sim.live.duplicates == sim.candidate.duplicates == 1
    assert sim.history.messages == len(history_messages())
    assert sim.history.outside > 0  # the population's history is longer than 35 days
    assert 0 < sim.history.warmup < len(sim.history.events)
    assert all(WINDOW.folded_from <= e.occurred_at < WINDOW.end for e in sim.history.events)


def test_the_same_messages_in_any_order_give_the_same_report() -> None:
    shuffled = history_messages()
    random.Random(3).shuffle(shuffled)
    again = simulate(shuffled, live_definitions(), lowered_spike(), SETUP, WINDOW)
    assert again.to_json(examples=50) == simulation().to_json(examples=50)


def test_identical_definitions_differ_in_nothing() -> None:
    sim = simulate(history_messages(), live_definitions(), live_definitions(), SETUP, WINDOW)
    assert sim.changed == []
    assert not any(t.differs or t.gained or t.lost for t in sim.triggers)


@pytest.mark.parametrize(("offset", "kept", "warmup"), [
    (timedelta(days=-35, seconds=-1), False, False),  # before the warm-up
    (timedelta(days=-35), True, True),  # the warm-up's first moment
    (timedelta(days=-7, seconds=-1), True, True),
    (timedelta(days=-7), True, False),  # the window's first moment: counted
    (timedelta(seconds=-1), True, False),
    (timedelta(), False, False),  # the end is not in it
])  # fmt: skip
def test_take_in_keeps_the_window_and_its_warmup(
    offset: timedelta, kept: bool, warmup: bool
) -> None:
    from streams.core.replay import InputMessage

    event = transaction("u", NOW + offset, "5.00")
    message = InputMessage("t", 0, 0, b"u", event.model_dump_json().encode(), NOW)
    history = take_in([message], WINDOW)
    assert (len(history.events), history.outside, history.warmup) == (
        int(kept), int(not kept), int(warmup)
    )  # fmt: skip


def test_window_counts_from_start_up_to_not_including_end() -> None:
    window = Window(NOW, NOW + timedelta(days=1))
    assert window.counts(NOW) and not window.counts(NOW + timedelta(days=1))
    assert not window.counts(NOW - timedelta(seconds=1))


def test_the_replay_timer_keeps_the_worker_timer_cadence() -> None:
    from streams.runtime.agents import timer

    assert timer.BEHAVIOR_CHANGE_EVERY_SECONDS == BEHAVIOR_EVERY_SECONDS
    assert timer.SEGMENTS_PASS == SEGMENTS_RUN


def test_counts_are_counters_of_plain_names() -> None:
    spike = simulation().live.triggers["spending_spike"]
    assert isinstance(spike.sends, Counter)
    assert set(spike.sends) <= {"sms", "email"}
