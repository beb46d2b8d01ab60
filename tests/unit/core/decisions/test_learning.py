"""``process`` and the send-time model: sends counted, opens credited, ``send_at: best_time``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from models.online import send_time
from schemas.events import Event
from schemas.ids import command_id
from schemas.records import Outcome, SuppressionReason
from schemas.triggers import TriggerDefinition
from streams.core.decisions.process import process
from streams.core.decisions.result import Result
from streams.core.decisions.send_policy import SendPolicy, is_quiet
from streams.core.rendering import default_catalogue
from streams.core.state.record import UserState
from tests.unit.factories import event, fold, profile, transaction

USER = "user-1"
HOUR = timedelta(hours=1)
#: 14:00 UTC on a Wednesday (10:00 in New York, EDT; 23:00 in Tokyo).
NOON = datetime(2026, 3, 11, 14, tzinfo=UTC)
POLICY = SendPolicy(cap_per_channel_day=2, cap_per_channel_week=5, quiet_start=21, quiet_end=8)
YEAR = 365 * 86_400.0


def every_debit(trigger_id: str = "every_debit", **changes: Any) -> TriggerDefinition:
    """A definition that matches every debit, on SMS only unless told, without a cooldown."""
    return TriggerDefinition.model_validate(
        {
            "id": trigger_id,
            "name": trigger_id,
            "type": "behavioral",
            "category": "financial",
            "evaluate_on": {"events": ["transaction"]},
            "condition": {"feature": "transaction_direction", "eq": "debit"},
            "priority": "medium",
            "channels": [{"channel": "sms", "template": "spending_spike.sms"}],
            **changes,
        }
    )


BOTH = [
    {"channel": "sms", "template": "spending_spike.sms"},
    {"channel": "email", "template": "spending_spike.email"},
]


def run(
    state: UserState,
    item: Event,
    *definitions: TriggerDefinition,
    now: datetime | None = None,
    max_age: float = YEAR,
) -> Result:
    return process(
        state, item, definitions, default_catalogue(),
        now=now or item.occurred_at, max_event_age_seconds=max_age, policy=POLICY,
    )  # fmt: skip


def outcome(command: str, what: str, at: datetime, event_id: str | None = None) -> Event:
    return event(
        USER, at, {"type": "comms_outcome", "command_id": command, "outcome": what},
        event_id=event_id,
    )  # fmt: skip


def clone(state: UserState) -> UserState:
    return UserState.from_bytes(state.to_bytes())


def held_send_at(state: UserState, channel: str = "sms") -> datetime:
    """The send time of the command held on ``channel``."""
    [held] = [c for c in state.pending if c["channel"] == channel]
    return datetime.fromisoformat(held["send_at"])


# --- sends counted, opens credited --------------------------------------------------------


@pytest.mark.parametrize(("zone", "local_hour"), [(None, 14), ("America/New_York", 10)])
def test_an_open_of_a_message_a_firing_sent_credits_its_local_hour(
    zone: str | None, local_hour: int
) -> None:
    state = fold([profile(USER, NOON - HOUR, timezone=zone)] if zone else [])
    fired = run(state, transaction(USER, NOON, "5.00", event_id="d-1"), every_debit())
    sms = command_id("every_debit", USER, "d-1", "sms")
    assert [c.command_id for c in fired.commands] == [sms]
    assert fired.sent_hours == [local_hour]
    assert state.send_hours is not None
    assert state.send_hours[send_time.COUNTS] == {str(local_hour): [1, 0]}

    opened = run(state, outcome(sms, "opened", NOON + HOUR))
    assert opened.opened_hours == [local_hour]
    assert state.send_hours[send_time.COUNTS] == {str(local_hour): [1, 1]}
    # A click after the open, an outcome of a command never sent, a delivery: nothing more.
    later = [
        run(state, outcome(sms, "clicked", NOON + 2 * HOUR)),
        run(state, outcome("not-ours", "opened", NOON + 2 * HOUR)),
        run(state, outcome(sms, "delivered", NOON + 2 * HOUR)),
    ]
    assert [r.opened_hours for r in later] == [[], [], []]
    assert state.send_hours[send_time.COUNTS] == {str(local_hour): [1, 1]}


def test_an_old_outcome_is_credited_though_not_evaluated() -> None:
    # Outcomes arrive late (an email opened days after): the hour learns all the same.
    state = UserState()
    run(state, transaction(USER, NOON, "5.00", event_id="d-1"), every_debit())
    sms = command_id("every_debit", USER, "d-1", "sms")
    late = run(state, outcome(sms, "opened", NOON + HOUR), now=NOON + 10 * 24 * HOUR,
               max_age=86_400.0)  # fmt: skip
    assert (late.evaluated, late.opened_hours) == (False, [14])


def test_a_replayed_outcome_is_not_credited_twice() -> None:
    state = UserState()
    run(state, transaction(USER, NOON, "5.00", event_id="d-1"), every_debit())
    sms = command_id("every_debit", USER, "d-1", "sms")
    opened = outcome(sms, "opened", NOON + HOUR, event_id="o-1")
    assert run(state, opened).opened_hours == [14]
    again = run(state, opened)
    assert (again.applied, again.opened_hours) == (False, [])
    assert state.send_hours is not None and state.send_hours[send_time.COUNTS]["14"] == [1, 1]


def test_without_a_send_an_outcome_changes_nothing() -> None:
    state = UserState()
    result = run(state, outcome("c-1", "opened", NOON))
    assert result.opened_hours == [] and state.send_hours is None


# --- send_at: best_time -------------------------------------------------------------------


def learned(best: int, hours: range = range(24), zone: str | None = None) -> UserState:
    """A user whose every hour was tried 39 times and opened never, but ``best`` always."""
    state = fold([profile(USER, NOON - 48 * HOUR, timezone=zone)] if zone else [])
    state.send_hours = [{str(h): [39, 39 if h == best else 0] for h in hours}, []]
    return state


def test_best_time_holds_the_message_for_the_learned_hour() -> None:
    state = learned(best=17)
    definition = every_debit(send_at="best_time", max_delay="12h")
    result = run(state, transaction(USER, NOON, "5.00", event_id="d-1"), definition)
    assert [d.outcome for d in result.decisions] == [Outcome.FIRED]
    assert (result.held, result.commands, result.sent_hours) == (1, [], [17])
    assert held_send_at(state) == NOON.replace(hour=17)
    assert "sent at its best time, 17:00 local (learned from 936 sends and 39 opens" in (
        result.decisions[0].detail
    )
    assert state.sends["sms"] == [NOON.replace(hour=17).timestamp()]  # the caps count it then
    assert state.send_hours is not None
    assert state.send_hours[send_time.COUNTS]["17"] == [20, 19]  # the 40th send: halved


@pytest.mark.parametrize(
    ("best", "max_delay", "allowed"),
    [
        # The learned hour is within reach: it is chosen.
        (17, "12h", range(14, 21)),
        # 10:00 is 20 hours away, past a 6-hour delay: the pick is among 14:00-20:00.
        (10, "6h", range(14, 21)),
        # A day's delay reaches 10:00 tomorrow: chosen; quiet hours (21-08) never are.
        (10, "1d", [*range(14, 21), *range(8, 15)]),
        # 23:00 is quiet: never chosen, though the user opens then.
        (23, "1d", [*range(14, 21), *range(8, 15)]),
    ],
)
def test_best_time_is_within_max_delay_and_outside_quiet_hours(
    best: int, max_delay: str, allowed: range | list[int]
) -> None:
    definition = every_debit(send_at="best_time", max_delay=max_delay)
    seconds = definition.max_delay
    for i in range(30):
        state = learned(best)
        run(state, transaction(USER, NOON, "5.00", event_id=f"d-{i}"), definition)
        when = held_send_at(state) if state.pending else NOON
        assert NOON <= when <= NOON + timedelta(seconds=seconds)
        assert when.hour in allowed and not is_quiet(when.hour, POLICY)
        if best in allowed:
            assert when.hour == best


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/New_York", "Europe/Paris"])
def test_best_time_is_the_models_draw_in_the_users_zone(zone: str) -> None:
    # A new user: the hour is the draw of best_hour over the allowed local hours, seeded by
    # the trigger, the user and the event, and the send is at that local hour.
    definition = every_debit(send_at="best_time")
    local = ZoneInfo(zone)
    for i in range(20):
        state = fold([profile(USER, NOON - HOUR, timezone=zone)])
        debit = transaction(USER, NOON, "5.00", event_id=f"d-{i}")
        result = run(state, debit, definition)
        when = held_send_at(state) if state.pending else result.commands[0].send_at
        hours = _allowed_local_hours(NOON, local, definition.max_delay)
        expected = send_time.best_hour(None, hours, seed=f"every_debit:{USER}:d-{i}")
        assert when.astimezone(local).hour == expected
        assert result.sent_hours == [expected]


def _allowed_local_hours(start: datetime, zone: ZoneInfo, max_delay: float) -> list[int]:
    """The local hours, in order, outside quiet hours from the earliest send to max_delay."""
    moment = start
    if is_quiet(start.astimezone(zone).hour, POLICY):  # the morning after quiet hours
        local = start.astimezone(zone)
        day = local.date() + timedelta(days=int(local.hour >= POLICY.quiet_start))
        moment = datetime(day.year, day.month, day.day, POLICY.quiet_end, tzinfo=zone)
    hours: list[int] = []
    top = moment.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    for step in range(int(max_delay // 3600) + 1):
        hour = (top + step * HOUR).astimezone(zone).hour
        if hour not in hours and not is_quiet(hour, POLICY):
            hours.append(hour)
    return hours


def test_the_same_event_decided_twice_picks_the_same_hour() -> None:
    definition = every_debit(send_at="best_time", channels=BOTH)
    base = fold([profile(USER, NOON - HOUR, timezone="Europe/Paris")])
    base.send_hours = [{str(h): [10, h % 4] for h in range(24)}, []]
    debit = transaction(USER, NOON, "5.00", event_id="d-1")
    first, second = clone(base), clone(base)
    a, b = run(first, debit, definition), run(second, debit, definition)
    assert first.pending == second.pending and a.sent_hours == b.sent_hours
    assert [d.model_dump() for d in a.decisions] == [d.model_dump() for d in b.decisions]
    # One hour for the firing: both channels wait for it.
    assert held_send_at(first, "sms") == held_send_at(first, "email")


@pytest.mark.parametrize(
    ("trigger_at", "sms_at", "email_at", "sms_waits", "email_waits"),
    [
        ("now", "best_time", None, True, False),  # only the channel that asks waits
        ("best_time", None, "now", True, False),  # a channel's "now" overrides the trigger's
        ("best_time", None, None, True, True),
        ("now", None, None, False, False),
    ],
)
def test_a_channels_send_at_overrides_the_triggers(
    trigger_at: str, sms_at: str | None, email_at: str | None, sms_waits: bool, email_waits: bool
) -> None:
    channels = [{**BOTH[0], "send_at": sms_at}, {**BOTH[1], "send_at": email_at}]
    definition = every_debit(send_at=trigger_at, channels=channels)
    state = learned(best=18)
    result = run(state, transaction(USER, NOON, "5.00", event_id="d-1"), definition)
    now_channels = {c.channel.value for c in result.commands}
    assert ("sms" not in now_channels) is sms_waits
    assert ("email" not in now_channels) is email_waits
    for channel, waits in (("sms", sms_waits), ("email", email_waits)):
        if waits:
            assert held_send_at(state, channel) == NOON.replace(hour=18)
    assert all(c.send_at == NOON for c in result.commands)
    assert sorted(result.sent_hours) == sorted(18 if w else 14 for w in (sms_waits, email_waits))


@pytest.mark.parametrize(
    ("earlier_sends", "send_at", "fired"),
    [
        # Two SMS 22 hours ago: the day is full now, but not at 17:00 (25 hours after them).
        ([NOON - 22 * HOUR] * 2, "now", False),
        ([NOON - 22 * HOUR] * 2, "best_time", True),
        # Two SMS held for 16:00 tomorrow: room now (26 hours before them), none at 17:00.
        ([NOON + 26 * HOUR] * 2, "now", True),
        ([NOON + 26 * HOUR] * 2, "best_time", False),
    ],
)
def test_the_caps_apply_at_the_chosen_time(
    earlier_sends: list[datetime], send_at: str, fired: bool
) -> None:
    state = learned(best=17, hours=range(14, 21))
    state.sends["sms"] = [moment.timestamp() for moment in earlier_sends]
    definition = every_debit(send_at=send_at, max_delay="6h")
    result = run(state, transaction(USER, NOON, "5.00", event_id="d-1"), definition)
    [decision] = result.decisions
    if fired:
        assert decision.outcome is Outcome.FIRED
    else:
        assert (decision.outcome, decision.reason) == (
            Outcome.SUPPRESSED, SuppressionReason.FREQUENCY_CAP,
        )  # fmt: skip
        assert state.pending == [] and result.sent_hours == []
