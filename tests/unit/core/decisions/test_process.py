"""``process``: from one event to decisions and commands, with dedup, age, cooldown, consent."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from models.online import anomaly
from schemas.commands import Priority, SendCommunication
from schemas.events import Channel, Event
from schemas.ids import command_id, decision_id
from schemas.records import Outcome, SuppressionReason
from streams.core.decisions.process import process
from streams.core.decisions.result import Result
from streams.core.rendering import SMS_LIMIT, default_catalogue
from streams.core.state.record import UserState
from streams.core.triggers.catalogue import default_definitions
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
MAX_AGE = 2 * 86_400.0
WEEK = timedelta(days=7)


def run(state: UserState, event: Event, *, now: datetime | None = None) -> Result:
    """Process ``event`` as a live worker would (``now`` is the event time unless told)."""
    return process(
        state,
        event,
        default_definitions(),
        default_catalogue(),
        now=event.occurred_at if now is None else now,
        max_event_age_seconds=MAX_AGE,
    )


def spiking_user(*profile_events: Event) -> UserState:
    """A $20-a-day spender (with the given profile updates) just before the spike day."""
    return fold([*profile_events, *spike_history(USER)])


def clone(state: UserState) -> UserState:
    return UserState.from_bytes(state.to_bytes())


def spike(event_id: str = "spike-1", offset: timedelta = timedelta()) -> Event:
    """A $400 debit on the spike day: this week far above the baseline."""
    return transaction(USER, spike_at(offset), "400.00", event_id=event_id)


ADA = profile(USER, START - timedelta(days=1), first_name="Ada")


# --- firing ------------------------------------------------------------------------------


def test_fired_decision_sends_sms_and_email_with_deterministic_ids() -> None:
    state = spiking_user(ADA)
    event = spike()
    first = run(clone(state), event)
    second = run(clone(state), event)

    assert [d.outcome for d in first.decisions] == [Outcome.FIRED]
    assert [c.channel for c in first.commands] == [Channel.SMS, Channel.EMAIL]
    assert [c.model_dump() for c in first.commands] == [c.model_dump() for c in second.commands]
    assert [d.model_dump() for d in first.decisions] == [d.model_dump() for d in second.decisions]

    expected_decision = decision_id("spending_spike", USER, "spike-1")
    assert first.decisions[0].decision_id == expected_decision
    assert [c.command_id for c in first.commands] == [
        command_id("spending_spike", USER, "spike-1", "sms"),
        command_id("spending_spike", USER, "spike-1", "email"),
    ]
    assert first.decisions[0].command_ids == [c.command_id for c in first.commands]
    assert len({c.command_id for c in first.commands} | {expected_decision}) == 3
    for cmd in first.commands:
        assert uuid.UUID(cmd.command_id).version == 5
        assert cmd.decision_id == expected_decision
        assert cmd.source_event_id == "spike-1"
        assert cmd.user_id == USER


def test_ids_differ_between_users_and_events() -> None:
    a = run(spiking_user(), spike("spike-a")).commands[0].command_id
    b = run(spiking_user(), spike("spike-b")).commands[0].command_id
    assert a != b
    assert a == command_id("spending_spike", USER, "spike-a", "sms")
    # The same event id for another user is another command.
    other = "user-2"
    spiked = transaction(other, spike_at(), "400.00", event_id="spike-a")
    c = run(fold(spike_history(other)), spiked).commands[0].command_id
    assert c == command_id("spending_spike", other, "spike-a", "sms")
    assert c not in (a, b)


def test_fired_command_content() -> None:
    state = spiking_user(ADA)
    event = spike()
    result = run(state, event)
    sms, email = result.commands
    assert isinstance(sms, SendCommunication)
    assert sms.trigger_id == "spending_spike"
    assert sms.template_id == "spending_spike.sms"
    assert email.template_id == "spending_spike.email"
    assert sms.template_version == email.template_version == 2
    assert sms.priority == Priority.MEDIUM
    assert sms.created_at == sms.send_at == event.occurred_at  # event time, not wall-clock
    assert sms.subject is None
    assert email.subject == "Ada, your spending is up 271% this week"
    assert sms.body == (
        "Hi Ada, your spending this week is 271% above your usual ($520.00 vs $140.00). "
        "Open the app to see where it went."
    )
    assert sms.variables == {
        "user_name": "Ada",
        "spend_week_change_pct": "271",
        "spend_week": "$520.00",
        "spend_week_baseline": "$140.00",
    }
    assert sms.reason == result.decisions[0].detail
    assert state.last_fired == {"spending_spike": event.occurred_at.timestamp()}


def test_decision_record_carries_the_features() -> None:
    result = run(spiking_user(), transaction(USER, spike_at(), "48.00", event_id="edge"))
    (decision,) = result.decisions
    assert decision.features == {
        "spend_week": 168.0,
        "spend_week_baseline": 140.0,
        "spend_week_change_pct": 20.0,
        # Steady $20 days: no spread, so the deviation is floored at 1 % of the mean ($1.40).
        "spend_week_deviation": 0.0,
        "spend_week_zscore": 20.0,
    }
    assert decision.trigger_id == "spending_spike"
    assert decision.reason is None
    assert decision.source_event_id == "edge"
    assert decision.event_type == "transaction"
    assert decision.occurred_at == spike_at()
    assert "$168.00" in decision.detail and "20.0%" in decision.detail
    assert decision.detail == (
        "Spending spike: transaction_direction debit = debit; "
        "spend_week_change_pct 20.0% ≥ 20%; spend_week $168.00 ≥ $100.00; "
        "spend_week_zscore 20 ≥ 2."
    )


def test_no_match_means_no_decision() -> None:
    state = spiking_user()
    result = run(state, transaction(USER, spike_at(), "47.86"))
    # (The user's first event in a new hour also sends their analytics snapshot, and the
    # first since their history was folded their alert profile.)
    assert result.alert_profile is not None
    # (And every debit is scored by the user's anomaly model. This user always spent the
    # same, so the amount stands out; an amount alone is not unusual_transaction's to tell.)
    assert anomaly.last_score(state.anomaly) == (result.anomaly_score, "amount")
    assert result.anomaly_score is not None and result.anomaly_score > 0.5
    assert replace(result, analytics=None, alert_profile=None, anomaly_score=None) == Result(
        applied=True, evaluated=True
    )


def test_income_drop_fires_through_process() -> None:
    state = fold(income_history(USER, "0"))
    result = run(state, transaction(USER, JUNE, "5.00", event_id="june-1"))
    assert [(d.trigger_id, d.outcome) for d in result.decisions] == [("income_drop", Outcome.FIRED)]
    assert result.decisions[0].decision_id == decision_id("income_drop", USER, "month:2026-05")
    assert [c.priority for c in result.commands] == [Priority.HIGH, Priority.HIGH]
    assert "2026-05" in result.commands[0].body


# --- duplicates and stale events ---------------------------------------------------------


def test_duplicate_event_is_not_applied_and_decides_nothing() -> None:
    state = spiking_user()
    event = spike()
    assert run(state, event).decisions
    before = state.to_bytes()
    again = run(state, event)
    assert again == Result(applied=False, evaluated=False, decisions=[], commands=[])
    assert state.to_bytes() == before


@pytest.mark.parametrize(
    ("age", "evaluated"),
    [
        (timedelta(seconds=MAX_AGE), True),  # exactly the limit is still evaluated
        (timedelta(seconds=MAX_AGE + 1), False),
        (timedelta(days=30), False),
        (-timedelta(hours=1), True),  # from the near future (clock skew)
    ],
)
def test_old_events_update_state_but_decide_nothing(age: timedelta, evaluated: bool) -> None:
    state = spiking_user()
    event = spike()
    result = run(state, event, now=event.occurred_at + age)
    assert result.applied is True
    assert result.evaluated is evaluated
    assert bool(result.decisions) is evaluated
    # A firing dated after ``now`` is held until its time, not sent early.
    sent_now = evaluated and age >= timedelta(0)
    assert bool(result.commands) is sent_now
    assert result.held == (2 if evaluated and not sent_now else 0)
    assert state.has_seen(event.event_id)
    assert state.daily_spend[max(state.daily_spend)] == 40_000  # the $400 on the spike day
    assert ("spending_spike" in state.last_fired) is evaluated


# --- cooldown ----------------------------------------------------------------------------


def test_second_match_within_seven_days_is_suppressed_by_cooldown() -> None:
    state = spiking_user()
    first = run(state, spike("spike-1"))
    assert first.decisions[0].outcome is Outcome.FIRED

    second = run(state, spike("spike-2", timedelta(days=1)))
    (decision,) = second.decisions
    assert decision.outcome is Outcome.SUPPRESSED
    assert decision.reason is SuppressionReason.COOLDOWN
    assert decision.command_ids == []
    assert second.commands == []
    assert "1.0 days from the last firing" in decision.detail
    assert decision.features["spend_week"] > 0
    # The week now holds both $400 debits (less the day that left the window).
    assert decision.features == {
        "spend_week": 900.0,
        "spend_week_baseline": 140.0,
        "spend_week_change_pct": 542.857142857,
        "spend_week_deviation": 0.0,
        "spend_week_zscore": 542.857142857,
    }
    # A suppressed match does not restart the cooldown.
    assert state.last_fired == {"spending_spike": spike_at().timestamp()}


@pytest.mark.parametrize(
    ("after", "outcome"),
    [
        (WEEK - timedelta(seconds=1), Outcome.SUPPRESSED),
        (WEEK, Outcome.FIRED),
        (WEEK + timedelta(days=1), Outcome.FIRED),
    ],
)
def test_cooldown_ends_after_seven_days(after: timedelta, outcome: Outcome) -> None:
    state = spiking_user()
    assert run(state, spike("spike-1")).commands
    # The usual $20 on the six days after; the baseline now holds the spike's week (mean
    # $235, deviation $164.5), so $480 (a week of $600, 2.2 deviations out) is a spike
    # again, and under large_transaction's $500, so only the spike matches.
    fold([transaction(USER, spike_at(timedelta(days=d)), "20.00") for d in range(1, 7)], state)
    later = transaction(USER, spike_at(after), "480.00", event_id="spike-2")
    result = run(state, later)
    assert [d.outcome for d in result.decisions] == [outcome]
    assert len(result.commands) == (2 if outcome is Outcome.FIRED else 0)


def test_late_event_just_before_a_firing_is_still_in_cooldown() -> None:
    state = spiking_user()
    assert run(state, spike("spike-1")).commands
    late = transaction(USER, spike_at(-timedelta(hours=1)), "30.00", event_id="late-1")
    result = run(state, late, now=spike_at(timedelta(minutes=5)))
    assert [d.reason for d in result.decisions] == [SuppressionReason.COOLDOWN]
    assert result.commands == []
    assert state.last_fired == {"spending_spike": spike_at().timestamp()}


# --- consent -----------------------------------------------------------------------------


def test_sms_consent_withdrawn_sends_email_only() -> None:
    state = spiking_user(ADA, profile(USER, START, consent={"sms": False}))
    result = run(state, spike())
    (decision,) = result.decisions
    assert decision.outcome is Outcome.FIRED
    assert [c.channel for c in result.commands] == [Channel.EMAIL]
    assert decision.command_ids == [command_id("spending_spike", USER, "spike-1", "email")]


def test_consent_for_an_unused_channel_changes_nothing() -> None:
    state = spiking_user(profile(USER, START, consent={"push": False, "email": True}))
    assert [c.channel for c in run(state, spike()).commands] == [Channel.SMS, Channel.EMAIL]


def test_no_consent_on_any_channel_suppresses() -> None:
    state = spiking_user(profile(USER, START, consent={"sms": False, "email": False}))
    result = run(state, spike())
    (decision,) = result.decisions
    assert decision.outcome is Outcome.SUPPRESSED
    assert decision.reason is SuppressionReason.NO_CONSENT
    assert decision.command_ids == []
    assert result.commands == []
    assert "withdrawn consent on every channel" in decision.detail
    assert "spending_spike" not in state.last_fired  # nothing sent: no cooldown starts


def test_consent_withdrawn_in_two_updates_still_suppresses() -> None:
    state = spiking_user(
        profile(USER, START, consent={"sms": False}),
        profile(USER, START + timedelta(hours=1), consent={"email": False}),
    )
    result = run(state, spike())
    assert result.decisions[0].reason is SuppressionReason.NO_CONSENT
    assert result.commands == [] and result.decisions[0].command_ids == []


def test_consent_survives_the_changelog_round_trip() -> None:
    state = clone(spiking_user(profile(USER, START, consent={"sms": False})))
    assert [c.channel for c in run(state, spike()).commands] == [Channel.EMAIL]


# --- rendering through process -----------------------------------------------------------


@pytest.mark.parametrize(
    ("first_name", "greeted"),
    [
        ("Ada", "Ada"),
        ("Maximiliana-Theodora", "Maximiliana-Theodora"),
        # Longer than user_name's 20 characters: the fallback, never a cut message.
        ("Wolfeschlegelsteinhausenbergerdorff-Xenophon-Bartholomew-Ann", "there"),
    ],
)
def test_rendered_sms_fits_and_names_the_user_and_the_change(first_name: str, greeted: str) -> None:
    state = spiking_user(profile(USER, START, first_name=first_name))
    sms = run(state, spike()).commands[0]
    assert sms.channel is Channel.SMS
    assert len(sms.body) <= SMS_LIMIT
    assert sms.body.startswith(f"Hi {greeted}, ")
    assert not sms.body.endswith("...")
    assert "271%" in sms.body


@pytest.mark.parametrize("name_update", [None, ""])
def test_user_without_a_first_name_is_called_there(name_update: str | None) -> None:
    events = [] if name_update is None else [profile(USER, START, first_name=name_update)]
    state = spiking_user(*events)
    sms, email = run(state, spike()).commands
    assert sms.body.startswith("Hi there, your spending")
    assert email.subject == "there, your spending is up 271% this week"
    assert email.body.startswith("<p>Hi there,</p>\n")


def test_email_escapes_a_hostile_first_name() -> None:
    state = spiking_user(profile(USER, START, first_name='<i onclick="f()">'))
    sms, email = run(state, spike()).commands
    assert "<i" not in email.body
    assert "&lt;i onclick=&quot;f()&quot;&gt;" in email.body
    # SMS is plain text: no tag can form in it, the rest of the name is shown.
    assert sms.body.startswith('Hi i onclick="f()",')
