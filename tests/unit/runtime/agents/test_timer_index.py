"""The timer's due-index: which users a pass loads, and how long a slice holds the lock.

tests/unit/runtime/agents/test_timer.py holds the pass's rules (whose users, when a
schedule comes round, rebalances); here what the index changes: a tick between schedules
loads only the users with a held send due, records stored by a batch or recovered on
assignment are known to it, and a sweep over everyone rests between short slices.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

from faust.types import TP

from streams.core.decisions.send_policy import SendPolicy
from streams.core.state.record import UserState
from streams.runtime.agents.ingest import IngestStage
from streams.runtime.agents.timer import (
    SLICE_HOLD_SECONDS,
    SLICE_USERS,
    Scheduler,
    forget_revoked,
)
from streams.runtime.user_table import MemoryUserTable
from tests.unit.factories import fold, history, profile, transaction
from tests.unit.runtime.agents.stand_ins import NOW, Clock, stage
from tests.unit.runtime.agents.test_timer import delivered, held_command, lapsed, memory, put

HOUR = timedelta(hours=1)


class CountingTable:
    """A user table that counts loads and advances a fake clock by ``cost`` for each."""

    def __init__(self, inner: MemoryUserTable, cost: float = 0.0) -> None:
        self.inner = inner
        self.cost = cost
        self.clock = 0.0
        self.loaded: list[bytes] = []

    def get(self, key: bytes, partition: int | None = None) -> UserState | None:
        self.loaded.append(key)
        self.clock += self.cost
        return self.inner.get(key, partition)

    def put(self, key: bytes, partition: int, state: UserState) -> None:
        self.inner.put(key, partition, state)

    def put_back(self, key: bytes, state: UserState) -> None:
        self.inner.put_back(key, state)

    def delete(self, key: bytes, partition: int) -> None:
        self.inner.delete(key, partition)

    def keys(self, partitions: Iterable[int]) -> Iterator[tuple[bytes, int | None]]:
        return self.inner.keys(partitions)

    def count(self) -> int:
        return self.inner.count()


def counting(ingest: IngestStage, cost: float = 0.0) -> CountingTable:
    table = CountingTable(memory(ingest), cost)
    ingest.users = table
    return table


def holding(user: str, partition: int, send_at: timedelta) -> UserState:
    """A record no schedule fires on, holding one command due at NOW + ``send_at``."""
    state = fold([profile(user, NOW - timedelta(days=1), first_name="Ada")])
    state.partition = partition
    state.pending = [{**held_command(), "user_id": user, "send_at": (NOW + send_at).isoformat()}]
    return state


def test_a_stored_record_is_noted_with_its_first_held_send() -> None:
    ingest = stage(Clock())
    ingest.store(b"ada", 0, holding("ada", 0, 3 * HOUR))
    assert [u.key for u in ingest.due_index.take_due((NOW + 3 * HOUR).timestamp())] == [b"ada"]
    ingest.store(b"ada", 0, holding("ada", 0, 3 * HOUR))
    ingest.store(b"ada", 0, UserState(partition=0))  # released: nothing held any more
    assert len(ingest.due_index) == 0


def test_a_send_held_by_a_batch_is_in_the_index() -> None:
    ingest = stage(Clock())
    # Quiet from 11:00 to 13:00 UTC: a large debit at noon is held until 13:00.
    ingest.policy = SendPolicy(quiet_start=11, quiet_end=13)
    usual = history("ada", NOW - timedelta(days=35), days=34, daily="20.00")
    ingest.handle([delivered(e) for e in [*usual, transaction("ada", NOW, "900.00")]])
    state = memory(ingest).get(b"ada")
    assert state is not None and state.pending
    (due,) = ingest.due_index.take_due((NOW + 24 * HOUR).timestamp())
    assert (due.key, due.partition) == (b"ada", 0)
    assert due.at == (NOW + HOUR).timestamp()


async def test_a_tick_between_schedules_loads_only_users_whose_send_is_due() -> None:
    clock = Clock()
    ingest = stage(clock)
    for i in range(50):
        put(ingest, f"u{i}", 0, lapsed(f"u{i}"))
    memory(ingest).table.data[b"ada"] = holding("ada", 0, 3 * HOUR)
    scheduler = Scheduler(ingest)
    first = await scheduler.run_pass({0})  # schedules due, partition new: everyone
    assert first.users == 51 and first.swept == (0,)
    table = counting(ingest)
    clock.now = NOW + 2 * HOUR + timedelta(seconds=59)  # the hourly schedule came round
    assert (await scheduler.run_pass({0})).swept == (0,)
    table.loaded.clear()
    clock.now = NOW + 2 * HOUR + 30 * timedelta(minutes=1)  # nothing came round, nothing due
    quiet = await scheduler.run_pass({0})
    assert quiet.complete and quiet.users == 0 and quiet.swept == () and table.loaded == []
    sent = len(ingest.commands.sent)
    clock.now = NOW + 3 * HOUR  # ada's send is due; the hourly one is 59 s away
    due = await scheduler.run_pass({0})
    assert table.loaded == [b"ada"] and due.users == 1 and due.commands == 1
    assert [c["command_id"] for c in ingest.commands.sent[sent:]] == ["held-1"]
    assert len(ingest.due_index) == 0


async def test_records_recovered_on_assignment_are_looked_at_once_then_indexed() -> None:
    """Records the stage never stored (recovered from the changelog) are found by a sweep."""
    clock = Clock()
    ingest = stage(clock)
    put(ingest, "ada", 0, lapsed("ada"))
    scheduler = Scheduler(ingest)
    await scheduler.run_pass({0, 1})  # the schedules have run; both partitions indexed
    # Partition 1 is revoked and given back; its recovered record holds a send.
    forget_revoked(ingest)(None, {TP("behavior.events", 1)})
    memory(ingest).table.data[b"bob"] = holding("bob", 1, HOUR / 2)
    table = counting(ingest)
    clock.now = NOW + timedelta(minutes=1)
    rebuilt = await scheduler.run_pass({0, 1})
    assert rebuilt.swept == (1,) and rebuilt.evaluated == () and rebuilt.users == 1
    table.loaded.clear()
    clock.now = NOW + timedelta(minutes=2)
    assert (await scheduler.run_pass({0, 1})).swept == () and table.loaded == []
    clock.now = NOW + HOUR / 2  # between schedules, and bob's send is due
    released = await scheduler.run_pass({0, 1})
    assert released.commands == 1 and table.loaded == [b"bob"]


async def test_a_partition_no_longer_ours_is_forgotten_and_swept_when_it_returns() -> None:
    clock = Clock()
    ingest = stage(clock)
    put(ingest, "ada", 0, lapsed("ada"))
    ingest.store(b"bob", 1, holding("bob", 1, HOUR / 2))
    scheduler = Scheduler(ingest)
    await scheduler.run_pass({0, 1})
    clock.now = NOW + 50 * timedelta(minutes=1)  # bob's send is due; partition 1 went elsewhere
    gone = await scheduler.run_pass({0})
    assert gone.users == 0 and ingest.due_index.completed() == {0}
    assert all(c["user_id"] == "ada" for c in ingest.commands.sent)
    clock.now = NOW + 55 * timedelta(minutes=1)  # back: looked at in full
    back = await scheduler.run_pass({0, 1})
    assert back.swept == (1,) and back.commands == 1


async def test_a_sweep_holds_the_lock_for_short_slices_and_lets_batches_in() -> None:
    ingest = stage(Clock())
    users = 2 * SLICE_USERS
    for i in range(users):
        put(ingest, f"u{i}", 0, [profile(f"u{i}", NOW - timedelta(days=1), first_name="A")])
    # Each user costs 0.7 ms on the slices' clock (a slow one: most cost ~10 µs).
    cost = 0.0007
    table = counting(ingest, cost=cost)

    def perf() -> float:
        return table.clock

    scheduler = Scheduler(ingest, perf=perf)
    batches: list[int] = []

    async def batch_arrives() -> None:  # an agent batch waiting for the lock
        async with ingest.lock:
            batches.append(len(table.loaded))

    first = await scheduler.run_pass({0})  # its first slice is not cut short: warming up
    assert abs(first.longest_hold - SLICE_USERS * cost) < 1e-9
    scheduler._last_run.clear()  # every schedule due again: everyone looked at
    table.loaded.clear()
    waiting = asyncio.ensure_future(batch_arrives())
    summary = await scheduler.run_pass({0})
    await waiting
    assert summary.complete and summary.users == users and len(table.loaded) == users
    assert 0 < batches[0] < users  # it got the lock between two slices
    # One user past the deadline at most: 8 users, 5.6 ms.
    assert summary.longest_hold <= SLICE_HOLD_SECONDS + cost + 1e-9


async def test_a_rebalance_stops_a_pass_over_due_users_and_they_stay_due() -> None:
    clock = Clock()
    ingest = stage(clock)
    scheduler = Scheduler(ingest)
    await scheduler.run_pass({0})
    for i in range(SLICE_USERS + 10):
        user = f"u{i}"
        ingest.store(user.encode(), 0, holding(user, 0, HOUR / 2))
    rebalancing = {"now": False}
    scheduler.interrupted = lambda: rebalancing["now"]

    async def rebalance_soon() -> None:
        rebalancing["now"] = True

    clock.now = NOW + HOUR / 2  # between schedules: only the users whose send is due
    task = asyncio.ensure_future(rebalance_soon())
    stopped = await scheduler.run_pass({0})
    await task
    assert not stopped.complete and 0 < stopped.users < SLICE_USERS + 10
    assert len(ingest.due_index) == SLICE_USERS + 10 - stopped.users  # the rest put back
    rebalancing["now"] = False
    rest = await scheduler.run_pass({0})
    assert rest.complete and rest.commands == SLICE_USERS + 10 - stopped.users
    assert len(ingest.commands.sent) == SLICE_USERS + 10


def test_the_revoked_handler_takes_the_signals_arguments() -> None:
    ingest = stage(Clock())
    ingest.due_index.complete({2, 3}, ingest.due_index.epoch)
    handler: Any = forget_revoked(ingest)
    handler(None, revoked={TP("user_state-changelog", 3)}, signal=None)
    assert ingest.due_index.completed() == {2}
