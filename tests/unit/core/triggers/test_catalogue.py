"""Every shipped trigger definition through the real path: thresholds at their edges,
messages rendered with realistic values, templates complete for every channel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import yaml

from schemas.events import Channel, Event
from schemas.features import FEATURES
from schemas.personalization import PERSONALIZATION_VARIABLES
from schemas.records import Outcome
from schemas.triggers import TriggerDefinition, comparisons, validate_definition
from streams.core.decisions.process import process
from streams.core.decisions.result import Result
from streams.core.rendering import PLACEHOLDER, SMS_CUT_MARK, SMS_LIMIT, default_catalogue, render
from streams.core.state.record import UserState
from streams.core.triggers.catalogue import default_definitions
from tests.paths import CATALOGUE_FILE
from tests.unit.core.triggers.message_checks import GSM7, REALISTIC
from tests.unit.factories import (
    JUNE,
    START,
    card_debit,
    event,
    fold,
    history,
    income,
    income_history,
    match_of,
    profile,
    spike_at,
    spike_history,
    transaction,
)

USER = "user-1"
DEFINITIONS = {definition.id: definition for definition in default_definitions()}
CHANNELS = (Channel.SMS, Channel.EMAIL, Channel.PUSH)
#: A long but ordinary first name, so SMS lengths are checked with room to spare.
NAME = profile(USER, START - timedelta(days=1), first_name="Christopher")
T0 = spike_at()  # a Friday noon UTC, 34 days after START


def at(**delta: float) -> datetime:
    return T0 + timedelta(**delta)


def snapshot(balance: str, limit: str | None = "10000.00", kind: str = "credit_card") -> Event:
    payload: dict[str, Any] = {"type": "balance_snapshot", "balance": balance, "account_kind": kind}
    if limit is not None:
        payload["credit_limit"] = limit
    return event(USER, T0, payload)


def savings(
    saved: str, target: str = "1000.00", goal: str = "holiday", when: datetime = T0
) -> Event:
    payload = {"type": "savings_progress", "goal_id": goal, "saved": saved, "target": target}
    return event(USER, when, payload)


def health(when: datetime = T0, **fields: Any) -> Event:
    return event(USER, when, {"type": "health_signal", **fields})


def career(**fields: Any) -> Event:
    return event(USER, T0, {"type": "career_signal", **fields})


def session(when: datetime) -> Event:
    return event(USER, when, {"type": "app_session", "duration_seconds": 95.0, "screens": 4})


def page_view(when: datetime) -> Event:
    return event(USER, when, {"type": "page_view", "path": "/insurance/home"})


def quote(when: datetime = T0, product: str = "home insurance") -> Event:
    return event(USER, when, {"type": "quote_request", "product": product})


def form_abandon(form_id: str, product: str | None = "car insurance") -> Event:
    payload = {"type": "form_abandon", "form_id": form_id, "last_step": "driver_details"}
    return event(USER, T0, {**payload, "product": product} if product else payload)


def application(when: datetime = T0) -> Event:
    payload = {"type": "application_start", "application_id": "app-1", "product": "mortgage"}
    return event(USER, when, payload)


# --- one scenario per definition: fires at the threshold, not just below it ----------------

Scenario = Callable[[bool], tuple[UserState, Event]]


def _spike(fires: bool) -> tuple[UserState, Event]:
    return fold(spike_history(USER)), transaction(USER, T0, "48.00" if fires else "47.99")


def _income_drop(fires: bool) -> tuple[UserState, Event]:
    closed = "2550.00" if fires else "2553.00"
    return fold(income_history(USER, closed)), transaction(USER, JUNE, "5.00")


def _pay_cut(fires: bool) -> tuple[UserState, Event]:
    # Paid $2000 on the 1st and the 15th; then $1700: exactly 15 % below the usual.
    paydays = [START + timedelta(days=d) for d in (0, 14, 31, 45)]
    salary = [income(USER, day, "2000.00") for day in paydays]
    cut = income(USER, START + timedelta(days=59), "1700.00" if fires else "1700.01")
    return fold(salary), cut


def _large(fires: bool) -> tuple[UserState, Event]:
    debit = transaction(USER, START + timedelta(days=28), "500.00" if fires else "499.99")
    return fold(history(USER, days=28, daily="20.00")), debit


def _unusual(fires: bool) -> tuple[UserState, Event]:
    # Four weeks at the same grocer at home, at noon; then a new merchant abroad in the
    # early evening: unusual for where (the reason) and with whom, and $20 is the least.
    days = [
        card_debit(USER, START + timedelta(days=d), "20.00", merchant="Corner Grocer")
        for d in range(28)
    ]
    odd = card_debit(
        USER, START + timedelta(days=28, hours=6), "20.00" if fires else "19.99",
        merchant="Hotel Lutetia", category="travel", country="FR",
    )  # fmt: skip
    return fold(days), odd


def _credit(fires: bool) -> tuple[UserState, Event]:
    return UserState(), snapshot("7000.01" if fires else "7000.00")


def _milestone(fires: bool) -> tuple[UserState, Event]:
    return UserState(), savings("250.00" if fires else "249.99")


def _exercise(fires: bool) -> tuple[UserState, Event]:
    state = fold([*spike_history(USER), transaction(USER, T0, "55.00")])  # +25 %, $175
    return state, health(at(hours=1), exercise_minutes=19 if fires else 20, sleep_hours=6)


def _stress(fires: bool) -> tuple[UserState, Event]:
    return fold([health(stress_level=0.7 if fires else 0.69)]), application(at(hours=1))


def _relationship(fires: bool) -> tuple[UserState, Event]:
    known = [profile(USER, at(days=-30), relationship_status="single")] if fires else []
    return fold(known), profile(USER, T0, relationship_status="married")


def _jobs(fires: bool) -> tuple[UserState, Event]:
    return UserState(), career(job_matches=5 if fires else 4, field="data analytics")


def _skills(fires: bool) -> tuple[UserState, Event]:
    skills = ["SQL", "Power BI", "Python"][: 3 if fires else 2]
    return UserState(), career(missing_skills=skills, field="data analytics")


def _salary(fires: bool) -> tuple[UserState, Event]:
    salary = "90000.00" if fires else "90001.00"
    return UserState(), career(salary=salary, market_rate="100000.00")


def _premium(fires: bool) -> tuple[UserState, Event]:
    earlier = [session(at(hours=-12 * i)) for i in range(1, 10 if fires else 9)]
    return fold([profile(USER, START, tier="free"), *earlier]), session(T0)


def _abandoned(fires: bool) -> tuple[UserState, Event]:
    return UserState(), form_abandon("auto-quote" if fires else "newsletter-signup")


def _intent(fires: bool) -> tuple[UserState, Event]:
    views = [page_view(at(minutes=-10 * i)) for i in range(1, 6 if fires else 5)]
    return fold(views), quote()


SCENARIOS: dict[str, Scenario] = {
    "spending_spike": _spike,
    "income_drop": _income_drop,
    "pay_cut": _pay_cut,
    "large_transaction": _large,
    "unusual_transaction": _unusual,
    "near_credit_limit": _credit,
    "savings_milestone": _milestone,
    "low_exercise_high_spending": _exercise,
    "stress_with_big_decision": _stress,
    "relationship_change": _relationship,
    "job_opportunities": _jobs,
    "skill_gap": _skills,
    "salary_below_market": _salary,
    "premium_upgrade": _premium,
    "quote_form_abandoned": _abandoned,
    "high_intent_follow_up": _intent,
}


def run(trigger_id: str, fires: bool) -> Result:
    """Build the scenario (as Christopher) and process its event with the whole catalogue."""
    state, final = SCENARIOS[trigger_id](fires)
    state = fold([NAME], state)
    return process(
        state,
        final,
        default_definitions(),
        default_catalogue(),
        now=final.occurred_at,
        max_event_age_seconds=365 * 86_400.0,
    )


def test_every_shipped_event_driven_definition_has_a_scenario() -> None:
    # Time-based definitions have theirs in test_scheduled_triggers.py.
    assert set(SCENARIOS) == {d.id for d in DEFINITIONS.values() if d.type == "behavioral"}


@pytest.mark.parametrize("trigger_id", sorted(SCENARIOS))
def test_fires_at_the_threshold_through_process(trigger_id: str) -> None:
    result = run(trigger_id, fires=True)
    (decision,) = [d for d in result.decisions if d.trigger_id == trigger_id]
    assert decision.outcome is Outcome.FIRED, decision.detail
    commands = [c for c in result.commands if c.trigger_id == trigger_id]
    wanted = [(c.channel, c.template) for c in DEFINITIONS[trigger_id].channels]
    assert [(c.channel, c.template_id) for c in commands] == wanted
    for command in commands:
        text = (command.subject or "") + command.body
        assert "{{" not in text
        assert "Christopher" in text or command.channel is Channel.PUSH
        assert all(value.strip() for value in command.variables.values()), command.variables
        if command.channel is Channel.SMS:
            assert len(command.body) <= SMS_LIMIT and not command.body.endswith(SMS_CUT_MARK)
            assert set(command.body) <= GSM7, set(command.body) - GSM7


@pytest.mark.parametrize("trigger_id", sorted(SCENARIOS))
def test_does_not_fire_just_below_the_threshold_through_process(trigger_id: str) -> None:
    result = run(trigger_id, fires=False)
    assert [d for d in result.decisions if d.trigger_id == trigger_id] == []
    assert [c for c in result.commands if c.trigger_id == trigger_id] == []


@pytest.mark.parametrize("trigger_id", sorted(SCENARIOS))
def test_every_placeholder_is_produced_by_the_trigger(trigger_id: str) -> None:
    state, final = SCENARIOS[trigger_id](True)
    match = match_of(trigger_id, state, final)
    assert match is not None
    # (The personalization rules fill their variables, with catalogue fallbacks.)
    produced = set(match.variables) | {"user_name", *PERSONALIZATION_VARIABLES}
    for channel in CHANNELS:
        template = default_catalogue().get(trigger_id, channel)
        assert template is not None
        names = set(PLACEHOLDER.findall(f"{template.subject or ''} {template.body}"))
        assert names <= produced, (channel, names - produced)


# --- the catalogue as data ---------------------------------------------------------------


def test_every_shipped_document_validates_on_its_own() -> None:
    documents = yaml.safe_load(CATALOGUE_FILE.read_text("utf-8"))
    assert [doc["id"] for doc in documents] == list(DEFINITIONS)
    for document in documents:
        assert isinstance(validate_definition(document), TriggerDefinition), document["id"]


@pytest.mark.parametrize("trigger_id", sorted(SCENARIOS))
def test_every_threshold_is_used_and_every_definition_is_event_driven(trigger_id: str) -> None:
    definition = DEFINITIONS[trigger_id]
    used = {str(c.value)[1:] for c in comparisons(definition.condition)}
    used |= {str(v)[1:] for c in comparisons(definition.condition) if isinstance(c.value, list)
             for v in c.value}  # fmt: skip
    assert set(definition.thresholds) <= used
    assert definition.evaluate_on.events
    # Only a closed-month trigger also has a schedule: the timer judges a month no event did.
    assert (definition.evaluate_on.every is None) is (definition.cause == "event")
    assert definition.type == "behavioral" and definition.cooldown > 0


def test_every_channel_of_every_definition_has_its_template() -> None:
    wanted = [(c.template, c.channel) for d in DEFINITIONS.values() for c in d.channels]
    assert default_catalogue().missing(wanted) == []
    for definition in DEFINITIONS.values():
        if definition.id in ("spending_spike", "income_drop", "pay_cut"):  # sms + email
            continue
        # Time-based messages nobody asked for at once go by email and push, not SMS.
        channels = CHANNELS if definition.priority.rank <= 2 else (Channel.EMAIL, Channel.PUSH)
        if definition.type == "behavioral":
            assert [c.channel for c in definition.channels] == list(CHANNELS)
        else:
            assert {c.channel for c in definition.channels} == set(channels), definition.id


def test_every_catalogue_placeholder_is_a_feature_or_the_user_name() -> None:
    for template in default_catalogue().templates.values():
        names = set(PLACEHOLDER.findall(f"{template.subject or ''} {template.body}"))
        known = set(FEATURES) | {"user_name", *PERSONALIZATION_VARIABLES}
        assert names <= known, (template.template_id, names)


@pytest.mark.parametrize("trigger_id", sorted(SCENARIOS))
def test_sms_fits_one_gsm7_part_with_long_realistic_values(trigger_id: str) -> None:
    catalogue = default_catalogue()
    sms = catalogue.get(trigger_id, Channel.SMS)
    assert sms is not None
    assert set(PLACEHOLDER.findall(sms.body)) <= set(REALISTIC)
    body = render(sms, REALISTIC, catalogue.fallbacks).body
    assert len(body) <= SMS_LIMIT and not body.endswith(SMS_CUT_MARK), (len(body), body)
    assert set(body) <= GSM7, set(body) - GSM7


def test_a_quote_without_a_product_reads_naturally() -> None:
    state, final = UserState(), form_abandon("home-quote", product=None)
    result = process(state, final, default_definitions(), default_catalogue(),
                     now=T0, max_event_age_seconds=86_400.0)  # fmt: skip
    sms = next(c for c in result.commands if c.channel is Channel.SMS)
    assert "your new quote" in sms.body and "Hi there" in sms.body


# --- edges of each new definition (match_of: apply_event, then evaluate) -----------------


def fires(trigger_id: str, state: UserState, final: Event) -> bool:
    return match_of(trigger_id, state, final) is not None


LARGE_DAY = START + timedelta(days=28)  # after four weeks of history: three full weeks


@pytest.mark.parametrize(
    ("daily", "amount", "multiple"),
    [
        ("20.00", "500.00", 25.0),  # exactly the $500 minimum, 25x the usual $20 day
        ("20.00", "499.99", None),
        ("200.00", "600.00", 3.0),  # $600 is exactly 3x the usual $200 day
        ("200.00", "599.99", None),  # 2.99995x
        ("200.00", "4000.00", 20.0),
    ],
)
def test_large_transaction_edges(daily: str, amount: str, multiple: float | None) -> None:
    state = fold(history(USER, days=28, daily=daily))
    match = match_of("large_transaction", state, transaction(USER, LARGE_DAY, amount))
    assert (match is not None) == (multiple is not None)
    if match is not None:
        assert match.features == {
            "event_amount": float(amount),
            "debit_multiple": multiple,
            "spend_day_baseline": float(daily),
        }


@pytest.mark.parametrize(
    "final",
    [
        transaction(USER, LARGE_DAY, "5000.00", direction="credit"),
        event(USER, LARGE_DAY, {"type": "transaction", "amount": "5000", "category": "rent"}),
        event(USER, LARGE_DAY, {"type": "transaction", "amount": "5000", "category": "transfer"}),
    ],
)
def test_large_transaction_ignores_credits_and_planned_movements(final: Event) -> None:
    assert not fires("large_transaction", fold(history(USER, days=28)), final)
    # The same $5,000 as an ordinary debit fires: only the kind of movement differs.
    debit = transaction(USER, LARGE_DAY, "5000.00")
    assert fires("large_transaction", fold(history(USER, days=28)), debit)


def test_large_transaction_needs_a_usual_day_to_compare_with() -> None:
    # Two weeks of history are needed for a baseline; one week is not enough.
    assert not fires("large_transaction", UserState(), transaction(USER, LARGE_DAY, "9000"))
    recent = fold(history(USER, LARGE_DAY - timedelta(days=10), days=10))
    assert not fires("large_transaction", recent, transaction(USER, LARGE_DAY, "9000"))
    # With the four weeks the other tests use, the same debit fires.
    usual = fold(history(USER, days=28))
    assert fires("large_transaction", usual, transaction(USER, LARGE_DAY, "9000"))


@pytest.mark.parametrize(
    ("balance", "limit", "kind", "utilisation"),
    [
        ("7000.01", "10000.00", "credit_card", 70.0001),
        ("7000.00", "10000.00", "credit_card", None),  # exactly 70 % is not over it
        ("10500.00", "10000.00", "credit_card", 105.0),  # over the limit
        ("9000.00", "10000.00", "checking", None),
        ("9000.00", None, "credit_card", None),
        ("9000.00", "0", "credit_card", None),
        ("-9000.00", "10000.00", "credit_card", None),  # money in credit: nothing owed
    ],
)
def test_near_credit_limit_edges(
    balance: str, limit: str | None, kind: str, utilisation: float | None
) -> None:
    match = match_of("near_credit_limit", UserState(), snapshot(balance, limit, kind))
    assert (match is not None) == (utilisation is not None)
    if match is not None:
        assert match.features["credit_utilisation_pct"] == utilisation
        assert match.features["account_balance"] == float(balance)


def test_near_credit_limit_message_values() -> None:
    match = match_of("near_credit_limit", UserState(), snapshot("8250.00", "10000.00"))
    assert match is not None
    assert {k: match.variables[k] for k in ("credit_utilisation_pct", "credit_available")} == {
        "credit_utilisation_pct": "82",
        "credit_available": "$1,750.00",
    }


@pytest.mark.parametrize(
    ("earlier", "saved", "crossed"),
    [
        ([], "250.00", 25.0),  # exactly a quarter of $1,000
        ([], "249.99", None),
        (["250.00"], "300.00", None),  # 25 % was already told
        (["250.00"], "500.00", 50.0),
        (["100.00"], "800.00", 75.0),  # a jump past two milestones tells the highest
        (["800.00"], "600.00", None),  # going down crosses nothing
        (["600.00", "300.00"], "700.00", None),  # back above 50 %: already told
        (["1000.00"], "1200.00", None),
        ([], "1500.00", 100.0),  # over the target is the 100 % milestone
    ],
)
def test_savings_milestone_fires_once_per_milestone(
    earlier: list[str], saved: str, crossed: float | None
) -> None:
    state = fold([savings(s, when=at(days=i - len(earlier))) for i, s in enumerate(earlier)])
    match = match_of("savings_milestone", state, savings(saved))
    assert (match is not None) == (crossed is not None)
    if match is not None:
        assert match.features["savings_milestone_crossed"] == crossed


def test_savings_milestones_are_per_goal_and_a_new_target_starts_over() -> None:
    state = fold([savings("500.00", goal="car", when=at(days=-2))])
    assert fires("savings_milestone", state, savings("250.00", goal="holiday"))
    assert not fires(
        "savings_milestone", state, savings("400.00", goal="holiday", when=at(hours=1))
    )
    new_target = {"type": "goal_modification", "goal_id": "car", "action": "updated",
                  "target": "2000.00"}  # fmt: skip
    fold([event(USER, at(hours=2), new_target)], state)
    assert fires("savings_milestone", state, savings("1000.00", "2000.00", "car", at(hours=3)))


@pytest.mark.parametrize(
    ("extra", "minutes", "fires_"),
    [
        ("55.00", 19, True),  # this week +25 % ($175 against $140)
        ("55.00", 19.9, True),
        ("55.00", 20, False),  # 20 minutes is not below 20
        ("54.99", 0, False),  # +24.99 %
        ("55.00", None, False),  # no exercise reported
    ],
)
def test_low_exercise_high_spending_edges(extra: str, minutes: float | None, fires_: bool) -> None:
    state = fold([*spike_history(USER), transaction(USER, T0, extra)])
    signal = health(at(hours=1), exercise_minutes=minutes, stress_level=0.4)
    assert fires("low_exercise_high_spending", state, signal) == fires_


def test_low_exercise_high_spending_ignores_small_budgets() -> None:
    # $5 a day: +25 % is $43.75 a week, under the $100 minimum.
    state = fold([*history(USER, days=34, daily="5.00"), transaction(USER, T0, "13.75")])
    assert not fires("low_exercise_high_spending", state, health(at(hours=1), exercise_minutes=0))
    # The same +25 % on the usual $20 a day ($175 a week) fires for the same signal.
    larger = fold([*spike_history(USER), transaction(USER, T0, "55.00")])
    assert fires("low_exercise_high_spending", larger, health(at(hours=1), exercise_minutes=0))


BIG = {
    "application": application(at(hours=1)),
    "quote": quote(at(hours=1)),
    "debit_500": transaction(USER, at(hours=1), "500.00"),
    "debit_499": transaction(USER, at(hours=1), "499.99"),
    "credit": transaction(USER, at(hours=1), "5000.00", direction="credit"),
}


@pytest.mark.parametrize(
    ("level", "reported", "decision", "fires_"),
    [
        (0.7, timedelta(), "application", True),
        (0.69, timedelta(), "application", False),
        (0.9, timedelta(days=-2, hours=1), "application", True),  # exactly 2 days before
        (0.9, timedelta(days=-2, hours=1, seconds=-1), "application", False),
        (0.9, timedelta(), "quote", True),
        (0.9, timedelta(), "debit_500", True),
        (0.9, timedelta(), "debit_499", False),
        (0.9, timedelta(), "credit", False),
    ],
)
def test_stress_with_big_decision_edges(
    level: float, reported: timedelta, decision: str, fires_: bool
) -> None:
    state = fold([health(T0 + reported, stress_level=level)])
    assert fires("stress_with_big_decision", state, BIG[decision]) == fires_


@pytest.mark.parametrize(
    ("reports", "fires_"),
    [
        ([(-2, 0.9), (-1, 0.2)], False),  # a calmer report since
        ([(-1, 0.2), (-2, 0.9)], False),  # an older report arriving late does not win
        ([(-2, 0.2), (-1, 0.9)], True),
        ([(-2, 0.9), (-1, None)], True),  # exercise only: stress is unchanged
    ],
)
def test_stress_is_the_latest_report_by_event_time(
    reports: list[tuple[int, float | None]], fires_: bool
) -> None:
    state = fold([health(at(hours=h), stress_level=s, exercise_minutes=30) for h, s in reports])
    assert fires("stress_with_big_decision", state, application()) == fires_


@pytest.mark.parametrize(
    ("previous", "new", "fires_"),
    [
        ("single", "married", True),
        ("married", "separated", True),
        ("separated", "divorced", True),
        ("partnered", "divorced", True),
        (None, "married", False),  # a first answer, not a change
        ("married", "married", False),
        ("married", "single", False),
        ("married", "widowed", False),
        ("divorced", "partnered", False),
    ],
)
def test_relationship_change_edges(previous: str | None, new: str, fires_: bool) -> None:
    known = [profile(USER, at(days=-30), relationship_status=previous)] if previous else []
    final = profile(USER, T0, relationship_status=new)
    assert fires("relationship_change", fold(known), final) == fires_


def test_relationship_change_not_told_again_on_other_profile_updates() -> None:
    state = fold([profile(USER, at(days=-30), relationship_status="single")])
    assert fires("relationship_change", state, profile(USER, T0, relationship_status="married"))
    assert not fires("relationship_change", state, profile(USER, at(hours=1), first_name="Ada"))


@pytest.mark.parametrize(
    ("matches", "field", "fires_"),
    [(5, "nursing", True), (4, "nursing", False), (50, None, False), (50, "  ", False)],
)
def test_job_opportunities_edges(matches: int, field: str | None, fires_: bool) -> None:
    signal = career(job_matches=matches, **({"field": field} if field else {}))
    assert fires("job_opportunities", UserState(), signal) == fires_


@pytest.mark.parametrize(
    ("skills", "top"),
    [
        (["SQL", "Python", "Tableau"], "SQL, Python, Tableau"),
        (["SQL", "Python"], None),
        (["SQL", "Python", "  "], None),  # blank entries are not skills
        (["SQL", "Python", "Tableau", "dbt", "Airflow"], "SQL, Python, Tableau"),
    ],
)
def test_skill_gap_edges(skills: list[str], top: str | None) -> None:
    match = match_of("skill_gap", UserState(), career(missing_skills=skills))
    assert (match is not None) == (top is not None)
    if match is not None:
        assert match.variables["missing_skills_top"] == top


@pytest.mark.parametrize(
    ("salary", "market", "gap"),
    [
        ("90000.00", "100000.00", 10.0),  # exactly 10 % below
        ("90001.00", "100000.00", None),  # 9.999 %
        ("45000.00", "60000.00", 25.0),
        ("110000.00", "100000.00", None),
        ("90000.00", None, None),
        (None, "100000.00", None),
    ],
)
def test_salary_below_market_edges(
    salary: str | None, market: str | None, gap: float | None
) -> None:
    fields = {k: v for k, v in (("salary", salary), ("market_rate", market)) if v}
    match = match_of("salary_below_market", UserState(), career(**fields))
    assert (match is not None) == (gap is not None)
    if match is not None:
        assert match.features == {
            "salary_gap_pct": gap,
            "salary": float(salary or 0),
            "market_rate": float(market or 0),
        }


@pytest.mark.parametrize(
    ("tier", "earlier", "oldest_days_back", "fires_"),
    [
        ("free", 9, 0, True),  # ten sessions this week, this one included
        ("free", 8, 0, False),
        ("free", 9, 6, True),  # the oldest on the first day of the 7-day window
        ("free", 9, 7, False),  # ... or the day before it
        ("standard", 20, 0, False),
        (None, 20, 0, False),  # tier unknown
    ],
)
def test_premium_upgrade_edges(
    tier: str | None, earlier: int, oldest_days_back: int, fires_: bool
) -> None:
    sessions = [session(at(minutes=-30 * (i + 1))) for i in range(earlier - 1)]
    sessions.append(session(at(days=-oldest_days_back, hours=-1)))
    known = [profile(USER, START, tier=tier)] if tier else [profile(USER, START, first_name="A")]
    assert fires("premium_upgrade", fold([*known, *sessions]), session(T0)) == fires_


@pytest.mark.parametrize(
    ("form_id", "fires_"),
    [
        ("auto-quote", True),
        ("quote_home_v2", True),
        ("Home.Quote", True),
        ("life-quotes", True),
        ("requote-form", False),
        ("quotation", False),
        ("newsletter-signup", False),
    ],
)
def test_quote_form_abandoned_edges(form_id: str, fires_: bool) -> None:
    assert fires("quote_form_abandoned", UserState(), form_abandon(form_id)) == fires_


def test_quote_form_abandoned_only_on_abandonment() -> None:
    start = event(USER, T0, {"type": "form_start", "form_id": "auto-quote"})
    assert not fires("quote_form_abandoned", UserState(), start)
    assert fires("quote_form_abandoned", UserState(), form_abandon("auto-quote"))


@pytest.mark.parametrize(
    ("views_back", "fires_"),
    [
        ([10, 20, 30, 40, 50], True),  # minutes before the quote
        ([10, 20, 30, 40], False),
        ([10, 20, 30, 40, 23 * 60], True),  # in the 24th hour before the quote's hour
        ([10, 20, 30, 40, 24 * 60], False),  # an hour earlier: outside the day
    ],
)
def test_high_intent_follow_up_page_view_edges(views_back: list[int], fires_: bool) -> None:
    state = fold([page_view(at(minutes=-m)) for m in views_back])
    assert fires("high_intent_follow_up", state, quote()) == fires_


@pytest.mark.parametrize(
    ("previous", "fires_"),
    [
        (timedelta(days=-7), True),  # exactly a week before: a second quote within 7 days
        (timedelta(days=-7, seconds=-1), False),
        (timedelta(days=1), False),  # a later quote does not make an earlier one a second
        (None, False),
    ],
)
def test_high_intent_follow_up_second_quote_edges(previous: timedelta | None, fires_: bool) -> None:
    state = fold([quote(T0 + previous, "car insurance")] if previous is not None else [])
    assert fires("high_intent_follow_up", state, quote()) == fires_
