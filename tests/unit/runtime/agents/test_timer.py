"""The worker's timer pass over in-memory stand-ins for Faust's table and topics.

The Kafka-level behaviour (a real worker's timer, a moved clock) is in
tests/integration/runtime/test_schedule.py; here the pass's own rules: only the worker's
own partitions, schedules that come round, written back to the right changelog
partition, stopped by a rebalance.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import orjson

from schemas.events import Event
from streams.core.behavior.change import judged_week_closed_at
from streams.core.decisions.process import process_scheduled
from streams.core.rendering import default_catalogue
from streams.core.state.record import UserState
from streams.core.triggers.catalogue import default_definitions
from streams.core.triggers.due import REPLAY_PAUSE_SECONDS, PartitionRead
from streams.runtime.agents.ingest import IngestStage
from streams.runtime.agents.timer import SLICE_USERS, Scheduler
from streams.runtime.outbox import BufferedOutbox
from streams.runtime.user_table import MemoryUserTable
from tests.unit.factories import event, fold, profile
from tests.unit.runtime.agents.stand_ins import NOW, Clock, Topic, stage


def lapsed(user: str) -> list[Event]:
    """Sessions until 20 days before NOW: inactive long enough for app_usage_decline."""
    session = {"type": "app_session", "duration_seconds": 60.0}
    return [
        profile(user, NOW - timedelta(days=60), first_name="Ada"),
        *(event(user, NOW - timedelta(days=d), session) for d in (40, 30, 20)),
    ]


def memory(ingest: IngestStage) -> MemoryUserTable:
    assert isinstance(ingest.users, MemoryUserTable)
    return ingest.users


def read_up(ingest: IngestStage, *partitions: int) -> None:
    """Say the worker has read ``partitions`` to the present (so behaviour may be judged)."""
    for partition in partitions:
        ingest.reads[partition] = PartitionRead(NOW, NOW)


def put(ingest: IngestStage, user: str, partition: int, events: list[Event]) -> None:
    state = fold(events)
    state.partition = partition
    memory(ingest).table.data[user.encode()] = (
        state if memory(ingest).keep_objects else state.to_bytes()
    )


async def test_a_pass_covers_only_the_partitions_this_worker_owns() -> None:
    ingest = stage(Clock())
    put(ingest, "mine", 0, lapsed("mine"))
    put(ingest, "standby", 1, lapsed("standby"))  # a standby copy of another worker's user
    put(ingest, "legacy", -1, lapsed("legacy"))  # written before partitions were kept
    summary = await Scheduler(ingest).run_pass({0})
    assert summary.users == 1
    assert {d["user_id"] for d in ingest.decisions.sent} == {"mine"}
    assert {c["user_id"] for c in ingest.commands.sent} == {"mine"}
    (written,) = memory(ingest).table.changelog
    assert written[:2] == (0, b"mine")
    assert (
        UserState.from_bytes(written[2])
        .episodes["app_usage_decline"]
        .startswith("last_app_session_at=")
    )


async def test_a_schedule_runs_again_only_when_it_comes_round() -> None:
    clock = Clock()
    ingest = stage(clock)
    put(ingest, "ada", 0, [profile("ada", NOW - timedelta(days=1), first_name="Ada")])
    scheduler = Scheduler(ingest)
    first = await scheduler.run_pass({0})
    assert "application_incomplete" in first.evaluated  # hourly
    assert "birthday_approaching" in first.evaluated  # daily
    clock.now = NOW + timedelta(minutes=59)
    assert (await scheduler.run_pass({0})).evaluated == ()
    clock.now = NOW + timedelta(hours=1)
    assert (await scheduler.run_pass({0})).evaluated == ("application_incomplete",)
    clock.now = NOW + timedelta(days=1)
    assert "birthday_approaching" in (await scheduler.run_pass({0})).evaluated


async def test_a_lapse_found_on_a_later_tick_fires_once() -> None:
    clock = Clock()
    ingest = stage(clock, keep_objects=False)  # records as bytes, as with RocksDB
    put(ingest, "ada", 2, lapsed("ada")[:-1])  # last session 30 days ago
    scheduler = Scheduler(ingest)
    await scheduler.run_pass({2})
    fired = [d for d in ingest.decisions.sent if d["trigger_id"] == "app_usage_decline"]
    assert len(fired) == 1 and fired[0]["outcome"] == "fired"
    clock.now = NOW + timedelta(days=1)
    await scheduler.run_pass({2})
    assert len(ingest.decisions.sent) == 1  # the same lapse is not judged twice


async def test_held_sends_go_out_when_due_on_a_tick_without_schedules() -> None:
    clock = Clock()
    ingest = stage(clock)
    state = fold(lapsed("ada"))
    state.partition = 0
    memory(ingest).table.data[b"ada"] = state
    scheduler = Scheduler(ingest)
    await scheduler.run_pass({0})  # fires app_usage_decline now; nothing held
    sent = len(ingest.commands.sent)
    command = dict(ingest.commands.sent[0])
    command.update(command_id="held-1", send_at=(NOW + timedelta(hours=3)).isoformat())
    state.pending = [command]
    clock.now = NOW + timedelta(hours=2, minutes=59)
    await scheduler.run_pass({0})
    assert len(ingest.commands.sent) == sent and state.pending
    clock.now = NOW + timedelta(hours=3)
    await scheduler.run_pass({0})
    assert [c["command_id"] for c in ingest.commands.sent[sent:]] == ["held-1"]
    assert state.pending == []  # released once, kept nowhere
    clock.now = NOW + timedelta(hours=4)
    await scheduler.run_pass({0})
    assert len(ingest.commands.sent) == sent + 1


async def test_a_pass_over_no_user_does_not_count_as_a_run() -> None:
    """A worker starting on empty partitions judges its first users at once, not a day later."""
    clock = Clock()
    ingest = stage(clock)
    scheduler = Scheduler(ingest)
    empty = await scheduler.run_pass({0})
    assert empty.complete and empty.users == 0 and empty.evaluated == ()
    put(ingest, "ada", 0, lapsed("ada"))
    read_up(ingest, 0)
    clock.now = NOW + timedelta(seconds=5)
    first = await scheduler.run_pass({0})
    assert set(first.evaluated) == {
        *(d.id for d in default_definitions() if d.evaluate_on.every is not None),
        "behavior_change",
    }
    assert [d["trigger_id"] for d in ingest.decisions.sent] == ["app_usage_decline"]


async def test_time_based_definitions_wait_while_a_partition_replays_history() -> None:
    """Events of days ago are still coming in: a lapse may only be the part not yet read."""
    clock = Clock()
    ingest = stage(clock)
    put(ingest, "ada", 0, lapsed("ada"))
    state = memory(ingest).table.data[b"ada"]
    state.pending = [{**held_command(), "send_at": (NOW - timedelta(minutes=1)).isoformat()}]
    # Partition 0 delivered an event of two days and a second ago, a second ago.
    ingest.reads = {
        0: PartitionRead(NOW - timedelta(days=2, seconds=1), NOW - timedelta(seconds=1)),
        1: PartitionRead(NOW, NOW),
    }
    scheduler = Scheduler(ingest)
    replaying = await scheduler.run_pass({0})
    assert replaying.replaying and replaying.evaluated == ()
    assert ingest.decisions.sent == []
    # Held sends are not judgements: they go out when due, replay or not.
    assert [c["command_id"] for c in ingest.commands.sent] == ["held-1"]
    assert set(ingest.reads) == {0}  # 1 is not this worker's: forgotten
    # An event of exactly two days: the partition reads the present.
    ingest.reads[0] = PartitionRead(NOW - timedelta(days=2), NOW)
    caught_up = await scheduler.run_pass({0})
    assert not caught_up.replaying and "app_usage_decline" in caught_up.evaluated
    assert [d["trigger_id"] for d in ingest.decisions.sent] == ["app_usage_decline"]


async def test_a_partition_quiet_after_old_events_no_longer_holds_the_timer() -> None:
    """A few late events, or a replay that has ended: absences may be judged again."""
    clock = Clock()
    ingest = stage(clock)
    put(ingest, "ada", 0, lapsed("ada"))
    old = NOW - timedelta(days=20)
    ingest.reads = {0: PartitionRead(old, NOW - timedelta(seconds=REPLAY_PAUSE_SECONDS - 1))}
    scheduler = Scheduler(ingest)
    assert (await scheduler.run_pass({0})).replaying
    ingest.reads = {0: PartitionRead(old, NOW - timedelta(seconds=REPLAY_PAUSE_SECONDS))}
    quiet = await scheduler.run_pass({0})
    assert not quiet.replaying and "app_usage_decline" in quiet.evaluated


def fading(user: str) -> list[Event]:
    """Seven sessions a week for four weeks, then one in the week before NOW's (judged)."""
    judged_monday = datetime.combine(
        (NOW - timedelta(days=NOW.weekday() + 7)).date(), time(9), tzinfo=UTC
    )
    session = {"type": "app_session", "duration_seconds": 60.0}
    days = [*range(-28, 0), 2]  # days from that Monday
    return [
        profile(user, judged_monday - timedelta(days=35), first_name="Ada"),
        *(event(user, judged_monday + timedelta(days=d), session) for d in days),
    ]


async def test_a_behavior_change_is_judged_on_a_daily_pass_and_told_once() -> None:
    clock = Clock()
    ingest = stage(clock, keep_objects=False)
    put(ingest, "ada", 0, fading("ada"))
    put(ingest, "bob", 0, fading("bob")[:-1])  # no session at all in the judged week
    read_up(ingest, 0)
    scheduler = Scheduler(ingest)
    first = await scheduler.run_pass({0})
    assert "behavior_change" in first.evaluated
    changes = [d for d in ingest.decisions.sent if d["trigger_id"] == "behavior_change"]
    assert {(d["user_id"], d["behavior_change"]["change_pct"]) for d in changes} == {
        ("ada", -85.71),
        ("bob", -100.0),
    }
    assert all(d["behavior_change"]["direction"] == "fall" for d in changes)
    # The records remember the told change: no later pass tells it again.
    clock.now = NOW + timedelta(hours=2)
    assert "behavior_change" not in (await scheduler.run_pass({0})).evaluated
    clock.now = NOW + timedelta(days=1)
    assert "behavior_change" in (await scheduler.run_pass({0})).evaluated
    assert len([d for d in ingest.decisions.sent if d["trigger_id"] == "behavior_change"]) == 2


async def test_behavior_change_waits_while_a_partition_replays() -> None:
    clock = Clock()
    ingest = stage(clock)
    put(ingest, "ada", 0, fading("ada"))
    ingest.reads = {0: PartitionRead(NOW - timedelta(days=3), NOW - timedelta(seconds=1))}
    scheduler = Scheduler(ingest)
    assert (await scheduler.run_pass({0})).evaluated == ()
    assert ingest.decisions.sent == []
    ingest.reads = {0: PartitionRead(NOW, NOW)}
    assert "behavior_change" in (await scheduler.run_pass({0})).evaluated
    # (The same fall of sessions is also the lapse app_usage_decline looks for.)
    assert [d["trigger_id"] for d in ingest.decisions.sent] == [
        "app_usage_decline",
        "behavior_change",
    ]


async def test_behavior_change_waits_while_a_partition_reads_the_judged_week() -> None:
    """A backlog after an outage: the judged week's last events are still being read."""
    clock = Clock()
    ingest = stage(clock)
    put(ingest, "ada", 0, fading("ada"))
    closed = judged_week_closed_at(NOW)
    clock.now = closed + timedelta(days=1)  # the same week judged; its events a day old
    assert judged_week_closed_at(clock.now) == closed
    ingest.reads = {0: PartitionRead(closed - timedelta(minutes=1), clock.now)}
    scheduler = Scheduler(ingest)
    waiting = await scheduler.run_pass({0})
    assert not waiting.replaying and "behavior_change" not in waiting.evaluated
    assert "app_usage_decline" in waiting.evaluated  # other schedules are not held back
    ingest.reads = {0: PartitionRead(closed, clock.now)}
    assert "behavior_change" in (await scheduler.run_pass({0})).evaluated
    assert "behavior_change" in [d["trigger_id"] for d in ingest.decisions.sent]


async def test_behavior_change_waits_for_a_partition_not_read_from_yet() -> None:
    """After a restart, the first tick may come before the first batch of a backlog."""
    ingest = stage(Clock())
    put(ingest, "ada", 0, fading("ada"))
    scheduler = Scheduler(ingest)
    assert "behavior_change" not in (await scheduler.run_pass({0})).evaluated
    ingest.progress.lag[("behavior.events", 0)] = 3  # sampled: three events to read
    assert "behavior_change" not in (await scheduler.run_pass({0})).evaluated
    ingest.progress.lag[("behavior.events", 0)] = 0  # caught up (a quiet partition)
    assert "behavior_change" in (await scheduler.run_pass({0})).evaluated


def held_command() -> dict[str, Any]:
    """A real command as a record keeps it while held (``firing.remember`` dumps it as JSON)."""
    scheduled = [d for d in default_definitions() if d.evaluate_on.every is not None]
    result = process_scheduled("ada", fold(lapsed("ada")), scheduled, default_catalogue(), now=NOW)
    return {**result.commands[0].model_dump(mode="json"), "command_id": "held-1"}


async def test_a_rebalance_stops_the_pass_and_it_is_repeated_in_full() -> None:
    ingest = stage(Clock())
    for i in range(SLICE_USERS + 10):
        put(ingest, f"u{i}", 0, [profile(f"u{i}", NOW - timedelta(days=1), first_name="A")])
    rebalancing = {"now": False}
    scheduler = Scheduler(ingest, interrupted=lambda: rebalancing["now"])

    async def rebalance_soon() -> None:  # runs at the pass's first yield to the loop
        rebalancing["now"] = True

    task = asyncio.ensure_future(rebalance_soon())
    summary = await scheduler.run_pass({0})
    await task
    assert not summary.complete and summary.users == SLICE_USERS
    rebalancing["now"] = False
    again = await scheduler.run_pass({0})
    assert again.complete and again.users == SLICE_USERS + 10
    assert "birthday_approaching" in again.evaluated  # the interrupted pass did not count


@dataclass
class Message:
    key: bytes | None
    value: bytes
    topic: str = "behavior.events"
    partition: int = 0
    offset: int = 0


def delivered(item: Event) -> Message:
    return Message(item.user_id.encode(), item.model_dump_json().encode())


def test_the_ingest_stage_remembers_what_it_read_from_each_partition() -> None:
    clock = Clock()
    ingest = stage(clock)
    ingest.dead_letters = {"behavior.events": Topic()}
    assert ingest.reads == {}
    newer, older = lapsed("ada")[-1], lapsed("ada")[1]
    other = profile("bob", NOW - timedelta(days=60), first_name="Bob")
    elsewhere = Message(b"bob", other.model_dump_json().encode(), partition=3)
    broken = Message(b"ada", b"not json", partition=5)
    ingest.handle([delivered(newer), delivered(older), elsewhere, broken])
    assert ingest.reads == {
        0: PartitionRead(NOW - timedelta(days=20), NOW),
        3: PartitionRead(NOW - timedelta(days=60), NOW),
    }
    clock.now = NOW + timedelta(minutes=1)
    ingest.handle([delivered(lapsed("ada")[2])])  # older than the newest: still read now
    assert ingest.reads[0] == PartitionRead(NOW - timedelta(days=20), clock.now)


async def test_the_stage_follows_the_analytics_on_the_definitions_topic() -> None:
    ingest = stage(Clock())
    shipped = ingest.current_analytics()
    rules = {"version": 2, "rules": [{"label": "researching", "insight": "anything"}]}
    ingest.feed.entries[b"analytics:patterns"] = orjson.dumps(rules)
    applied = ingest.current_analytics()
    assert [r.label for r in applied.patterns.rules] == ["researching"]
    assert applied.scores == shipped.scores and applied.visits == shipped.visits
    del ingest.feed.entries[b"analytics:patterns"]
    assert ingest.current_analytics().patterns == shipped.patterns  # a tombstone: shipped


async def test_a_record_of_a_partition_revoked_while_outputs_went_out_is_not_written() -> None:
    """Another worker may own it now: a copy written here would undo what it wrote."""
    ingest = stage(Clock())
    put(ingest, "ada", 0, lapsed("ada"))
    put(ingest, "bob", 1, lapsed("bob"))
    owned = {0, 1}

    async def flush_during_a_revocation() -> None:
        owned.discard(1)  # partition 1 was revoked while the outputs went out

    ingest.outbox = BufferedOutbox(flush_during_a_revocation)
    await Scheduler(ingest, owned=lambda: set(owned)).run_pass({0, 1})
    assert {d["user_id"] for d in ingest.decisions.sent} == {"ada", "bob"}  # both decided
    assert [user for _, user, _ in memory(ingest).table.changelog] == [b"ada"]  # one stored


@dataclass
class _Suggested:
    alert_type: Any
    confidence: float
    explanation: str


@dataclass
class _Model:
    version: int
    name: str = "alert_recommender"

    def suggest(self, features: Any, enabled: Any) -> list[_Suggested]:
        from schemas.alerts import AlertType

        return [
            _Suggested(
                AlertType.HIGH_SPENDER, 0.6, "3 of the 5 customers most like you use this alert"
            )
        ]


@dataclass
class _Models:
    current: _Model | None


async def test_a_promotion_serves_every_user_once_per_version_on_the_next_pass() -> None:
    from tests.unit.factories import transaction

    ingest = stage(Clock())
    for n in range(3):
        put(ingest, f"spender-{n}", 0, [transaction(f"spender-{n}", NOW - timedelta(days=3), "40")])
    put(ingest, "no-debit", 0, lapsed("no-debit"))
    ingest.models = _Models(_Model(1))  # type: ignore[assignment]
    scheduler = Scheduler(ingest)
    await scheduler.run_pass({0})
    first = [r for r in ingest.recommendations.sent if r["model_version"] == 1]
    assert sorted(r["user_id"] for r in first) == ["spender-0", "spender-1", "spender-2"]
    assert {r["cause"] for r in first} == {"promotion:1"}
    # The records say who was served: the next pass serves nobody again.
    await scheduler.run_pass({0})
    assert len(ingest.recommendations.sent) == 3
    ingest.models = _Models(_Model(2))  # type: ignore[assignment]
    await scheduler.run_pass({0})
    assert sorted(r["user_id"] for r in ingest.recommendations.sent if r["model_version"] == 2) == [
        "spender-0", "spender-1", "spender-2",
    ]  # fmt: skip
