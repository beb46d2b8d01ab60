"""The synthetic population: valid, reproducible, ordered, and it fires what it promises.

The firing checks of the two money triggers use a small reference implementation written
here from their definitions (integer cents, exact comparisons), not the production code.
The stories, and the whole catalogue through the real core, are in test_stories.py.
"""

from __future__ import annotations

import tracemalloc
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.events import Channel, Event, ProfileUpdate, parse_event
from streams.core.decisions.process import process, process_scheduled
from streams.core.rendering import default_catalogue
from streams.core.state.record import UserState
from streams.core.triggers.catalogue import default_definitions
from streams.simulation.malformed import MALFORMATIONS, malformed_messages, valid_transaction
from streams.simulation.population import (
    MODELLED_TRIGGERS,
    Mix,
    Persona,
    expected_firings,
    make_population,
    population_events,
)
from streams.simulation.stories import STORIES

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
FRESH = timedelta(days=2)
#: Enough users that every archetype appears with these shares and this seed.
SHARES: dict[str, Any] = {"spike_share": 0.4, "income_drop_share": 0.4}


def occurred(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["occurred_at"])


def cents(amount: str) -> int:
    return int(Decimal(amount) * 100)


def is_debit(event: dict[str, Any]) -> bool:
    payload = event["payload"]
    return bool(payload["type"] == "transaction" and payload["direction"] == "debit")


def by_user(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    users: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        users[event["user_id"]].append(event)
    return users


def day_of(moment: datetime) -> int:
    return (moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)).days


def month_of(moment: datetime) -> int:
    utc = moment.astimezone(UTC)
    return utc.year * 12 + utc.month - 1


def spike_holds(daily: dict[int, int], today: int, first_day: int) -> bool:
    """Week to today >= 120 % of the mean of the up to 4 full weeks before, and >= $100."""
    week = sum(daily.get(d, 0) for d in range(today - 6, today + 1))
    weeks = [
        sum(daily.get(d, 0) for d in range(end - 6, end + 1))
        for end in (today - 7 * back for back in range(1, 5))
        if end - 6 >= first_day
    ]
    if len(weeks) < 2 or sum(weeks) == 0:
        return False
    return 100 * len(weeks) * week >= 120 * sum(weeks) and week >= 100_00


def drop_holds(monthly: dict[int, int], closed: int, first_month: int) -> bool:
    """Closed month's income >= 15 % below the mean of the up to 3 full months before."""
    months = [monthly.get(m, 0) for m in range(closed - 3, closed) if m > first_month]
    if len(months) < 2 or sum(months) == 0:
        return False
    return 100 * len(months) * monthly.get(closed, 0) <= 85 * sum(months)


def fired_by(events: list[dict[str, Any]], now: datetime) -> dict[str, set[str]]:
    """Trigger id -> users whose condition holds on at least one fresh event.

    Baselines count from the user's first debit day and first pay month (as the pipeline's
    state does); the population starts both on its first day, so this is also the rule
    "from the first event".
    """
    fired: dict[str, set[str]] = {"spending_spike": set(), "income_drop": set()}
    for user, history in by_user(events).items():
        daily: dict[int, int] = defaultdict(int)
        monthly: dict[int, int] = defaultdict(int)
        first_day = day_of(occurred(next(e for e in history if is_debit(e))))
        first_pay = next(e for e in history if e["payload"]["type"] == "income_deposit")
        first_month = month_of(occurred(first_pay))
        judged: set[int] = set()
        for event in history:
            at, payload = occurred(event), event["payload"]
            fresh = now - at <= FRESH
            if is_debit(event):
                daily[day_of(at)] += cents(payload["amount"])
                if fresh and spike_holds(daily, day_of(at), first_day):
                    fired["spending_spike"].add(user)
            if payload["type"] == "income_deposit":
                monthly[month_of(at)] += cents(payload["amount"])
            closed = month_of(at) - 1
            if (
                fresh
                and payload["type"] in ("transaction", "income_deposit")
                and closed not in judged
            ):
                judged.add(closed)  # judged once, at the first fresh event of the month
                if drop_holds(monthly, closed, first_month):
                    fired["income_drop"].add(user)
    return fired


def generate(
    n: int = 24, *, seed: int = 3, now: datetime = NOW, **kwargs: Any
) -> tuple[list[Persona], list[dict[str, Any]]]:
    personas = make_population(n, seed=seed, **SHARES)
    return personas, list(population_events(personas, now=now, seed=seed, **kwargs))


MONEY = ("spending_spike", "income_drop")


def money(expected: dict[str, set[str]]) -> dict[str, set[str]]:
    """The money triggers' expectations; the population without stories promises no other."""
    assert all(not users for trigger, users in expected.items() if trigger not in MONEY)
    return {trigger: expected[trigger] for trigger in MONEY}


@pytest.fixture(scope="module")
def population() -> tuple[list[Persona], list[dict[str, Any]]]:
    return generate(live_seconds=900)


# --- shape ---------------------------------------------------------------------------


@pytest.mark.slow
def test_every_event_validates_and_every_archetype_appears(population: Any) -> None:
    personas, events = population
    parsed = [Event.model_validate(event) for event in events]
    assert {p.archetype for p in personas} == {"steady", "spender", "income_drop", "both"}
    assert {e.user_id for e in parsed} == {p.user_id for p in personas}
    assert len({e.event_id for e in parsed}) == len(parsed)
    kinds = Counter(e.type for e in parsed)
    for kind in ("transaction", "income_deposit", "page_view", "app_session", "feature_used"):
        assert kinds[kind] > 0, kind


def test_each_user_starts_with_a_consenting_profile(population: Any) -> None:
    personas, events = population
    people = {p.user_id: p for p in personas}
    for user, history in by_user(events).items():
        first = Event.model_validate(history[0])
        assert isinstance(first.payload, ProfileUpdate)
        assert first.payload.first_name == people[user].first_name
        assert first.payload.timezone == people[user].timezone == first.context.timezone
        assert all(first.payload.consent[c] for c in (Channel.SMS, Channel.EMAIL, Channel.PUSH))


def test_occurred_at_is_non_decreasing_and_history_ends_before_now(population: Any) -> None:
    _, events = population
    times = [occurred(event) for event in events]
    assert times == sorted(times)
    history = [at for at in times if at < NOW]
    live = times[len(history) :]
    assert live, "live_seconds=900 yields live events"
    assert all(NOW <= at < NOW + timedelta(seconds=900) for at in live)
    assert {e["payload"]["type"] for e in events[len(history) :]} <= {"page_view", "feature_used"}


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    assert generate(6, seed=11) == generate(6, seed=11)
    assert generate(6, seed=11)[1] != generate(6, seed=12)[1]


def test_spending_is_one_to_three_debits_every_day(population: Any) -> None:
    _, events = population
    for history in by_user(events).values():
        days = Counter(day_of(occurred(e)) for e in history if is_debit(e))
        first, last = day_of(occurred(history[0])), day_of(NOW)
        assert set(days) == set(range(first, last + 1))
        assert set(days.values()) <= {1, 2, 3}


def test_ordinary_users_open_the_app_once_every_full_day(population: Any) -> None:
    """One session a day: never ten in a week, never half the usual week, never a lapse."""
    _, events = population
    for history in by_user(events).values():
        sessions = Counter(
            day_of(occurred(e)) for e in history
            if e["payload"]["type"] == "app_session" and occurred(e) < NOW
        )  # fmt: skip
        first, today = day_of(occurred(history[0])), day_of(NOW)
        assert set(sessions.values()) == {1}
        assert set(range(first + 1, today)) <= set(sessions)  # every full day between


def test_pay_lands_on_schedule_and_is_constant_outside_the_drop_month(population: Any) -> None:
    personas, events = population
    people = {p.user_id: p for p in personas}
    drop_month = month_of(NOW) - 1
    for user, history in by_user(events).items():
        persona = people[user]
        pay = [(occurred(e), e["payload"]["amount"]) for e in history
               if e["payload"]["type"] == "income_deposit"]  # fmt: skip
        days = {1} if persona.pay_schedule == "monthly" else {1, 15}
        assert pay and {at.astimezone(UTC).day for at, _ in pay} <= days
        usual = {
            Decimal(a) for at, a in pay if month_of(at) != drop_month or not persona.income_drop
        }
        assert usual == {persona.monthly_income / len(days)}


# --- trigger behaviour ---------------------------------------------------------------


def test_steady_days_and_weeks_stay_close_to_usual(population: Any) -> None:
    """Days within 3 % of the usual spend; weeks within 8 % of the mean of the four before."""
    personas, events = population
    steady = {p.user_id: p for p in personas if p.archetype in ("steady", "income_drop")}
    for user, persona in steady.items():
        history = by_user(events)[user]
        daily: Counter[int] = Counter()
        for e in history:
            if is_debit(e):
                daily[day_of(occurred(e))] += cents(e["payload"]["amount"])
        first, today = day_of(occurred(history[0])), day_of(NOW)
        usual = int(persona.daily_spend * 100)
        assert all(abs(daily[d] / usual - 1) <= 0.0301 for d in range(first, today + 1))
        for end in range(first + 34, today):  # complete days with four full weeks before
            week = sum(daily[d] for d in range(end - 6, end + 1))
            baseline = sum(daily[d] for d in range(end - 34, end - 6)) / 4
            assert abs(week / baseline - 1) <= 0.08, (user, end)


def test_fresh_firings_are_exactly_the_expected_ones(population: Any) -> None:
    personas, events = population
    expected = expected_firings(personas)
    assert expected["spending_spike"] and expected["income_drop"]
    assert fired_by(events, NOW) == money(expected)


def test_nothing_fires_before_the_fresh_window() -> None:
    """Judged as if now were 40 days earlier (before the drop month), nothing fires."""
    _, events = generate(12, history_days=200)
    earlier = NOW - timedelta(days=40)
    assert fired_by([e for e in events if occurred(e) < earlier], earlier) == dict.fromkeys(
        MONEY, set()
    )


@pytest.mark.slow
def test_the_pipeline_core_fires_exactly_the_expected_users(population: Any) -> None:
    """The real pure core (state, every trigger, decisions) agrees with ``expected_firings``:
    the money triggers fire for their users, and nothing else fires, time-based included."""
    personas, events = population
    states: dict[str, UserState] = defaultdict(UserState)
    fired: dict[str, set[str]] = {trigger: set() for trigger in MODELLED_TRIGGERS}
    catalogue, definitions = default_catalogue(), default_definitions()
    history = [e for e in events if occurred(e) < NOW]
    for raw in history:
        event = Event.model_validate(raw)
        result = process(states[event.user_id], event, definitions, catalogue,
                         now=NOW, max_event_age_seconds=FRESH.total_seconds())  # fmt: skip
        for decision in result.decisions:
            fired[decision.trigger_id].add(decision.user_id)
    for user, state in states.items():
        for decision in process_scheduled(user, state, definitions, catalogue, now=NOW).decisions:
            fired[decision.trigger_id].add(decision.user_id)
    assert fired == expected_firings(personas)


@pytest.mark.slow
@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 3, 1, tzinfo=UTC),  # exactly midnight on the 1st: no March yet
        datetime(2026, 3, 1, 0, 0, 0, 1, tzinfo=UTC),  # one microsecond into March
        datetime(2026, 3, 1, 0, 20, tzinfo=UTC),
        datetime(2026, 3, 2, 23, 59, tzinfo=UTC),
        datetime(2026, 7, 31, 23, 59, 59, tzinfo=UTC),  # late in a 31-day month
        datetime(2024, 2, 29, 12, tzinfo=UTC),  # leap day
        datetime(2027, 1, 1, 5, tzinfo=UTC),  # year boundary
    ],
)
def test_firings_hold_at_month_edges(now: datetime) -> None:
    personas, events = generate(16, now=now)
    assert all(occurred(e) < now for e in events)
    assert fired_by(events, now) == money(expected_firings(personas))


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(-(2**31), 2**31),
    now=st.datetimes(
        min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(2035, 12, 31),  # noqa: DTZ001
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=-7)), timezone(timedelta(hours=9, minutes=30))]
        ),
    ),
    history_days=st.integers(0, 200),
)
def test_firings_hold_for_any_seed_now_and_history(
    seed: int, now: datetime, history_days: int
) -> None:
    personas, events = generate(8, seed=seed, now=now, history_days=history_days)
    assert fired_by(events, now) == money(expected_firings(personas))


def test_every_users_last_debit_is_within_the_hour_before_now(population: Any) -> None:
    """Fresh even if the pipeline reads it late, and in now's month even just after midnight."""
    _, events = population
    for history in by_user(events).values():
        debits = [occurred(e) for e in history if is_debit(e)]
        assert NOW - timedelta(hours=1) <= max(debits) < NOW


@pytest.mark.slow
def test_memory_stays_per_user_not_per_event() -> None:
    """Streaming ~30k events must not hold them: a list of them would take tens of MB."""
    personas = make_population(4, seed=1)
    tracemalloc.start()
    try:
        count = sum(1 for _ in population_events(personas, now=NOW, history_days=1500, seed=1))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count > 20_000
    assert peak < 1_000_000


# --- arguments -----------------------------------------------------------------------


def test_population_shares_are_exact_and_ids_unique() -> None:
    personas = make_population(200, seed=5, spike_share=0.15, income_drop_share=0.25)
    kinds = Counter(p.archetype for p in personas)
    assert kinds["spender"] + kinds["both"] == 30
    assert kinds["income_drop"] + kinds["both"] == 50
    assert len({p.user_id for p in personas}) == 200
    assert all(p.pay_schedule in ("monthly", "semimonthly") for p in personas)
    assert make_population(0, seed=5) == []


def test_stories_go_in_turn_to_steady_users_only() -> None:
    personas = make_population(100, seed=5, spike_share=0.1, income_drop_share=0.1, story_share=0.3)
    storied = [p for p in personas if p.story]
    assert len(storied) == 30 and all(p.archetype == "steady" for p in storied)
    names = Counter(p.story for p in storied)
    assert set(names) == set(STORIES) and set(names.values()) == {1, 2}
    assert all(p.tier == "free" for p in storied if p.story == "engaged_free")
    couch = [p for p in storied if p.story == "couch_spender"]
    assert all(1.8 <= p.spike_factor <= 2.4 for p in couch)
    assert Mix(0.1, 0.1, 0.3).population(100, seed=5) == personas
    # The same people as without stories, but for what their story needs.
    plain = make_population(100, seed=5, spike_share=0.1, income_drop_share=0.1)
    assert plain == [replace(p, story=None, tier=q.tier, spike_factor=q.spike_factor)
                     for p, q in zip(personas, plain, strict=True)]  # fmt: skip


@pytest.mark.slow
def test_a_story_population_is_reproducible_and_its_events_valid() -> None:
    personas = make_population(30, seed=8, story_share=0.7)
    events = list(population_events(personas, now=NOW, seed=8))
    assert events == list(population_events(personas, now=NOW, seed=8))
    parsed = [Event.model_validate(e) for e in events]
    assert len({e.event_id for e in parsed}) == len(parsed)
    assert all(e.occurred_at < NOW for e in parsed)
    times = [e.occurred_at for e in parsed]
    assert times == sorted(times)


def test_more_stories_than_steady_users_is_refused() -> None:
    with pytest.raises(ValueError, match="steady users"):
        make_population(10, seed=1, spike_share=0.5, income_drop_share=0.5, story_share=0.9)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"n_users": -1}, "n_users and risk_users must be >= 0, not -1"),
        ({"n_users": 3, "spike_share": 1.5}, "shares must be within [0, 1], not 1.5"),
        ({"n_users": 3, "income_drop_share": -0.1}, "shares must be within [0, 1], not -0.1"),
        ({"n_users": 3, "story_share": 1.1}, "shares must be within [0, 1], not 1.1"),
    ],
)
def test_population_rejects_bad_arguments(kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError) as refused:
        make_population(seed=1, **kwargs)
    assert str(refused.value).startswith(reason)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        # the naive datetime under test
        ({"now": datetime(2026, 3, 1)}, "now must be timezone-aware"),  # noqa: DTZ001
        ({"now": NOW, "history_days": -1}, "history_days must be >= 0, not -1"),
        ({"now": NOW, "live_seconds": -1.0}, "live_seconds must be >= 0, not -1.0"),
    ],
)
def test_events_reject_bad_arguments(kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError) as refused:
        population_events(make_population(2, seed=1), seed=1, **kwargs)
    assert str(refused.value) == reason


# --- malformed messages ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MALFORMATIONS))
def test_each_malformation_breaks_a_valid_event(name: str) -> None:
    import random

    base = valid_transaction(random.Random(name))
    parse_event(base)  # the base itself is valid: the malformation is what breaks it
    with pytest.raises(ValidationError):
        parse_event(MALFORMATIONS[name](base))


@given(seed=st.integers(), n=st.integers(0, 40))
def test_malformed_messages_all_fail_and_are_reproducible(seed: int, n: int) -> None:
    messages = malformed_messages(n, seed=seed)
    assert len(messages) == n
    assert messages == malformed_messages(n, seed=seed)
    for key, value in messages:
        assert key is None or key.startswith(b"user-")
        with pytest.raises(ValidationError):
            parse_event(value)


def test_malformed_messages_cover_every_kind_in_each_round() -> None:
    messages = malformed_messages(len(MALFORMATIONS), seed=9)
    assert len(set(messages)) == len(MALFORMATIONS)
    with pytest.raises(ValueError, match=r"n must be >= 0, not -1"):
        malformed_messages(-1, seed=9)
