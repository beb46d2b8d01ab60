"""The stream worker through the real broker: triggers, dead letters, restarts."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, BEHAVIOR_EVENTS_DLQ, COMMS_COMMANDS, TRIGGER_DECISIONS
from tests.integration.harness import NudgeProcess, free_port, publish, read_until, scrape
from tests.integration.scenarios import (
    as_messages,
    income_dropper,
    ordered,
    spend,
    spiker,
    steady_spender,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(make_settings: Callable[..., Settings], request: pytest.FixtureRequest) -> Settings:
    """This test's settings; a test parametrized indirectly over ``settings`` names the store."""
    return make_settings(store=getattr(request, "param", "memory://"))


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[Callable[[], NudgeProcess]]:
    """Start workers on demand; whatever is still running is stopped at the end."""
    started: list[NudgeProcess] = []

    def start() -> NudgeProcess:
        process = NudgeProcess(settings, "worker", tmp_path / f"worker{len(started)}.log").start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def decoded(records: list) -> list[dict]:
    return [json.loads(r.value) for r in records]


def pairs(records: list) -> set[tuple[str, str, str]]:
    return {(c["user_id"], c["trigger_id"], c["channel"]) for c in decoded(records)}


async def test_triggers_fire_for_the_users_who_should_and_no_others(settings, worker):
    now = datetime.now(UTC)
    events = ordered(
        steady_spender("steady-1", now), spiker("spiker-1", now), income_dropper("dropper-1", now)
    )
    worker()
    await publish(settings, BEHAVIOR_EVENTS, as_messages(events))
    expected = {
        ("spiker-1", "spending_spike", "sms"), ("spiker-1", "spending_spike", "email"),
        ("dropper-1", "income_drop", "sms"), ("dropper-1", "income_drop", "email"),
    }  # fmt: skip
    records = await read_until(
        settings, COMMS_COMMANDS, lambda rs: expected <= pairs(rs), settle=3.0
    )
    assert pairs(records) == expected
    commands = {(c["user_id"], c["channel"]): c for c in decoded(records)}
    sms = commands[("spiker-1", "sms")]
    assert sms["body"].startswith("Hi Spiker, your spending this week is ")
    assert len(sms["body"]) <= 160
    email = commands[("dropper-1", "email")]
    assert "Dana" in email["subject"] and "33%" in email["body"]
    assert sms["source_event_id"] == "spiker-1-spike"
    decisions = await read_until(settings, TRIGGER_DECISIONS, lambda rs: len(rs) >= 2)
    fired = {(d["user_id"], d["trigger_id"]) for d in decoded(decisions) if d["outcome"] == "fired"}
    assert fired == {("spiker-1", "spending_spike"), ("dropper-1", "income_drop")}


async def test_malformed_messages_become_dead_letters_and_later_events_still_count(
    settings, worker
):
    now = datetime.now(UTC)
    bad = [
        (b"spiker-2", b"{not json"),
        (b"spiker-2", json.dumps({"event_id": "x1", "user_id": "spiker-2"}).encode()),
        (b"someone-else", spend("spiker-2", now, "10.00").model_dump_json().encode()),
    ]
    worker()
    await publish(settings, BEHAVIOR_EVENTS, [*bad, *as_messages(spiker("spiker-2", now))])
    letters = decoded(await read_until(settings, BEHAVIOR_EVENTS_DLQ, lambda rs: len(rs) >= 3))
    # Original bytes come back untouched, each with its reason (partitions may reorder them).
    by_value = {base64.b64decode(letter["value"]): letter for letter in letters}
    assert [by_value[value]["kind"] for _, value in bad] == ["not_json", "invalid", "key_mismatch"]
    assert "occurred_at: Field required" in by_value[bad[1][1]]["error"]
    assert all(
        letter["topic"] == BEHAVIOR_EVENTS.full_name(settings.topic_prefix) for letter in letters
    )
    commands = await read_until(settings, COMMS_COMMANDS, lambda rs: len(rs) >= 2)
    assert pairs(commands) == {
        ("spiker-2", "spending_spike", "sms"),
        ("spiker-2", "spending_spike", "email"),
    }


# RocksDB keeps its files (settings.data_dir) across the restart; Faust recovers from the
# changelog whatever they miss, e.g. the writes a SIGKILL cut short.
@pytest.mark.parametrize("settings", ["memory://", "rocksdb://"], indirect=True)
@pytest.mark.parametrize("stop", ["graceful", "crash"])
async def test_restart_recovers_state_from_the_changelog_and_doubles_nothing(
    settings, worker, stop
):
    now = datetime.now(UTC)
    history = spiker("spiker-3", now - timedelta(hours=2))
    first = worker()
    await publish(settings, BEHAVIOR_EVENTS, as_messages(history))
    before = await read_until(settings, COMMS_COMMANDS, lambda rs: len(rs) >= 2)
    if stop == "graceful":
        assert first.stop() == 0
    else:
        first.kill()
    # The new worker knows the history and the firing only if it recovered the table:
    # without it there is no baseline and no cooldown, so nothing would be decided.
    second_spike = spend("spiker-3", now - timedelta(minutes=1), "300.00", "spiker-3-again")
    worker()
    await publish(settings, BEHAVIOR_EVENTS, as_messages([history[-1], second_spike]))
    decisions = decoded(
        await read_until(
            settings, TRIGGER_DECISIONS,
            lambda rs: any(json.loads(r.value)["source_event_id"] == "spiker-3-again" for r in rs),
            settle=3.0,
        )
    )  # fmt: skip
    again = [d for d in decisions if d["source_event_id"] == "spiker-3-again"]
    assert [(d["outcome"], d["reason"]) for d in again] == [("suppressed", "cooldown")]
    after = await read_until(settings, COMMS_COMMANDS, lambda rs: len(rs) >= 2, settle=2.0)
    ids = Counter(json.loads(r.value)["command_id"] for r in after)
    assert set(ids) == {json.loads(r.value)["command_id"] for r in before}
    if stop == "graceful":
        # Offsets were committed on the way down: nothing was reprocessed or re-sent.
        assert sorted(ids.values()) == [1, 1]


async def test_the_worker_exports_what_it_did_as_prometheus_metrics(make_settings, tmp_path):
    port = free_port()
    settings = make_settings(metrics_port=port)
    now = datetime.now(UTC)
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    try:
        history = spiker("spiker-m", now)
        await publish(settings, BEHAVIOR_EVENTS, [(b"spiker-m", b"nope"), *as_messages(history)])
        await read_until(settings, COMMS_COMMANDS, lambda rs: len(rs) >= 2)
        samples = scrape(port)
    finally:
        worker.stop()
    transactions = sum(1 for e in history if e.type == "transaction")
    assert samples['nudge_events_total{type="transaction"}'] == transactions
    assert samples['nudge_events_total{type="profile_update"}'] == 1
    topic = BEHAVIOR_EVENTS.full_name(settings.topic_prefix)
    assert samples[f'nudge_events_invalid_total{{kind="not_json",topic="{topic}"}}'] == 1
    assert samples['nudge_commands_total{channel="sms",trigger="spending_spike"}'] == 1
    fired = 'nudge_trigger_decisions_total{outcome="fired",reason="",trigger="spending_spike"}'
    assert samples[fired] == 1
    assert samples['nudge_decision_latency_seconds_count{trigger="spending_spike"}'] == 2
