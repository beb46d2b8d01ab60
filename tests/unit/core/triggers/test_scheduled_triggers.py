"""Time-based triggers through the pure core: a schedule evaluates a user with no event.

Each shipped time-based definition fires at its threshold and not just short of it; an
episode is judged once however often the schedule looks; ids repeat on a second run, so
a timer that restarts sends nothing new; sends due at night wait for the morning.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from schemas.events import Channel, Event
from schemas.features import FEATURES
from schemas.records import Outcome
from schemas.triggers import TriggerDefinition, comparisons
from streams.core.decisions.process import process_scheduled
from streams.core.decisions.release import release_due
from streams.core.decisions.result import Result
from streams.core.rendering import PLACEHOLDER, SMS_CUT_MARK, SMS_LIMIT, default_catalogue, render
from streams.core.state.fold import APPLICATIONS_KEPT
from streams.core.state.record import UserState
from streams.core.triggers.catalogue import default_definitions
from tests.unit.core.triggers.message_checks import GSM7, REALISTIC
from tests.unit.factories import event, fold, profile

USER = "user-1"
T = datetime(2026, 6, 5, 12, tzinfo=UTC)  # a Friday noon UTC: the scheduler's now
#: Time-based triggers judged by episode; a closed-month trigger the timer also judges
#: (income_drop) is tested in ``test_closed_month_timer``.
SCHEDULED = {
    d.id: d for d in default_definitions() if d.evaluate_on.every is not None and d.cause == "event"
}
NAME = profile(USER, T - timedelta(days=90), first_name="Christopher")


def at(**delta: float) -> datetime:
    return T + timedelta(**delta)


def session(when: datetime) -> Event:
    return event(USER, when, {"type": "app_session", "duration_seconds": 120.0, "screens": 5})


def in_days(days: int) -> str:
    return (T.date() + timedelta(days=days)).isoformat()


def _stall(fires: bool) -> list[Event]:
    when = at(days=-30) if fires else at(days=-30, seconds=1)
    payload = {"type": "savings_progress", "goal_id": "house", "saved": "100", "target": "1000"}
    return [event(USER, when, payload)]


def _birthday(fires: bool) -> list[Event]:
    upcoming = T.date() + timedelta(days=7 if fires else 8)
    return [profile(USER, at(days=-40), birthday=upcoming.replace(year=1990).isoformat())]


def _lease(fires: bool) -> list[Event]:
    return [profile(USER, at(days=-40), lease_end=in_days(60 if fires else 61))]


def _grace(fires: bool) -> list[Event]:
    return [profile(USER, at(days=-40), student_loan_grace_end=in_days(30 if fires else 31))]


def _inactive(fires: bool) -> list[Event]:
    last = at(days=-14) if fires else at(days=-14, hours=1)
    return [session(at(days=-30)), session(last)]


def _declining(fires: bool) -> list[Event]:
    # Four sessions a week for the four weeks before this one; this week 2 (-50 %) or 3.
    usual = [session(at(days=-7 - d, hours=-1)) for d in range(28) if d % 7 < 4]
    recent = [session(at(days=-d, hours=-2)) for d in range(2 if fires else 3)]
    used = event(USER, at(days=-1), {"type": "feature_used", "feature": "budgets"})
    return [*usual, *recent, used]


def _feature(fires: bool) -> list[Event]:
    used = event(
        USER, at(days=-30 if fires else -29), {"type": "feature_used", "feature": "budgets"}
    )
    return [used, session(at(days=-2)), session(at(days=-1))]


def _application(fires: bool) -> list[Event]:
    payload = {"type": "application_start", "application_id": "app-7", "product": "mortgage"}
    return [event(USER, at(days=-1) if fires else at(days=-1, hours=1), payload)]


SCENARIOS: dict[str, tuple[str, Callable[[bool], list[Event]]]] = {
    "savings_goal_stall": ("savings_goal_stall", _stall),
    "birthday_approaching": ("birthday_approaching", _birthday),
    "lease_renewal_window": ("lease_renewal_window", _lease),
    "student_loan_grace_ending": ("student_loan_grace_ending", _grace),
    "app_inactive": ("app_usage_decline", _inactive),
    "app_declining": ("app_usage_decline", _declining),
    "feature_unused": ("feature_unused", _feature),
    "application_incomplete": ("application_incomplete", _application),
}


def tick(state: UserState, now: datetime = T, *definitions: TriggerDefinition) -> Result:
    return process_scheduled(
        USER, state, definitions or list(SCHEDULED.values()), default_catalogue(), now=now
    )


def user(events: list[Event]) -> UserState:
    return fold([NAME, *events])


def test_every_time_based_definition_has_a_scenario() -> None:
    assert {trigger for trigger, _ in SCENARIOS.values()} == set(SCHEDULED)
    assert all(d.type == "time_based" for d in SCHEDULED.values())


@pytest.mark.parametrize("trigger_id", sorted(SCHEDULED))
def test_every_threshold_is_used_and_every_episode_is_a_feature(trigger_id: str) -> None:
    definition = SCHEDULED[trigger_id]
    values = [v for c in comparisons(definition.condition) for v in
              (c.value if isinstance(c.value, list) else [c.value])]  # fmt: skip
    assert set(definition.thresholds) <= {str(v)[1:] for v in values if str(v).startswith("$")}
    assert definition.episode in FEATURES and definition.cooldown > 0


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_fires_at_the_threshold_on_a_tick(name: str) -> None:
    trigger, scenario = SCENARIOS[name]
    result = tick(user(scenario(True)))
    (decision,) = result.decisions
    assert (decision.trigger_id, decision.outcome) == (trigger, Outcome.FIRED), decision.detail
    assert decision.source_event_id is None and decision.event_type is None
    assert decision.occurred_at == T
    wanted = [(c.channel, c.template) for c in SCHEDULED[trigger].channels]
    assert [(c.channel, c.template_id) for c in result.commands] == wanted
    assert [c.command_id for c in result.commands] == decision.command_ids
    for command in result.commands:
        text = (command.subject or "") + command.body
        assert "{{" not in text and (command.channel is Channel.PUSH or "Christopher" in text)
        assert command.created_at == command.send_at == T


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_does_not_fire_just_short_of_the_threshold(name: str) -> None:
    _, scenario = SCENARIOS[name]
    state = user(scenario(False))
    assert tick(state) == Result()
    assert state.episodes == {}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_an_episode_is_judged_once_however_often_the_schedule_looks(name: str) -> None:
    _, scenario = SCENARIOS[name]
    state = user(scenario(True))
    assert tick(state).decisions
    assert tick(state, at(hours=1)) == Result()
    assert tick(state, at(hours=6)) == Result()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_second_run_over_the_same_history_repeats_the_ids(name: str) -> None:
    """What a timer restarted from the changelog (before its write landed) would emit."""
    _, scenario = SCENARIOS[name]
    first, second = tick(user(scenario(True))), tick(user(scenario(True)), at(minutes=30))
    assert [d.decision_id for d in first.decisions] == [d.decision_id for d in second.decisions]
    assert [c.command_id for c in first.commands] == [c.command_id for c in second.commands]


def test_a_new_episode_fires_again_once_the_cooldown_has_passed() -> None:
    state = user(_inactive(True))
    first = tick(state)
    assert [d.outcome for d in first.decisions] == [Outcome.FIRED]
    # Back for one session, then away again: a new lapse, 20 days after the first nudge.
    fold([session(at(days=6))], state)
    again = tick(state, at(days=20))
    (decision,) = again.decisions
    assert decision.outcome is Outcome.FIRED
    assert decision.decision_id != first.decisions[0].decision_id


def test_a_lapse_inside_the_cooldown_is_suppressed_with_the_reason() -> None:
    month = SCHEDULED["app_usage_decline"].model_copy(update={"cooldown": 30 * 86_400.0})
    state = user(_inactive(True))
    tick(state, T, month)
    fold([session(at(days=1))], state)  # back, then gone again for 14 days
    (decision,) = tick(state, at(days=15), month).decisions
    assert decision.outcome is Outcome.SUPPRESSED and decision.reason == "cooldown"
    assert tick(state, at(days=16), month) == Result()  # judged: not again


def test_a_paused_definition_is_not_evaluated() -> None:
    paused = SCHEDULED["birthday_approaching"].model_copy(update={"status": "paused"})
    state = user(_birthday(True))
    assert tick(state, T, paused) == Result()
    assert state.episodes == {}
    # Active again, the same definition fires for the same user at the same moment.
    active = paused.model_copy(update={"status": "active"})
    assert [d.outcome for d in tick(state, T, active).decisions] == [Outcome.FIRED]


def test_event_driven_definitions_are_not_evaluated_on_a_tick() -> None:
    spike = next(d for d in default_definitions() if d.id == "spending_spike")
    assert tick(user(_birthday(True)), T, spike) == Result()
    # The spike could not match without an event anyway; a birthday definition that
    # would match, made event-driven (no schedule), is skipped all the same.
    birthday = SCHEDULED["birthday_approaching"]
    no_schedule = {"every": None, "events": ["profile_update"]}
    on_events = birthday.evaluate_on.model_copy(update=no_schedule)
    event_driven = birthday.model_copy(update={"type": "behavioral", "evaluate_on": on_events})
    assert tick(user(_birthday(True)), T, event_driven) == Result()
    assert [d.outcome for d in tick(user(_birthday(True)), T, birthday).decisions] == [
        Outcome.FIRED
    ]


def test_a_birthday_on_29_february_is_celebrated_on_the_28th_in_other_years() -> None:
    state = user([profile(USER, at(days=-40), birthday="2000-02-29")])
    quiet = tick(state, datetime(2027, 2, 20, 12, tzinfo=UTC))
    assert quiet == Result()  # 8 days before 28 February 2027
    (decision,) = tick(state, datetime(2027, 2, 21, 12, tzinfo=UTC)).decisions
    assert decision.features["days_until_birthday"] == 7.0
    assert state.episodes["birthday_approaching"] == "next_birthday=2027-02-28"


def test_a_completed_application_is_not_chased() -> None:
    (started,) = _application(True)
    done = event(USER, at(hours=-2), {
        "type": "application_complete", "application_id": "app-7", "product": "mortgage",
    })  # fmt: skip
    assert tick(user([started, done])) == Result()
    assert [d.trigger_id for d in tick(user([started])).decisions] == ["application_incomplete"]


def test_a_reached_goal_does_not_stall() -> None:
    reached = {"type": "savings_progress", "goal_id": "house", "saved": "1000", "target": "1000"}
    assert tick(user([event(USER, at(days=-60), reached)])) == Result()
    short = {**reached, "saved": "999.99"}
    assert [d.trigger_id for d in tick(user([event(USER, at(days=-60), short)])).decisions] == [
        "savings_goal_stall"
    ]


def test_a_night_tick_holds_the_send_for_the_morning_in_the_users_zone() -> None:
    state = user([*_grace(True), profile(USER, at(days=-39), timezone="Asia/Tokyo")])
    night = datetime(2026, 6, 5, 14, tzinfo=UTC)  # 23:00 in Tokyo
    result = tick(state, night)
    (decision,) = result.decisions
    assert decision.outcome is Outcome.FIRED and "quiet hours" in decision.detail
    assert (result.commands, result.held) == ([], 3)
    morning = datetime(2026, 6, 5, 23, tzinfo=UTC)  # 08:00 in Tokyo
    assert release_due(USER, state, morning - timedelta(seconds=1)).commands == []
    released = release_due(USER, state, morning).commands
    assert sorted(c.command_id for c in released) == sorted(decision.command_ids)
    assert all(c.send_at == morning for c in released)


#: Long but realistic values of the placeholders only time-based templates use.
SCHEDULED_VALUES = {
    **REALISTIC,
    "days_since_savings_progress": "365",
    "days_until_birthday": "7",
    "lease_end": "2027-12-31",
    "days_until_lease_end": "60",
    "student_loan_grace_end": "2027-12-31",
    "days_until_grace_end": "30",
    "application_pending_product": "home equity line of credit",
    "application_pending_days": "14",
}


@pytest.mark.parametrize("trigger_id", sorted(SCHEDULED))
def test_messages_fit_with_long_realistic_values(trigger_id: str) -> None:
    catalogue = default_catalogue()
    for wanted in SCHEDULED[trigger_id].channels:
        template = catalogue.by_id(wanted.template)
        names = set(PLACEHOLDER.findall(f"{template.subject or ''} {template.body}"))
        assert names <= set(SCHEDULED_VALUES), names - set(SCHEDULED_VALUES)
        if wanted.channel is Channel.SMS:
            body = render(template, SCHEDULED_VALUES, catalogue.fallbacks).body
            assert len(body) <= SMS_LIMIT and not body.endswith(SMS_CUT_MARK), (len(body), body)
            assert set(body) <= GSM7, set(body) - GSM7


def test_date_features_ignore_a_malformed_profile_date() -> None:
    state = UserState(profile={"birthday": "not-a-date", "lease_end": "2026-13-01"})
    assert tick(state) == Result()
    # Next to a well-formed date the malformed one changes nothing: the lease still fires.
    lease_end = in_days(60)
    mixed = UserState(profile={"birthday": "not-a-date", "lease_end": lease_end})
    assert [d.trigger_id for d in tick(mixed).decisions] == ["lease_renewal_window"]


def test_started_applications_are_bounded_and_completion_forgets_one() -> None:
    starts = [
        event(USER, at(hours=-10 + i), {"type": "application_start",
              "application_id": f"app-{i}", "product": "loan"})
        for i in range(APPLICATIONS_KEPT + 2)
    ]  # fmt: skip
    state = fold(starts)
    assert list(state.applications) == [f"app-{i}" for i in range(2, APPLICATIONS_KEPT + 2)]
    done = {"type": "application_complete", "application_id": "app-2", "product": "loan"}
    fold([event(USER, at(), done)], state)
    assert "app-2" not in state.applications
    assert UserState.from_bytes(state.to_bytes()) == state


def test_goal_modifications_open_close_and_forget_goals() -> None:
    def goal(action: str, target: str | None = None) -> Event:
        payload = {"type": "goal_modification", "goal_id": "car", "action": action}
        return event(USER, at(), payload if target is None else {**payload, "target": target})

    state = fold([goal("created", "5000")])
    assert state.goal_milestones == {"car": 0}  # open from the start, before any progress
    fold([goal("completed")], state)
    assert state.goal_milestones == {"car": 100}
    fold([goal("abandoned")], state)
    assert state.goal_milestones == {}
