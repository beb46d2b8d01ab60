"""``status: shadow``: judged as if active, recorded as ``shadow``, never sent, and live
sends, caps, cooldowns, episodes and experiments are as if the trigger did not exist."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.ids import decision_id
from schemas.records import Outcome, SuppressionReason, WouldHave
from schemas.triggers import TriggerDefinition
from streams.core.decisions.process import process
from streams.core.decisions.result import Result
from streams.core.decisions.send_policy import SendPolicy
from streams.core.rendering import default_catalogue
from streams.core.state.record import UserState
from tests.unit.core.decisions.test_policy import (
    MAX_AGE,
    USER,
    at,
    definition,
    run,
    spike,
    spiking,
)
from tests.unit.factories import JUNE, fold, income_history, transaction

#: One message a channel a day: the caps decide who sends.
ONE_A_DAY = SendPolicy(cap_per_channel_day=1, cap_per_channel_week=10, quiet_start=0, quiet_end=0)


def run_with(policy: SendPolicy, state: UserState, *definitions: TriggerDefinition) -> Result:
    event = spike()
    return process(
        state, event, definitions, default_catalogue(), now=event.occurred_at,
        max_event_age_seconds=MAX_AGE, policy=policy,
    )  # fmt: skip


@pytest.mark.parametrize(("written", "read"), [
    ("shadow", "shadow"), ("testing", "shadow"), ("active", "active"), ("paused", "paused"),
])  # fmt: skip
def test_status_is_read_with_testing_as_the_older_name_of_shadow(written: str, read: str) -> None:
    assert definition(status=written).status == read


def test_a_shadow_match_is_recorded_with_what_it_would_have_been_and_sends_nothing() -> None:
    state = spiking()
    result = run(state, spike(), definition(status="shadow"))

    [decision] = result.decisions
    assert (decision.outcome, decision.reason) == (Outcome.SUPPRESSED, SuppressionReason.SHADOW)
    assert decision.would_have == WouldHave(outcome=Outcome.FIRED, channels=["sms", "email"])
    assert decision.detail.startswith("Policy spike: transaction_direction debit = debit;")
    assert "Shadow, nothing sent: would have sent on sms, email." in decision.detail
    assert decision.decision_id == decision_id("policy_spike", USER, "shadow:spike-1")
    assert decision.decision_id != decision_id("policy_spike", USER, "spike-1")
    assert (result.commands, decision.command_ids, result.held, result.sent_hours) == (
        [],
        [],
        0,
        [],
    )
    assert state.sends == {} and state.pending == [] and state.send_hours is None
    assert state.last_fired == {"shadow:policy_spike": spike().occurred_at.timestamp()}


@pytest.mark.parametrize(("hours", "would_have", "because"), [
    (1, Outcome.SUPPRESSED, SuppressionReason.COOLDOWN),  # its own would-be cooldown
    (6 * 24, Outcome.SUPPRESSED, SuppressionReason.COOLDOWN),
    (7 * 24 + 1, Outcome.FIRED, None),  # 7 d later: it would have fired again
])  # fmt: skip
def test_a_shadow_trigger_keeps_its_own_would_be_cooldown(
    hours: float, would_have: Outcome, because: SuppressionReason | None
) -> None:
    state = spiking()
    shadow = definition(status="shadow", condition={"feature": "event_amount", "gte": 1})
    run(state, spike(), shadow)
    later = run(state, transaction(USER, at(hours), "10.00"), shadow)
    [decision] = later.decisions
    assert decision.reason is SuppressionReason.SHADOW
    assert decision.would_have is not None
    assert (decision.would_have.outcome, decision.would_have.reason) == (would_have, because)


def test_promoted_to_active_it_fires_at_once_its_shadow_started_no_live_cooldown() -> None:
    state = spiking()
    anything = {"feature": "event_amount", "gte": 1}
    run(state, spike(), definition(status="shadow", condition=anything))
    live = run(state, transaction(USER, at(2), "10.00"), definition(condition=anything))
    assert [d.outcome for d in live.decisions] == [Outcome.FIRED]
    assert len(live.commands) == 2
    # Both memories kept, each its own.
    assert state.last_fired == {
        "shadow:policy_spike": at(0).timestamp(), "policy_spike": at(2).timestamp(),
    }  # fmt: skip


def test_a_shadow_trigger_reads_the_live_cooldown_of_its_last_real_firing() -> None:
    state = spiking()
    anything = {"feature": "event_amount", "gte": 1}
    run(state, spike(), definition(condition=anything))  # really sent
    shadowed = run(state, transaction(USER, at(2), "10.00"), definition(
        status="shadow", condition=anything))  # fmt: skip
    [decision] = shadowed.decisions
    assert decision.would_have is not None
    assert decision.would_have.reason is SuppressionReason.COOLDOWN
    assert state.last_fired == {"policy_spike": at(0).timestamp()}  # unchanged


@pytest.mark.parametrize(("other", "live_outcome", "live_reason"), [
    # Both active: the higher priority takes the day's only slots.
    ("active", Outcome.SUPPRESSED, SuppressionReason.LOWER_PRIORITY),
    # In shadow it takes none: the live trigger sends as if it did not exist.
    ("shadow", Outcome.FIRED, None),
])  # fmt: skip
def test_a_shadow_trigger_takes_no_slot_from_a_live_one(
    other: str, live_outcome: Outcome, live_reason: SuppressionReason | None
) -> None:
    higher = definition(id="higher_spike", priority="critical", status=other)
    lower = definition(id="lower_spike", priority="medium")
    result = run_with(ONE_A_DAY, spiking(), higher, lower)
    by_id = {d.trigger_id: d for d in result.decisions}
    assert (by_id["lower_spike"].outcome, by_id["lower_spike"].reason) == (
        live_outcome,
        live_reason,
    )
    assert {c.trigger_id for c in result.commands} == (
        {"lower_spike"} if other == "shadow" else {"higher_spike"}
    )
    if other == "shadow":
        assert by_id["higher_spike"].would_have == WouldHave(
            outcome=Outcome.FIRED, channels=["sms", "email"]
        )


def test_a_shadow_trigger_sees_the_caps_live_sends_took() -> None:
    # The live one is more important: it sends first, and the shadow would have been capped.
    live = definition(id="live_spike", priority="critical")
    shadow = definition(id="shadow_spike", priority="medium", status="shadow")
    result = run_with(ONE_A_DAY, spiking(), live, shadow)
    by_id = {d.trigger_id: d for d in result.decisions}
    assert by_id["live_spike"].outcome is Outcome.FIRED
    assert by_id["shadow_spike"].would_have is not None
    assert by_id["shadow_spike"].would_have.reason is SuppressionReason.LOWER_PRIORITY


def test_a_shadow_closed_month_leaves_the_month_unjudged_for_the_live_trigger() -> None:
    drop = {
        "id": "policy_drop",
        "evaluate_on": {"events": ["transaction"]},
        "cause": "closed_month",
        "thresholds": {},
        "condition": {"feature": "income_drop_pct", "gte": 15},
    }
    state = fold(income_history(USER, "2000.00"))
    first = run(state, transaction(USER, JUNE, "5.00"), definition(status="shadow", **drop))
    [shadowed] = first.decisions
    assert shadowed.decision_id == decision_id("policy_drop", USER, "shadow:month:2026-05")
    assert "policy_drop" not in state.evaluated
    # Still in shadow: May is judged once.
    again = run(state, transaction(USER, JUNE + timedelta(hours=1), "5.00"), definition(
        status="shadow", **drop))  # fmt: skip
    assert again.decisions == []
    # Promoted: the live trigger judges May, under the live id.
    live = run(state, transaction(USER, JUNE + timedelta(hours=2), "5.00"), definition(**drop))
    [decision] = live.decisions
    assert decision.outcome is Outcome.FIRED
    assert decision.decision_id == decision_id("policy_drop", USER, "month:2026-05")


def test_the_shadow_memory_survives_the_changelog() -> None:
    state = spiking()
    run(state, spike(), definition(status="shadow"))
    restored = UserState.from_bytes(state.to_bytes())
    assert restored.last_fired == state.last_fired
