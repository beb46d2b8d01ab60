"""Policy of ``process`` for hand-built definitions: status, targeting, exclusion,
experiment holdout, cooldown, consent, delay, and what the decision record says."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from schemas.commands import Priority
from schemas.events import Channel, Event
from schemas.ids import decision_id
from schemas.records import Outcome, SuppressionReason
from schemas.triggers import Experiment, TriggerDefinition, validate_definition
from streams.core.decisions.eligibility import in_holdout
from streams.core.decisions.process import process
from streams.core.decisions.release import release_due
from streams.core.decisions.result import Result
from streams.core.decisions.send_policy import SendPolicy
from streams.core.rendering import default_catalogue
from streams.core.state.record import UserState
from tests.unit.factories import (
    JUNE,
    START,
    fold,
    income_history,
    profile,
    spike_at,
    spike_history,
    transaction,
)

USER = "user-1"
#: Large enough that no test event is too old to evaluate.
MAX_AGE = 365 * 86_400.0
#: What the spike scenario computes for a $400 debit on the spike day.
SPIKE_FEATURES = {
    "spend_week": 520.0,
    "spend_week_baseline": 140.0,
    "spend_week_change_pct": 271.428571429,
}


def definition(**changes: Any) -> TriggerDefinition:
    """A spending-spike-like definition, with top-level fields replaced."""
    doc: dict[str, Any] = {
        "id": "policy_spike",
        "name": "Policy spike",
        "type": "behavioral",
        "category": "financial",
        "evaluate_on": {"events": ["transaction"]},
        "thresholds": {"spike_percent": 20, "min_week_spend": 100},
        "condition": {
            "all": [
                {"feature": "transaction_direction", "eq": "debit"},
                {"feature": "spend_week_change_pct", "gte": "$spike_percent"},
                {"feature": "spend_week", "gte": "$min_week_spend"},
            ]
        },
        "cooldown": "7d",
        "priority": "high",
        "channels": [
            {"channel": "sms", "template": "spending_spike.sms"},
            {"channel": "email", "template": "spending_spike.email"},
        ],
    }
    doc.update(changes)
    return TriggerDefinition.model_validate(doc)


#: Holds for every debit or credit of at least $1: for cooldown tests, where only time matters.
ANY_AMOUNT = {"feature": "event_amount", "gte": 1}


#: No caps and no quiet hours: these tests are about each trigger's own policy.
UNLIMITED = SendPolicy(
    cap_per_channel_day=1000, cap_per_channel_week=1000, quiet_start=0, quiet_end=0
)


def run(state: UserState, event: Event, *definitions: TriggerDefinition) -> Result:
    return process(
        state,
        event,
        definitions,
        default_catalogue(),
        now=event.occurred_at,
        max_event_age_seconds=MAX_AGE,
        policy=UNLIMITED,
    )


def spiking(user: str = USER, *profile_events: Event) -> UserState:
    """A $20-a-day spender just before the spike day (with profile updates first)."""
    return fold([*profile_events, *spike_history(user)])


def spike(user: str = USER, event_id: str = "spike-1") -> Event:
    return transaction(user, spike_at(), "400.00", event_id=event_id)


def at(hours: float) -> datetime:
    return spike_at(timedelta(hours=hours))


# --- firing and the decision record ------------------------------------------------------


def test_active_definition_fires_with_its_numbers_and_name() -> None:
    state = spiking()
    result = run(state, spike(), definition())

    [decision] = result.decisions
    assert decision.outcome is Outcome.FIRED
    assert decision.reason is None
    assert decision.trigger_id == "policy_spike"
    assert decision.decision_id == decision_id("policy_spike", USER, "spike-1")
    assert decision.features == SPIKE_FEATURES
    assert decision.detail == (
        "Policy spike: transaction_direction debit = debit; "
        "spend_week_change_pct 271.4% ≥ 20%; spend_week $520.00 ≥ $100.00."
    )
    assert [c.channel for c in result.commands] == [Channel.SMS, Channel.EMAIL]
    assert decision.command_ids == [c.command_id for c in result.commands]
    assert all(c.priority is Priority.HIGH for c in result.commands)
    assert all(c.reason == decision.detail for c in result.commands)
    assert all((c.experiment, c.variant) == (None, None) for c in result.commands)
    assert state.last_fired == {"policy_spike": spike_at().timestamp()}


def test_a_condition_that_does_not_hold_records_nothing() -> None:
    state = spiking()
    result = run(state, transaction(USER, spike_at(), "47.99"), definition())
    assert result.decisions == []
    assert result.commands == []
    assert result.evaluated is True


def test_definitions_only_see_the_events_they_evaluate_on() -> None:
    state = spiking()
    on_income = definition(evaluate_on={"events": ["income_deposit"]})
    assert run(state, spike(), on_income).decisions == []
    # The same definition on transactions fires for this very spike: only evaluate_on differs.
    on_transactions = definition()
    assert [d.outcome for d in run(spiking(), spike(), on_transactions).decisions] == [
        Outcome.FIRED
    ]


# --- status ------------------------------------------------------------------------------


def test_paused_definition_is_not_evaluated() -> None:
    state = spiking()
    result = run(state, spike(), definition(status="paused"))
    assert result.decisions == []
    assert result.commands == []
    assert result.applied is True and result.evaluated is True
    assert state.last_fired == {}


def test_paused_definition_next_to_an_active_one() -> None:
    paused = definition(id="paused_spike", status="paused")
    result = run(spiking(), spike(), paused, definition())
    assert [d.trigger_id for d in result.decisions] == ["policy_spike"]
    assert {c.trigger_id for c in result.commands} == {"policy_spike"}


def test_paused_closed_month_definition_does_not_judge_the_month() -> None:
    drop = {
        "id": "policy_drop",
        "evaluate_on": {"events": ["transaction"]},
        "cause": "closed_month",
        "thresholds": {},
        "condition": {"feature": "income_drop_pct", "gte": 15},
    }
    state = fold(income_history(USER, "2000.00"))
    result = run(state, transaction(USER, JUNE, "5.00"), definition(status="paused", **drop))
    assert result.decisions == []
    assert "policy_drop" not in state.evaluated

    active = definition(**drop)
    first = run(state, transaction(USER, JUNE + timedelta(hours=1), "5.00", event_id="j1"), active)
    [decision] = first.decisions
    assert decision.outcome is Outcome.FIRED
    assert decision.decision_id == decision_id("policy_drop", USER, "month:2026-05")
    assert [c.command_id for c in first.commands] == decision.command_ids
    # the month is judged once: a later June event does not judge May again
    assert run(state, transaction(USER, JUNE + timedelta(days=3), "5.00"), active).decisions == []


# --- targeting and exclusion -------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "tiers", "outcome", "detail"),
    [
        ("free", ["premium"], Outcome.SUPPRESSED, "tier free is not targeted"),
        (None, ["premium"], Outcome.SUPPRESSED, "tier unknown is not targeted"),
        ("standard", ["free", "premium"], Outcome.SUPPRESSED, "tier standard is not targeted"),
        ("premium", ["premium"], Outcome.FIRED, ""),
        ("free", ["free", "standard"], Outcome.FIRED, ""),
        ("free", [], Outcome.FIRED, ""),
        (None, [], Outcome.FIRED, ""),
    ],
)
def test_target_tiers(tier: str | None, tiers: list[str], outcome: Outcome, detail: str) -> None:
    profiles = [] if tier is None else [profile(USER, START - timedelta(days=1), tier=tier)]
    state = spiking(USER, *profiles)
    result = run(state, spike(), definition(target={"tiers": tiers}))
    [decision] = result.decisions
    assert decision.outcome is outcome
    if outcome is Outcome.SUPPRESSED:
        assert decision.reason is SuppressionReason.EXCLUDED
        assert decision.detail.endswith(f" Suppressed: {detail}.")
        assert result.commands == []
        assert state.last_fired == {}
    else:
        assert len(result.commands) == 2


@pytest.mark.parametrize(
    ("tier", "excluded"),
    [("free", True), ("standard", False), (None, False)],
)
def test_exclude_condition(tier: str | None, excluded: bool) -> None:
    profiles = [] if tier is None else [profile(USER, START - timedelta(days=1), tier=tier)]
    state = spiking(USER, *profiles)
    result = run(state, spike(), definition(exclude={"feature": "tier", "eq": "free"}))
    [decision] = result.decisions
    if excluded:
        assert decision.outcome is Outcome.SUPPRESSED
        assert decision.reason is SuppressionReason.EXCLUDED
        assert decision.detail.endswith(" Suppressed: an exclusion condition holds.")
        assert result.commands == []
    else:
        assert decision.outcome is Outcome.FIRED
        assert len(result.commands) == 2


@pytest.mark.parametrize(("limit", "excluded"), [(400.0, True), (400.01, False)])
def test_exclude_condition_uses_the_thresholds(limit: float, excluded: bool) -> None:
    big_spend = definition(
        thresholds={"spike_percent": 20, "min_week_spend": 100, "big": limit},
        exclude={"feature": "event_amount", "gte": "$big"},
    )
    [decision] = run(spiking(), spike(), big_spend).decisions
    assert (decision.reason is SuppressionReason.EXCLUDED) is excluded
    assert decision.outcome is (Outcome.SUPPRESSED if excluded else Outcome.FIRED)


def test_exclude_on_a_feature_without_value_does_not_exclude() -> None:
    # last_event_at has no value for a user's first event; the exclusion cannot hold.
    first_only = definition(
        condition=ANY_AMOUNT, exclude={"feature": "last_event_at", "within": "100w"}
    )
    result = run(UserState(), transaction(USER, START, "50.00"), first_only)
    assert [d.outcome for d in result.decisions] == [Outcome.FIRED]


def test_target_segments_exclude_users_outside_them() -> None:
    students_only = definition(target={"segments": ["students"]})
    result = run(spiking(), spike(), students_only)
    assert result.commands == []
    assert [(d.outcome, d.reason) for d in result.decisions] == [
        (Outcome.SUPPRESSED, SuppressionReason.EXCLUDED)
    ]
    assert result.decisions[0].detail.endswith(
        "Suppressed: the user is in none of the targeted segments."
    )


@pytest.mark.parametrize(
    ("updates", "fires"),
    [
        ([["students"]], True),
        ([["renters", "students"]], True),
        ([["renters"]], False),
        ([["students"], []], False),  # cleared: no longer a member
        ([["students"], ["renters"]], False),  # the new list replaces the old one
        ([["students"], None], True),  # null leaves the membership as it was
        ([], False),  # never told
    ],
)
def test_target_segments_reach_the_members_a_profile_update_names(
    updates: list[list[str] | None], fires: bool
) -> None:
    profile_events = [
        profile(USER, START - timedelta(days=1, hours=-i), event_id=f"p{i}", segments=segments)
        for i, segments in enumerate(updates)
    ]
    students_only = definition(target={"segments": ["students"]})
    result = run(spiking(USER, *profile_events), spike(), students_only)
    assert [d.outcome for d in result.decisions] == [Outcome.FIRED if fires else Outcome.SUPPRESSED]
    assert bool(result.commands) is fires


def test_a_segment_id_a_definition_could_not_target_is_refused() -> None:
    with pytest.raises(ValueError, match="segments"):
        definition(target={"segments": ["Students Club"]})


# --- experiment holdout ------------------------------------------------------------------

SYNTHETIC_USERS = [f"user-{i}" for i in range(10_000)]


def test_in_holdout_is_deterministic_per_experiment_and_user() -> None:
    experiment = Experiment(id="exp_a", holdout_percent=50)
    first = [in_holdout(user, experiment) for user in SYNTHETIC_USERS[:500]]
    second = [
        in_holdout(user, Experiment(id="exp_a", holdout_percent=50))
        for user in SYNTHETIC_USERS[:500]
    ]
    assert first == second
    other = [
        in_holdout(user, Experiment(id="exp_b", holdout_percent=50))
        for user in SYNTHETIC_USERS[:500]
    ]
    assert other != first  # a different experiment splits users differently


@pytest.mark.parametrize("percent", [10.0, 25.0, 50.0, 2.5])
def test_in_holdout_share_matches_holdout_percent(percent: float) -> None:
    experiment = Experiment(id="exp_share", holdout_percent=percent)
    share = 100 * sum(in_holdout(user, experiment) for user in SYNTHETIC_USERS) / 10_000
    assert percent - 1.5 <= share <= percent + 1.5


def test_in_holdout_grows_with_the_percent() -> None:
    ten = {u for u in SYNTHETIC_USERS if in_holdout(u, Experiment(id="exp_c", holdout_percent=10))}
    twenty = {
        u for u in SYNTHETIC_USERS if in_holdout(u, Experiment(id="exp_c", holdout_percent=20))
    }
    assert ten < twenty


@pytest.mark.parametrize(("percent", "held"), [(0.0, 0), (100.0, 10_000)])
def test_in_holdout_never_at_0_and_always_at_100(percent: float, held: int) -> None:
    experiment = Experiment(id="exp_edges", holdout_percent=percent)
    assert sum(in_holdout(user, experiment) for user in SYNTHETIC_USERS) == held


def _users_by_holdout(experiment: Experiment) -> tuple[str, str]:
    held = next(u for u in SYNTHETIC_USERS if in_holdout(u, experiment))
    treated = next(u for u in SYNTHETIC_USERS if not in_holdout(u, experiment))
    return held, treated


def test_held_out_user_gets_holdout_and_treated_user_gets_the_variant() -> None:
    experiment = {"id": "exp_spike_copy", "holdout_percent": 50}
    trial = definition(experiment=experiment)
    held, treated = _users_by_holdout(Experiment(**experiment))

    held_result = run(spiking(held), spike(held), trial)
    [held_decision] = held_result.decisions
    assert held_decision.outcome is Outcome.SUPPRESSED
    assert held_decision.reason is SuppressionReason.HOLDOUT
    assert held_decision.detail.endswith(" Suppressed: held out of experiment exp_spike_copy.")
    assert held_decision.features == SPIKE_FEATURES
    assert held_result.commands == []

    treated_result = run(spiking(treated), spike(treated), trial)
    assert [d.outcome for d in treated_result.decisions] == [Outcome.FIRED]
    assert [(c.experiment, c.variant) for c in treated_result.commands] == [
        ("exp_spike_copy", "treatment"),
        ("exp_spike_copy", "treatment"),
    ]


def test_everyone_is_held_out_at_100_percent() -> None:
    trial = definition(experiment={"id": "exp_all", "holdout_percent": 100})
    for user in ("user-1", "user-2", "someone-else"):
        result = run(spiking(user), spike(user), trial)
        assert [d.reason for d in result.decisions] == [SuppressionReason.HOLDOUT]
        assert result.commands == []


# --- cooldown ----------------------------------------------------------------------------


def _fired_once() -> tuple[UserState, TriggerDefinition]:
    state = UserState()
    every_debit = definition(condition=ANY_AMOUNT, cooldown="7d")
    first = run(state, transaction(USER, START, "10.00", event_id="first"), every_debit)
    assert [d.outcome for d in first.decisions] == [Outcome.FIRED]
    return state, every_debit


@pytest.mark.parametrize(
    ("offset", "outcome"),
    [
        (timedelta(days=1), Outcome.SUPPRESSED),
        (timedelta(days=7) - timedelta(seconds=1), Outcome.SUPPRESSED),
        (timedelta(days=7), Outcome.FIRED),  # exactly the cooldown apart
        # a late event dated before the firing is as close to it
        (-timedelta(days=1), Outcome.SUPPRESSED),
        (-(timedelta(days=7) - timedelta(seconds=1)), Outcome.SUPPRESSED),
        (-timedelta(days=7), Outcome.FIRED),
    ],
)
def test_cooldown_applies_both_ways(offset: timedelta, outcome: Outcome) -> None:
    state, every_debit = _fired_once()
    result = run(state, transaction(USER, START + offset, "10.00"), every_debit)
    [decision] = result.decisions
    assert decision.outcome is outcome
    if outcome is Outcome.SUPPRESSED:
        assert decision.reason is SuppressionReason.COOLDOWN
        assert result.commands == []
    # the last firing never moves backwards
    expected_last = START + max(offset, timedelta()) if outcome is Outcome.FIRED else START
    assert state.last_fired["policy_spike"] == expected_last.timestamp()


def test_cooldown_detail_says_how_far_the_last_firing_is() -> None:
    state, every_debit = _fired_once()
    result = run(state, transaction(USER, START + timedelta(hours=36), "10.00"), every_debit)
    assert result.decisions[0].detail.endswith(" Suppressed: 1.5 days from the last firing.")


def test_no_cooldown_fires_every_time() -> None:
    state = UserState()
    every_debit = definition(condition=ANY_AMOUNT, cooldown=0)
    outcomes = [
        run(state, transaction(USER, START + timedelta(minutes=m), "10.00"), every_debit)
        .decisions[0]
        .outcome
        for m in range(3)
    ]
    assert outcomes == [Outcome.FIRED] * 3


# --- consent -----------------------------------------------------------------------------


def test_consent_withdrawn_on_one_channel_drops_that_channel() -> None:
    no_sms = profile(USER, START - timedelta(days=1), consent={"sms": False})
    result = run(spiking(USER, no_sms), spike(), definition())
    [decision] = result.decisions
    assert decision.outcome is Outcome.FIRED
    assert [c.channel for c in result.commands] == [Channel.EMAIL]
    assert decision.command_ids == [result.commands[0].command_id]


def test_consent_withdrawn_on_every_channel_suppresses() -> None:
    none = profile(USER, START - timedelta(days=1), consent={"sms": False, "email": False})
    state = spiking(USER, none)
    result = run(state, spike(), definition())
    [decision] = result.decisions
    assert decision.outcome is Outcome.SUPPRESSED
    assert decision.reason is SuppressionReason.NO_CONSENT
    assert result.commands == []
    assert state.last_fired == {}


def test_consent_given_again_restores_the_channel() -> None:
    withdrawn = profile(USER, START - timedelta(days=2), consent={"sms": False})
    restored = profile(USER, START - timedelta(days=1), consent={"sms": True})
    result = run(spiking(USER, withdrawn, restored), spike(), definition())
    assert [c.channel for c in result.commands] == [Channel.SMS, Channel.EMAIL]


def test_consent_still_applies_to_a_targeted_experiment() -> None:
    experiment = {"id": "exp_consent", "holdout_percent": 0}
    no_email = profile(USER, START - timedelta(days=1), consent={"email": False}, tier="premium")
    trial = definition(experiment=experiment, target={"tiers": ["premium"]})
    result = run(spiking(USER, no_email), spike(), trial)
    assert [(c.channel, c.variant) for c in result.commands] == [(Channel.SMS, "treatment")]


# --- delay -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delay", "later"),
    [("2h", timedelta(hours=2)), ("30m", timedelta(minutes=30)), (0, timedelta())],
)
def test_delay_sets_send_at(delay: Any, later: timedelta) -> None:
    state = spiking()
    result = run(state, spike(), definition(delay=delay))
    # A delayed send waits in the user's state until the scheduler's clock reaches it.
    held = bool(later)
    assert (len(result.commands), result.held) == ((0, 2) if held else (2, 0))
    assert release_due(USER, state, spike_at() + later - timedelta(seconds=1)).commands == []
    released = release_due(USER, state, spike_at() + later).commands if held else result.commands
    assert len(released) == 2
    assert state.pending == []
    assert [c.command_id for c in released] == result.decisions[0].command_ids
    for command in released:
        assert command.created_at == spike_at()
        assert command.send_at == spike_at() + later


@pytest.mark.parametrize("delay", ["99999999999w", float("inf")])
def test_an_absurd_delay_is_rejected_at_the_edge(delay: Any) -> None:
    doc = definition().model_dump(by_alias=True)
    assert validate_definition({**doc, "delay": delay}) == [
        "delay: a duration lies between 0 and 3650 days"
    ]


def test_the_longest_delay_accepted_does_not_crash_process() -> None:
    doc = definition().model_dump(by_alias=True)
    longest = validate_definition({**doc, "delay": "3650d"})
    assert isinstance(longest, TriggerDefinition)
    assert run(spiking(), spike(), longest).held == 2  # held for ten years, not sent


# --- decision features are the definition's own ------------------------------------------


def test_decision_features_do_not_depend_on_other_definitions() -> None:
    other = definition(id="other_first", condition=ANY_AMOUNT)
    alone = run(spiking(), spike(), definition())
    together = run(spiking(), spike(), other, definition())
    assert [d.trigger_id for d in together.decisions] == ["other_first", "policy_spike"]
    assert together.decisions[1].features == alone.decisions[0].features == SPIKE_FEATURES
