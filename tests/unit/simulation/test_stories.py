"""The demo's population through the pure core: exactly the expected users fire each trigger.

No Kafka: the generated events go through ``streams.core.decisions.process`` in order, as
the worker would read them (its clock a little after the end of the history), and the
time-based definitions through ``process_scheduled``, as the worker's timer would run
them. The timer may run as soon as every partition reads events less than two days old
(``streams.runtime.agents.timer``), so a pass is also made at that point, with the records
still two days short: it must not fire anything the full records would not.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.commands import InterventionType, StartIntervention
from schemas.events import Event
from schemas.records import (
    INSIGHT_TRIGGER_IDS,
    RISK_INTERVENTION_TRIGGER_ID,
    Outcome,
    SuppressionReason,
    TriggerDecision,
)
from streams.core.behavior.change import BehaviorPolicy
from streams.core.decisions.process import process, process_idle, process_scheduled
from streams.core.decisions.send_policy import SendPolicy
from streams.core.rendering import default_catalogue
from streams.core.state.record import UserState
from streams.core.triggers.catalogue import default_definitions
from streams.demo.run import DEMO_MIX
from streams.simulation.population import (
    MODELLED_TRIGGERS,
    SCRIPTED_PATTERNS,
    Mix,
    expected_firings,
    expected_patterns,
    population_events,
    population_risk_scores,
)
from streams.simulation.risk_stories import RISK_STORIES, expected_interventions
from streams.simulation.stories import STORIES

DEFINITIONS = default_definitions()
SCHEDULED = [d for d in DEFINITIONS if d.evaluate_on.every is not None]
CATALOGUE = default_catalogue()
MAX_AGE = 2 * 86_400.0
#: How long after the end of the history the worker reads it and its timer runs.
LAG = timedelta(minutes=2)
#: The demo's defaults (``nudge demo``).
DEMO_USERS, DEMO_SEED = 160, 7


@dataclass
class Outcomes:
    """What the core decided over a whole population."""

    fired: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    suppressed: Counter[tuple[str, str]] = field(default_factory=Counter)
    decisions: list[TriggerDecision] = field(default_factory=list)
    states: dict[str, UserState] = field(default_factory=dict)

    def add(self, decisions: Iterable[TriggerDecision]) -> None:
        for decision in decisions:
            if decision.trigger_id in INSIGHT_TRIGGER_IDS:
                continue  # insights, not triggers: tests of their own
            self.decisions.append(decision)
            if decision.outcome is Outcome.FIRED:
                self.fired[decision.trigger_id].add(decision.user_id)
            else:
                self.suppressed[decision.trigger_id, str(decision.reason)] += 1


def run_core(
    events: list[dict[str, Any]],
    *,
    now: datetime,
    timer_at: datetime | None = None,
    early_pass: bool = True,
    policy: SendPolicy | None = None,
) -> Outcomes:
    """Process ``events`` at ``now + LAG``; a timer pass at the end (at ``timer_at``) and,
    with ``early_pass``, one when the first event less than two days old arrives."""
    clock = now + LAG
    timer_at = timer_at or clock
    states: dict[str, UserState] = defaultdict(UserState)
    out = Outcomes()

    def timer() -> None:
        for user, state in states.items():
            out.add(process_scheduled(user, state, SCHEDULED, CATALOGUE, now=timer_at,
                                      policy=policy).decisions)  # fmt: skip

    for raw in events:
        event = Event.model_validate(raw)
        if early_pass and (clock - event.occurred_at).total_seconds() <= MAX_AGE:
            timer()
            early_pass = False
        result = process(states[event.user_id], event, DEFINITIONS, CATALOGUE, now=clock,
                         max_event_age_seconds=MAX_AGE, policy=policy)  # fmt: skip
        out.add(result.decisions)
    timer()
    out.states = states
    return out


def generate(n: int, seed: int, now: datetime, mix: Mix = DEMO_MIX) -> tuple[Any, list[Any]]:
    personas = mix.population(n, seed=seed)
    return personas, list(population_events(personas, now=now, seed=seed))


def firings(out: Outcomes) -> dict[str, set[str]]:
    return {trigger: out.fired.get(trigger, set()) for trigger in MODELLED_TRIGGERS}


# --- the catalogue is covered ----------------------------------------------------------


def test_every_trigger_of_the_catalogue_is_modelled_and_every_story_fires_one() -> None:
    assert {d.id for d in DEFINITIONS} == MODELLED_TRIGGERS
    stories = set().union(*(s.fires for s in STORIES.values()))
    assert {d.id for d in DEFINITIONS} - stories <= {"income_drop"}  # an archetype's
    # Every story fires a trigger, but login_surge: its logins rise, a behaviour change
    # (tests/unit/simulation/test_behavior_expectations.py).
    assert [name for name, story in STORIES.items() if not story.fires] == ["login_surge"]


def test_no_story_mixes_event_driven_and_time_based_triggers() -> None:
    """Each story's firings happen on one side of the timer, whenever it runs."""
    timed = {d.id for d in SCHEDULED}
    for story in STORIES.values():
        assert story.fires <= timed or not story.fires & timed, story.name


def test_the_demo_mix_covers_every_story_twice_and_leaves_most_users_ordinary() -> None:
    personas = DEMO_MIX.population(DEMO_USERS, seed=DEMO_SEED)
    stories = Counter(p.story for p in personas if p.story)
    assert stories == dict.fromkeys(STORIES, 2)
    expected = expected_firings(personas)
    firing = set().union(*expected.values())
    assert len(firing) < DEMO_USERS / 2
    assert all(expected[d.id] for d in DEFINITIONS)


# --- the demo's persona set ------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> tuple[Any, Outcomes, int]:
    now = datetime(2026, 11, 24, 9, 40, tzinfo=UTC)
    personas, events = generate(DEMO_USERS, DEMO_SEED, now)
    return personas, run_core(events, now=now), len(events)


@pytest.mark.slow
def test_the_demo_population_fires_exactly_the_expected_users(demo: Any) -> None:
    personas, out, _ = demo
    assert firings(out) == expected_firings(personas)
    assert set(out.fired) <= MODELLED_TRIGGERS


@pytest.mark.slow
def test_each_expected_user_fires_once_and_suppressions_have_their_reasons(demo: Any) -> None:
    personas, out, _ = demo
    fired = Counter((d.trigger_id, d.user_id) for d in out.decisions if d.outcome is Outcome.FIRED)
    assert set(fired.values()) == {1}
    crossroads = {p.user_id for p in personas if p.story == "crossroads"}
    lost = {d.user_id for d in out.decisions if d.reason == "lower_priority"}
    assert lost == crossroads and len(crossroads) == 2
    assert {r for _, r in out.suppressed} == {"cooldown", "lower_priority"}
    assert out.suppressed["spending_spike", "cooldown"] > 0


def run_risk_scores(
    out: Outcomes, scores: list[dict[str, Any]], now: datetime
) -> tuple[dict[str, set[str]], list[StartIntervention]]:
    """Process the scores after the history, as the demo publishes them (changes the
    states); return who got which intervention type or suppression, and the commands."""
    got: dict[str, set[str]] = defaultdict(set)
    commands = []
    for raw in scores:
        event = Event.model_validate(raw)
        result = process(out.states[event.user_id], event, DEFINITIONS, CATALOGUE,
                         now=now + LAG, max_event_age_seconds=MAX_AGE)  # fmt: skip
        assert {d.trigger_id for d in result.decisions} <= {RISK_INTERVENTION_TRIGGER_ID}
        for command in result.interventions:
            got[command.intervention_type.value].add(command.user_id)
        for decision in result.decisions:
            if decision.reason is not None:
                got[decision.reason.value].add(decision.user_id)
        commands += result.interventions
    return got, commands


@pytest.mark.slow
def test_the_demo_risk_stories_start_exactly_the_expected_interventions(demo: Any) -> None:
    personas, out, _ = demo
    now = datetime(2026, 11, 24, 9, 40, tzinfo=UTC)
    scores = population_risk_scores(personas, now=now, seed=DEMO_SEED)
    expected = expected_interventions(personas)
    assert Counter(p.risk_story for p in personas if p.risk_story) == dict.fromkeys(RISK_STORIES, 2)
    assert len(scores) == 5 * 12
    # Every story's outcome happens to someone; financial wellness only exists under the
    # early_warning rule, which no story relies on.
    assert expected.pop(InterventionType.FINANCIAL_WELLNESS.value) == set()
    assert all(expected.values()) and expected[SuppressionReason.ESCALATED.value]
    got, commands = run_risk_scores(out, scores, now)
    assert {k: got.get(k, set()) for k in expected} == expected and set(got) <= set(expected)
    # A payment is due for the users falling behind: their messages name its amount.
    due = {p.user_id for p in personas if p.risk_story == "falling_behind"}
    for command in commands:
        sms = [m.body for m in command.messages if m.channel.value == "sms"]
        assert all("{{" not in body for body in sms)
        if command.user_id in due:
            assert "$" in sms[0], sms


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 11, 42])
def test_risk_stories_start_their_interventions_whatever_the_seed(seed: int) -> None:
    now = datetime(2026, 3, 1, 0, 0, 0, 1, tzinfo=UTC) + timedelta(hours=seed * 7)
    mix = Mix(spike_share=0.1, income_drop_share=0.1, story_share=0.3, risk_users=12)
    personas, events = generate(SMALL_USERS, seed, now, mix=mix)
    out = run_core(events, now=now)
    assert firings(out) == expected_firings(personas)  # payments fire no trigger
    got, _ = run_risk_scores(out, population_risk_scores(personas, now=now, seed=seed), now)
    expected = expected_interventions(personas)
    assert {k: got.get(k, set()) for k in expected} == expected and set(got) <= set(expected)


@pytest.mark.slow
def test_the_generator_is_about_as_big_as_before(demo: Any) -> None:
    """About 108k events for 150 users, so ``make demo`` still takes about a minute."""
    _, _, count = demo
    assert 100_000 < count < 115_000


# --- any moment, any seed ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 3, 1, 0, 0, 0, 1, tzinfo=UTC),  # a microsecond into the month
        datetime(2026, 2, 28, 23, 50, tzinfo=UTC),  # minutes before a new month
        datetime(2024, 2, 29, 12, tzinfo=UTC),  # leap day: birthdays on 29 February
        datetime(2026, 6, 5, 21, 30, tzinfo=UTC),  # night in Europe: sends held
        datetime(2026, 8, 17, 3, 15, tzinfo=UTC),  # night in the Americas
    ],
)
def test_every_story_fires_exactly_at_any_moment(now: datetime) -> None:
    personas, events = generate(SMALL_USERS, seed=now.day * 1000 + now.hour, now=now, mix=SMALL)
    assert {p.story for p in personas} >= set(STORIES)
    assert firings(run_core(events, now=now)) == expected_firings(personas)


#: Every story (24 story users among 40), and a few of each money archetype.
SMALL_USERS, SMALL = 40, Mix(spike_share=0.1, income_drop_share=0.1, story_share=0.6)


@pytest.mark.slow
def test_time_based_stories_still_hold_a_day_later() -> None:
    """A timer that runs 20 hours late (a slow pipeline) judges the same users."""
    now = datetime(2026, 5, 14, 16, tzinfo=UTC)
    personas, events = generate(SMALL_USERS, 22, now, mix=SMALL)
    out = run_core(events, now=now, timer_at=now + timedelta(hours=20), early_pass=False)
    assert firings(out) == expected_firings(personas)


@pytest.mark.slow
def test_without_quiet_hours_or_with_looser_caps_the_same_users_fire() -> None:
    """Nobody's firing depends on the send policy's hours, nor on the caps but by design."""
    now = datetime(2026, 10, 2, 22, 5, tzinfo=UTC)
    personas, events = generate(SMALL_USERS, 4, now, mix=SMALL)
    for policy in (SendPolicy(quiet_start=0, quiet_end=0), SendPolicy(cap_per_channel_day=9)):
        out = run_core(events, now=now, policy=policy)
        expected = expected_firings(personas)
        if policy.cap_per_channel_day > 2:  # the crossroads' third trigger gets a slot
            expected["skill_gap"] |= {p.user_id for p in personas if p.story == "crossroads"}
        assert firings(out) == expected


@pytest.mark.slow
def test_a_population_without_stories_fires_only_the_money_triggers() -> None:
    now = datetime(2026, 4, 9, 7, tzinfo=UTC)
    personas, events = generate(30, 9, now, mix=Mix())
    expected = expected_firings(personas)
    assert expected["spending_spike"] and expected["income_drop"]
    assert all(not users for t, users in expected.items() if t not in MONEY)
    assert firings(run_core(events, now=now)) == expected


MONEY = {"spending_spike", "income_drop"}


# --- patterns: the lead stories and the lapsed are labelled as scripted ------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 12, 2, 8, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 0, 0, 0, 1, tzinfo=UTC),  # a microsecond into the month
        datetime(2026, 8, 17, 3, 15, tzinfo=UTC),  # a Monday night in the Americas
    ],
)
def test_the_scripted_users_and_only_they_are_high_intent_or_at_risk(now: datetime) -> None:
    personas, events = generate(SMALL_USERS, seed=now.day * 1000 + now.hour, now=now, mix=SMALL)
    out = run_core(events, now=now)
    for user, state in out.states.items():  # the timer's daily pass labels the idle too
        process_idle(user, state, [], CATALOGUE, now=now + LAG, behavior=BehaviorPolicy())
    labelled: dict[str, set[str]] = defaultdict(set)
    for user, state in out.states.items():
        labelled[state.pattern or "none"].add(user)
    expected = expected_patterns(personas)
    assert all(expected.values())  # every scripted label has its users
    assert {label: labelled[label] for label in SCRIPTED_PATTERNS} == expected
