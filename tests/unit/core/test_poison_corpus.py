"""Every line of the poison corpus through the pure core: nothing may raise (issue 8).

Each message goes through ``schemas.intake.decode_event``; if accepted, through
``streams.core.decisions.process.process`` with the shipped definitions and templates on a fresh
user and on a user with history, then the timer's pass (``process_idle``) and the
state record's round trip. What is accepted must also be storable and readable
downstream (no NUL for PostgreSQL, outputs readable by their own schema, no template
syntax from user text in plain-text bodies), and what is refused must fit in a dead
letter Kafka can carry. Definitions on ``triggers.definitions`` go through the
definitions source: a hostile one is refused and the shipped ones stay in force.
"""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from pydantic import BaseModel

from schemas.events import Event
from schemas.intake import Rejection, dead_letter, decode_event
from streams.core.decisions.process import process, process_idle
from streams.core.decisions.result import Result
from streams.core.rendering import default_catalogue
from streams.core.state.record import UserState
from streams.core.triggers.catalogue import default_definitions
from streams.core.triggers.overlay import DefinitionOverlay
from tests.poison import Instance, Poison, definition_poisons, input_poisons
from tests.unit import factories as f

#: The clock of every probe: five minutes after the history's spike time.
NOW = f.spike_at(timedelta(minutes=5))
USER = "probe-user"
MAX_EVENT_AGE_SECONDS = 2 * 86_400
#: Faust's default ``producer_max_request_size``; the broker's ``message.max.bytes`` is
#: about the same (1 MiB). A record past it cannot be produced.
KAFKA_RECORD_LIMIT = 1_000_000
#: Template syntax a templating sender downstream would evaluate.
TEMPLATE_SYNTAX = ("{{", "{%", "${")

INPUTS = input_poisons()
DEFINITIONS = definition_poisons()


def _ids(poisons: list[Poison]) -> list[str]:
    return [p.name for p in poisons]


def instance(poison: Poison) -> Instance:
    return poison.instance(user=USER, now=NOW)


def history() -> list[Event]:
    """A user with a month of spending, a profile, risk scores, a payment due, a goal."""
    start = f.START
    events = f.spike_history(USER)
    events.append(
        f.profile(USER, start, first_name="Ana", relationship_status="single",
                  timezone="Europe/London", tier="free", birthday="1990-02-10")
    )  # fmt: skip
    for days, score in ((9, 0.5), (6, 0.55), (3, 0.62)):
        payload = {"type": "risk_score", "score": score, "top_drivers": ["utilisation"]}
        events.append(f.event(USER, NOW - timedelta(days=days), payload))
    due = {"type": "payment", "status": "due", "amount": "80.00", "due_date": "2026-02-20"}
    events.append(f.event(USER, NOW - timedelta(days=2), due))
    goal = {"type": "savings_progress", "goal_id": "holiday", "saved": "10", "target": "100"}
    events.append(f.event(USER, start + timedelta(days=1), goal))
    for day in range(20, 34):
        session = {"type": "app_session", "duration_seconds": 60}
        events.append(f.event(USER, start + timedelta(days=day, hours=1), session))
    return sorted(events, key=lambda e: e.occurred_at)


def run(state: UserState, event: Event) -> Result:
    return process(
        state,
        event,
        default_definitions(),
        default_catalogue(),
        now=NOW,
        max_event_age_seconds=MAX_EVENT_AGE_SECONDS,
    )


def decoded(key: bytes | None, value: bytes | None) -> Event | Rejection:
    return decode_event(key, value, now=NOW)[0]


def setup_state(item: Instance, state: UserState) -> UserState:
    for key, value in item.setup:
        event = decoded(key, value)
        assert isinstance(event, Event), f"a setup message was refused: {event}"
        run(state, event)
    return state


def states(item: Instance) -> dict[str, UserState]:
    """A fresh user and a user with history, each after the poison's setup."""
    return {
        "fresh": setup_state(item, UserState()),
        "history": setup_state(item, f.fold(history())),
    }


def outcomes(poison: Poison) -> list[tuple[str, UserState, Result]]:
    """Run the poison (accepted) on both states; return each state and result."""
    item = instance(poison)
    event = decoded(item.key, item.value)
    if isinstance(event, Rejection):
        return []
    found = []
    for label, state in states(item).items():
        found.append((label, state, run(state, event)))
    return found


# --- nothing raises ----------------------------------------------------------------------


@pytest.mark.parametrize("poison", INPUTS, ids=_ids(INPUTS))
def test_nothing_raises_in_intake_core_timer_or_state_codec(poison: Poison) -> None:
    item = instance(poison)
    event = decoded(item.key, item.value)
    if isinstance(event, Rejection):
        return
    scheduled = [d for d in default_definitions() if d.evaluate_on.every is not None]
    for state in states(item).values():
        run(state, event)
        encoded = state.to_bytes()
        assert UserState.from_bytes(encoded).to_bytes() == encoded
        # The timer reads what the event left in the state (zone, dates) a day later.
        process_idle(
            event.user_id, state, scheduled, default_catalogue(), now=NOW + timedelta(days=1)
        )
        UserState.from_bytes(state.to_bytes())


# --- refused or accepted as the corpus says ------------------------------------------------


DECIDED = [p for p in INPUTS if p.expect != "either"]


@pytest.mark.parametrize("poison", DECIDED, ids=_ids(DECIDED))
def test_the_intake_refuses_or_accepts_as_the_corpus_says(poison: Poison) -> None:
    item = instance(poison)
    try:
        event = decoded(item.key, item.value)
    except RecursionError:
        pytest.fail("decode_event raised RecursionError (counted by the test above)")
    got = "reject" if isinstance(event, Rejection) else "accept"
    assert got == poison.expect, f"{poison.name}: {poison.why}"


# --- what is refused fits in a dead letter ---------------------------------------------------


@pytest.mark.parametrize("poison", INPUTS, ids=_ids(INPUTS))
def test_a_dead_letter_fits_in_a_kafka_record(poison: Poison) -> None:
    item = instance(poison)
    try:
        event = decoded(item.key, item.value)
    except RecursionError:
        pytest.skip("decode_event raises (see test_nothing_raises...)")
    if not isinstance(event, Rejection):
        return
    letter = dead_letter(
        event,
        topic=poison.topic,
        partition=0,
        offset=0,
        key=item.key,
        value=item.value,
        failed_at=NOW,
    )
    size = len(item.key or b"") + len(letter.model_dump_json().encode())
    assert size < KAFKA_RECORD_LIMIT, f"dead letter of {size:,} bytes (key + value)"


# --- what is accepted can be stored and read downstream ---------------------------------------


def _outputs(result: Result) -> list[BaseModel]:
    return [*result.decisions, *result.commands, *result.interventions]


@pytest.mark.parametrize("poison", INPUTS, ids=_ids(INPUTS))
def test_what_is_accepted_is_storable_and_readable_downstream(poison: Poison) -> None:
    try:
        ran = outcomes(poison)
    except Exception as exc:  # noqa: BLE001 - reported by the first test of this module
        pytest.skip(f"raises {type(exc).__name__} (see test_nothing_raises...)")
    problems = []
    for label, _state, result in ran:
        for output in _outputs(result):
            text = output.model_dump_json()
            kind = type(output).__name__
            if "\\u0000" in text:
                problems.append(f"{label}: a NUL in a {kind} (PostgreSQL text refuses it)")
            try:
                again = type(output).model_validate_json(text)
            except ValueError as exc:
                problems.append(f"{label}: a {kind} its own schema cannot read back: {exc}")
            else:
                if again != output:
                    problems.append(f"{label}: a {kind} changes through its own JSON")
        for command in result.commands:
            plain = [command.subject or ""]
            if command.channel.value in ("sms", "push"):
                plain.append(command.body)
            if any(mark in text for text in plain for mark in TEMPLATE_SYNTAX):
                problems.append(f"{label}: template syntax in a {command.channel.value} message")
    assert not problems, "; ".join(problems)


# --- hostile definitions -------------------------------------------------------------------


@pytest.mark.parametrize("poison", DEFINITIONS, ids=_ids(DEFINITIONS))
def test_a_hostile_definition_is_refused_and_the_shipped_ones_stay(poison: Poison) -> None:
    item = poison.instance(user=USER, now=NOW, seq=1)
    assert item.key is not None
    source = DefinitionOverlay.shipped_with(default_catalogue())
    entries = [(item.key, item.value)]
    by_type = source.by_event_type(entries)
    transaction = {d.id for d in by_type["transaction"]}
    assert {"spending_spike", "large_transaction"} <= transaction
    if poison.expect == "reject":
        assert item.key.decode() not in transaction
        # Refused with a reason on record, and the definitions in force are the shipped ones.
        refused = source.refused()
        assert list(refused) == [item.key.decode()]
        assert refused[item.key.decode()] and all(refused[item.key.decode()])
        shipped = {d.id for d in default_definitions()}
        assert {d.id for d in source.current(entries)} == shipped
    # Every batch asks again: a refusal is remembered, not re-raised.
    before = (source.refused(), [d.id for d in source.current(entries)])
    source.by_event_type(list(entries))
    assert orjson.loads(orjson.dumps([d.id for d in source.current(entries)]))
    assert (source.refused(), [d.id for d in source.current(entries)]) == before
