"""The policy all triggers share: frequency caps, quiet hours, arbitration, opt-out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.events import Event
from schemas.records import Outcome, SuppressionReason
from schemas.triggers import TriggerDefinition
from streams.core.decisions.process import process
from streams.core.decisions.release import release_due
from streams.core.decisions.result import Result
from streams.core.decisions.send_policy import SendPolicy, outside_quiet_hours, user_zone
from streams.core.rendering import default_catalogue
from streams.core.state.record import UserState
from tests.unit.factories import event, fold, profile, transaction

USER = "user-1"
#: 14:00 UTC on a Wednesday: daytime in Europe and the Americas.
NOON = datetime(2026, 3, 11, 14, tzinfo=UTC)
POLICY = SendPolicy(cap_per_channel_day=2, cap_per_channel_week=3, quiet_start=21, quiet_end=8)


def every_debit(
    trigger_id: str = "every_debit", priority: str = "medium", **changes: Any
) -> TriggerDefinition:
    """A definition that matches every debit, on SMS only, without a cooldown."""
    return TriggerDefinition.model_validate(
        {
            "id": trigger_id,
            "name": trigger_id,
            "type": "behavioral",
            "category": "financial",
            "evaluate_on": {"events": ["transaction"]},
            "condition": {"feature": "transaction_direction", "eq": "debit"},
            "priority": priority,
            "channels": [{"channel": "sms", "template": "spending_spike.sms"}],
            **changes,
        }
    )


def run(
    state: UserState, item: Event, *definitions: TriggerDefinition, policy: SendPolicy = POLICY
) -> Result:
    return process(
        state, item, definitions, default_catalogue(),
        now=item.occurred_at, max_event_age_seconds=365 * 86_400, policy=policy,
    )  # fmt: skip


def outcomes(result: Result) -> list[tuple[str, Outcome, SuppressionReason | None]]:
    return [(d.trigger_id, d.outcome, d.reason) for d in result.decisions]


# --- frequency caps ----------------------------------------------------------------------


def test_daily_cap_counts_sends_of_every_trigger() -> None:
    state = UserState()
    a, b = every_debit("first_trigger"), every_debit("second_trigger")
    first = run(state, transaction(USER, NOON, "5.00"), a)
    second = run(state, transaction(USER, NOON + timedelta(hours=1), "5.00"), b)
    third = run(state, transaction(USER, NOON + timedelta(hours=2), "5.00"), a)
    assert [len(r.commands) for r in (first, second, third)] == [1, 1, 0]
    assert outcomes(third) == [
        ("first_trigger", Outcome.SUPPRESSED, SuppressionReason.FREQUENCY_CAP)
    ]
    assert "sms at the frequency cap" in third.decisions[0].detail


def test_the_day_cap_is_a_rolling_24_hours_and_the_week_cap_holds_after_it() -> None:
    state = UserState()
    d = every_debit()
    sent = [
        len(run(state, transaction(USER, NOON + timedelta(hours=h), "5.00"), d).commands)
        for h in (0, 1, 23, 25, 49, 60, 24 * 8)
    ]
    # 2 on day one; at 23 h the day is still full; at 25 h one slot is back (the 0 h
    # send left the window) and the third send of the week fills the week cap (3);
    # 49 h and 60 h: week full; eight days later the first sends have left the week.
    assert sent == [1, 1, 0, 1, 0, 0, 1]


def test_a_send_held_for_later_does_not_erase_the_sends_the_caps_count() -> None:
    """A delayed firing used to prune the ledger from its own (future) send time."""
    state = UserState()
    now_ = every_debit("now_one")
    later = every_debit("later_one", delay="30d")
    sent = [len(run(state, transaction(USER, NOON + timedelta(minutes=m), "5.00"), d).commands)
            for m, d in ((0, now_), (30, now_))]  # fmt: skip
    assert sent == [1, 1]
    assert run(state, transaction(USER, NOON + timedelta(hours=1), "5.00"), later).held == 1
    # Both of today's sends still count: the day is full for an immediate trigger.
    third = run(state, transaction(USER, NOON + timedelta(hours=2), "5.00"), now_)
    assert outcomes(third) == [("now_one", Outcome.SUPPRESSED, SuppressionReason.FREQUENCY_CAP)]


# --- priority arbitration ----------------------------------------------------------------


def test_the_higher_priority_takes_the_last_slot_and_the_other_is_told_why() -> None:
    state = fold([transaction(USER, NOON - timedelta(hours=2), "1.00")])
    run(state, transaction(USER, NOON - timedelta(hours=1), "5.00"), every_debit("warmup"))
    low, high = every_debit("low_one", "low"), every_debit("high_one", "critical")
    result = run(state, transaction(USER, NOON, "5.00"), low, high)
    assert outcomes(result) == [
        ("high_one", Outcome.FIRED, None),
        ("low_one", Outcome.SUPPRESSED, SuppressionReason.LOWER_PRIORITY),
    ]
    assert [c.trigger_id for c in result.commands] == ["high_one"]


def test_with_room_for_both_both_fire_most_important_first() -> None:
    result = run(
        UserState(),
        transaction(USER, NOON, "5.00"),
        every_debit("b_low", "low"),
        every_debit("a_high", "high"),
    )
    assert [d.trigger_id for d in result.decisions] == ["a_high", "b_low"]
    assert all(d.outcome is Outcome.FIRED for d in result.decisions)
    assert [c.trigger_id for c in result.commands] == ["a_high", "b_low"]


# --- quiet hours -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "occurred", "send_at"),
    [
        # 03:00 UTC is 22:00 in New York (EST): moved to 08:00 there, 13:00 UTC.
        (
            "America/New_York",
            datetime(2026, 3, 5, 3, tzinfo=UTC),
            datetime(2026, 3, 5, 13, tzinfo=UTC),
        ),
        # 06:30 UTC is 07:30 in Paris: moved to 08:00 Paris, 07:00 UTC, the same day.
        (
            "Europe/Paris",
            datetime(2026, 3, 5, 6, 30, tzinfo=UTC),
            datetime(2026, 3, 5, 7, tzinfo=UTC),
        ),
        # 14:00 UTC is 23:00 in Tokyo: moved to 08:00 the next day there, 23:00 UTC.
        ("Asia/Tokyo", datetime(2026, 3, 5, 14, tzinfo=UTC), datetime(2026, 3, 5, 23, tzinfo=UTC)),
        # Daytime stays put; 21:00 sharp is quiet, 08:00 sharp is not.
        (
            "Europe/Paris",
            datetime(2026, 3, 5, 12, tzinfo=UTC),
            datetime(2026, 3, 5, 12, tzinfo=UTC),
        ),
        ("UTC", datetime(2026, 3, 5, 21, tzinfo=UTC), datetime(2026, 3, 6, 8, tzinfo=UTC)),
        ("UTC", datetime(2026, 3, 5, 8, tzinfo=UTC), datetime(2026, 3, 5, 8, tzinfo=UTC)),
        ("Not/AZone", datetime(2026, 3, 5, 23, tzinfo=UTC), datetime(2026, 3, 6, 8, tzinfo=UTC)),
    ],
)
def test_quiet_hours_move_sends_to_the_morning_in_the_users_zone(
    zone: str, occurred: datetime, send_at: datetime
) -> None:
    assert outside_quiet_hours(occurred, user_zone(zone), POLICY) == send_at


def test_a_quiet_hours_firing_is_delayed_not_dropped() -> None:
    state = fold([profile(USER, NOON - timedelta(days=1), timezone="America/New_York")])
    late = datetime(2026, 3, 12, 3, tzinfo=UTC)  # 23:00 in New York (EDT from 8 March)
    result = run(state, transaction(USER, late, "5.00"), every_debit())
    morning = datetime(2026, 3, 12, 12, tzinfo=UTC)  # 08:00 EDT
    assert (result.commands, result.held) == ([], 1)
    assert result.decisions[0].outcome is Outcome.FIRED
    assert "quiet hours" in result.decisions[0].detail
    assert release_due(USER, state, morning - timedelta(minutes=1)).commands == []
    (command,) = release_due(USER, state, morning).commands
    assert command.created_at == late
    assert command.send_at == morning
    assert command.command_id in result.decisions[0].command_ids
    assert release_due(USER, state, morning + timedelta(days=1)).commands == []  # only once


def test_an_opt_out_while_a_send_waits_cancels_it_with_a_decision() -> None:
    state = fold([profile(USER, NOON - timedelta(days=1), timezone="America/New_York")])
    late = datetime(2026, 3, 12, 3, tzinfo=UTC)
    run(state, transaction(USER, late, "5.00"), every_debit())
    (held,) = state.pending
    opt_out = event(USER, late + timedelta(hours=1), {
        "type": "comms_outcome", "command_id": held["command_id"], "outcome": "opted_out",
        "channel": held["channel"],
    })  # fmt: skip
    run(state, opt_out, every_debit())
    released = release_due(USER, state, datetime(2026, 3, 12, 12, tzinfo=UTC))
    assert released.commands == [] and state.pending == []
    (cancelled,) = released.decisions
    assert (cancelled.outcome, cancelled.reason) == (
        Outcome.SUPPRESSED,
        SuppressionReason.NO_CONSENT,
    )
    assert cancelled.trigger_id == held["trigger_id"]


# --- opt-out -----------------------------------------------------------------------------


def test_an_opted_out_outcome_stops_that_channel_only() -> None:
    both = every_debit(channels=[
        {"channel": "sms", "template": "spending_spike.sms"},
        {"channel": "email", "template": "spending_spike.email"},
    ])  # fmt: skip
    state = UserState()
    opt_out = event(
        USER,
        NOON,
        {"type": "comms_outcome", "command_id": "c-1", "outcome": "opted_out", "channel": "sms"},
    )
    assert run(state, opt_out).decisions == []
    assert state.profile["consent"] == {"sms": False}
    result = run(state, transaction(USER, NOON + timedelta(minutes=5), "5.00"), both)
    assert [c.channel.value for c in result.commands] == ["email"]
    email_out = event(
        USER,
        NOON + timedelta(minutes=6),
        {"type": "comms_outcome", "command_id": "c-2", "outcome": "opted_out", "channel": "email"},
    )
    run(state, email_out)
    later = run(state, transaction(USER, NOON + timedelta(minutes=7), "5.00"), both)
    assert outcomes(later) == [("every_debit", Outcome.SUPPRESSED, SuppressionReason.NO_CONSENT)]
