"""Issue 8, items 1, 2 and 5, each reproduced through the real broker (and database).

1. One poison message in a batch must not throw the batch's valid events away.
2. A hostile definition on ``triggers.definitions`` must not stop processing, and the
   other triggers must keep firing.
5. What the stream accepts and publishes, the database stores: no NUL refused by
   PostgreSQL after the commands went out, no row lost to an event id another user
   also used.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.settings import Settings
from schemas.topics import (
    BEHAVIOR_EVENTS,
    BEHAVIOR_EVENTS_DLQ,
    COMMS_COMMANDS,
    COMMS_OUTCOMES,
    TRIGGER_DECISIONS,
    TRIGGERS_DEFINITIONS,
)
from sinks.migrate import upgrade
from tests.integration.harness import NudgeProcess, free_port, scrape, wait_until
from tests.integration.runtime.poison_support import (
    INPUTS,
    Outgoing,
    command_pairs,
    crash_signs,
    dead_letter_places,
    page_views,
    publish_tracked,
    read_all,
    settle,
    total,
    valid,
)
from tests.integration.scenarios import ordered, spiker, steady_spender
from tests.integration.sink_harness import offsets_caught_up, query, running_sink
from tests.poison import Poison, load_corpus
from tests.unit.factories import event

pytestmark = pytest.mark.integration

INPUT_SPECS = tuple(INPUTS.values())
#: How long the worker gets to catch up with a few hundred messages.
SETTLE_SECONDS = 60.0


@pytest.fixture
def metrics_port() -> int:
    return free_port()


@pytest.fixture
def settings(make_settings: Callable[..., Settings], metrics_port: int) -> Settings:
    return make_settings(metrics_port=metrics_port)


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[Callable[..., NudgeProcess]]:
    started: list[NudgeProcess] = []

    def start(command: str = "worker") -> NudgeProcess:
        # A sink beside the worker needs a metrics port of its own.
        own = (
            settings
            if command == "worker"
            else settings.model_copy(update={"metrics_port": free_port()})
        )
        process = NudgeProcess(own, command, tmp_path / f"{command}{len(started)}.log")
        started.append(process.start())
        return process

    yield start
    for process in started:
        process.stop()


def poison(name: str) -> Poison:
    return next(p for p in load_corpus() if p.name == name)


# --- item 1: a poison message throws its batch away ---------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "tz_folder_america",
        "tz_very_long",
        "nested_arrays_500_ignored_field",
        "balance_1e999999",
        "non_json_1mb",
    ],
)
async def test_forty_valid_events_sharing_a_batch_with_one_poison_are_all_processed(
    settings, worker, metrics_port, name
):
    now = datetime.now(UTC)
    bad = poison(name)
    item = bad.instance(user="poisoner", now=now, seq=1)
    # Ten page views each for four users, on both partitions, around the poison.
    views = [m for user in ("va", "vb", "vc", "vd") for m in page_views(user, now, 10)]
    setup = [Outgoing(INPUTS[bad.topic], k, v, "valid") for k, v in item.setup]
    hostile = Outgoing(INPUTS[bad.topic], item.key, item.value, "hostile", bad.name)
    # Published before the worker starts: its first fetch holds all of them, one batch.
    published = await publish_tracked(settings, [*views[:20], *setup, hostile, *views[20:]])
    process = worker()
    lag = await settle(settings, process, INPUT_SPECS, SETTLE_SECONDS)
    samples = scrape(metrics_port)
    letters = await read_all(
        settings, (BEHAVIOR_EVENTS_DLQ,), lambda rs: len(rs) >= 1, timeout=5, quiet=1
    )
    problems = []
    if not process.running():
        problems.append(f"the worker exited with {process.process.poll()}")
    processed = total(samples, "nudge_events_total")
    expected = len(views) + len(setup)
    if processed != expected:
        problems.append(f"{processed:.0f} of {expected} valid events processed")
    if dead_letter_places(letters) != published.of("hostile"):
        problems.append(f"{len(letters)} dead letters for the one poison")
    if lag != 0:
        problems.append(f"lag {lag}")
    problems += crash_signs(process)
    assert not problems, f"{name}: " + "; ".join(problems)


# --- item 2: a hostile definition stops all processing ------------------------------------------


def _definition(now: datetime, seq: int) -> Outgoing:
    item = poison("definition_not_nested_250").instance(user="-", now=now, seq=seq)
    return Outgoing(TRIGGERS_DEFINITIONS, item.key, item.value, "definition", "not x250")


async def _spike_fires(settings: Settings, users: list[str], timeout: float) -> set:
    expected = {(u, "spending_spike", ch) for u in users for ch in ("sms", "email")}
    records = await read_all(
        settings, (COMMS_COMMANDS,), lambda rs: expected <= command_pairs(rs), timeout=timeout
    )
    return expected - command_pairs(records)


async def test_a_definition_nesting_250_nots_neither_stops_processing_nor_other_triggers(
    settings, worker, metrics_port
):
    now = datetime.now(UTC)
    await publish_tracked(settings, [_definition(now, 1)])
    process = worker()
    events = ordered(spiker("spiker-d1", now), steady_spender("steady-d1", now))
    await publish_tracked(settings, valid(events))
    lag = await settle(settings, process, INPUT_SPECS, SETTLE_SECONDS)
    missing = await _spike_fires(settings, ["spiker-d1"], timeout=15)
    processed = total(scrape(metrics_port), "nudge_events_total")
    problems = []
    if missing:
        problems.append(f"commands missing: {sorted(missing)}")
    if processed != len(events):
        problems.append(f"{processed:.0f} of {len(events)} valid events processed (lag {lag})")
    if not process.running():
        problems.append("the worker exited")
    problems += crash_signs(process)
    assert not problems, "; ".join(problems)


async def test_a_definition_nesting_250_nots_published_mid_stream_stops_nothing(
    settings, worker, metrics_port
):
    now = datetime.now(UTC)
    process = worker()
    first = spiker("spiker-d2", now)
    await publish_tracked(settings, valid(first))
    assert not await _spike_fires(settings, ["spiker-d2"], timeout=60), "no first firing"
    await publish_tracked(settings, [_definition(now, 2)])

    def seen() -> bool:
        return any(
            e.get("message") == "trigger definition changed" and e.get("trigger") == "fuzz_2"
            for e in process.log_entries()
        )

    await wait_until(seen, "the worker to read the hostile definition")
    second = ordered(spiker("spiker-d3", now), steady_spender("steady-d3", now))
    await publish_tracked(settings, valid(second))
    lag = await settle(settings, process, INPUT_SPECS, SETTLE_SECONDS)
    missing = await _spike_fires(settings, ["spiker-d3"], timeout=15)
    processed = total(scrape(metrics_port), "nudge_events_total")
    problems = []
    if missing:
        problems.append(f"commands missing after the definition: {sorted(missing)}")
    if processed != len(first) + len(second):
        problems.append(
            f"{processed:.0f} of {len(first) + len(second)} valid events processed (lag {lag})"
        )
    if not process.running():
        problems.append("the worker exited")
    problems += crash_signs(process)
    assert not problems, "; ".join(problems)


# --- item 5: the database refuses or drops what the stream accepted ------------------------------


@pytest.fixture
def migrated(settings: Settings) -> Settings:
    upgrade(settings)
    return settings


async def test_a_nul_in_user_id_is_never_published_then_refused_by_the_database(migrated, worker):
    settings = migrated
    now = datetime.now(UTC)
    nul_user, plain_user = "nul\x00user", "plain-user"
    # Built for a stand-in user (the factories validate, and the schema now refuses NUL
    # in ids), then given the NUL user as a producer would send it.
    stand_in = "nul-stand-in"
    messages = [
        Outgoing(
            m.spec,
            nul_user.encode() if m.key == stand_in.encode() else m.key,
            (m.value or b"").replace(stand_in.encode(), b"nul\\u0000user"),
            m.kind,
        )
        for m in valid(ordered(spiker(stand_in, now), spiker(plain_user, now)))
    ]
    process = worker()
    sink = worker("sink")
    await publish_tracked(settings, messages)
    await settle(settings, process, INPUT_SPECS, SETTLE_SECONDS)
    # Everything the worker published, stored or dead-lettered by the sink.
    await wait_until(lambda: offsets_caught_up(settings), "the sink to commit its topics")
    commands = [json.loads(r.value) for r in await read_all(settings, (COMMS_COMMANDS,))]
    decisions = [json.loads(r.value) for r in await read_all(settings, (TRIGGER_DECISIONS,))]
    stored_commands = {
        r["command_id"] for r in query(settings, "SELECT command_id FROM communications")
    }
    stored_decisions = {
        r["decision_id"] for r in query(settings, "SELECT decision_id FROM trigger_events")
    }
    refused = query(
        settings, "SELECT topic, error FROM dead_letters WHERE error LIKE 'database refused%'"
    )
    assert sink.running()
    assert {c["user_id"] for c in commands} >= {plain_user}, "the plain spiker must fire"
    lost_commands = [c["command_id"] for c in commands if c["command_id"] not in stored_commands]
    lost_decisions = [
        d["decision_id"] for d in decisions if d["decision_id"] not in stored_decisions
    ]
    assert (lost_commands, lost_decisions, refused) == ([], [], []), (
        f"{len(lost_commands)} published commands and {len(lost_decisions)} decisions have "
        f"no row; {len(refused)} rows refused by PostgreSQL: "
        f"{sorted({r['topic'] for r in refused})}"
    )


def _envelope(user: str, at: datetime, payload: dict, event_id: str) -> bytes:
    return event(user, at, payload, event_id=event_id).model_dump_json().encode()


async def test_an_event_id_another_user_also_used_does_not_drop_a_row(migrated):
    settings = migrated
    now = datetime.now(UTC)
    shared_payment, shared_outcome = f"shared-{uuid.uuid4()}", f"shared-{uuid.uuid4()}"
    missed = {"type": "payment", "status": "missed", "amount": "80.00"}
    outcome = {"type": "comms_outcome", "command_id": "c-1", "outcome": "delivered"}
    messages = []
    for user in ("ana", "ben", "cy"):
        at = now - timedelta(hours=1)
        messages.append(
            Outgoing(
                BEHAVIOR_EVENTS, user.encode(), _envelope(user, at, missed, shared_payment), "valid"
            )
        )
        messages.append(
            Outgoing(
                COMMS_OUTCOMES, user.encode(), _envelope(user, at, outcome, shared_outcome), "valid"
            )
        )
    async with running_sink(settings):
        await publish_tracked(settings, messages)
        await wait_until(lambda: offsets_caught_up(settings), "the sink to commit its topics")
    payments = query(settings, "SELECT user_id FROM missed_payments")
    outcomes = query(settings, "SELECT user_id FROM outcomes")
    assert (sorted(r["user_id"] for r in payments), sorted(r["user_id"] for r in outcomes)) == (
        ["ana", "ben", "cy"],
        ["ana", "ben", "cy"],
    ), "dedup is per user in the stream; the tables keyed by event_id alone drop rows"
