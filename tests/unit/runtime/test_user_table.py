"""``RocksUserTable`` over Faust's real RocksDB store, with the changelog topic stood in.

The broker-level behaviour (a worker, a SIGKILL, a second worker) is in
tests/integration/runtime/test_rocksdb_store.py and test_worker.py; here the rules: a
record is readable at once, reaches its partition's database only with its acknowledged
changelog offset, and the timer sees the users of the partitions it asks for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.types import TP

from streams.core.state.record import UserState
from streams.runtime.user_table import MemoryUserTable, RocksUserTable, UserTable

CHANGELOG = "unit-user_state-changelog"


@dataclass
class Sent:
    key: bytes
    value: bytes | None
    partition: int
    future: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def acknowledge(self, offset: int) -> None:
        """Do what Faust's producer does on the broker's acknowledgement."""
        self.future.set_result(_Metadata(TP(CHANGELOG, self.partition), offset))


async def settled() -> None:
    """Let the done callbacks run, then the database write they schedule."""
    for _ in range(3):
        await asyncio.sleep(0)


@dataclass
class _Metadata:
    topic_partition: TP
    offset: int


@dataclass
class ChangelogTopic:
    sent: list[Sent] = field(default_factory=list)

    def send_soon(self, *, key: bytes, value: bytes | None, partition: int, **_: Any) -> Any:
        self.sent.append(Sent(key, value, partition))
        return self.sent[-1].future


@pytest.fixture
def table(tmp_path: Path) -> Iterator[Any]:
    app = faust.App("unit", store="rocksdb://", datadir=str(tmp_path), autodiscover=False)
    table: Any = app.Table("user_state", partitions=2, key_type=bytes, value_type=bytes)
    table.changelog_topic = ChangelogTopic()
    for partition in (0, 1):
        table.data._db_for_partition(partition)  # what Faust does on assignment
    yield table
    table.data._dbs.clear()


def record(partition: int, events: int = 1) -> UserState:
    state = UserState()
    state.partition = partition
    state.seen = {i: 0 for i in range(events)}
    return state


async def test_a_record_is_read_back_before_and_after_its_changelog_write_lands(table) -> None:
    users = RocksUserTable(table)
    users.put(b"ada", 1, record(1))
    db = table.data._dbs[1]
    assert users.get(b"ada", 1) == record(1)  # from the overlay
    assert db.get(b"ada") is None  # not in RocksDB before the changelog has it
    (sent,) = table.changelog_topic.sent
    assert (sent.key, sent.partition) == (b"ada", 1)
    sent.acknowledge(offset=41)
    assert users.get(b"ada", 1) == record(1)  # acknowledged, written on the next loop pass
    await settled()
    assert db.get(b"ada") == record(1).to_bytes()
    assert table.data.persisted_offset(TP(CHANGELOG, 1)) == 41  # what recovery starts after
    assert users._pending == {}
    assert users.get(b"ada", 1) == record(1)
    assert users.get(b"ada") == record(1)  # partition unknown: found by the bloom filters
    assert users.get(b"bob", 0) is None and users.get(b"bob") is None


async def test_a_newer_record_stays_in_the_overlay_until_its_own_write_lands(table) -> None:
    users = RocksUserTable(table)
    users.put(b"ada", 0, record(0, events=1))
    users.put(b"ada", 0, record(0, events=2))
    first, second = table.changelog_topic.sent
    first.acknowledge(offset=5)
    await settled()
    assert users.get(b"ada", 0) == record(0, events=2)
    # The database has the first version, at its offset; the second waits in the overlay.
    db = table.data._dbs[0]
    assert db.get(b"ada") == record(0, events=1).to_bytes()
    assert table.data.persisted_offset(TP(CHANGELOG, 0)) == 5
    assert set(users._pending) == {b"ada"}
    second.acknowledge(offset=6)
    await settled()
    assert users._pending == {}
    assert users.get(b"ada", 0) == record(0, events=2)
    assert db.get(b"ada") == record(0, events=2).to_bytes()
    assert table.data.persisted_offset(TP(CHANGELOG, 0)) == 6


async def test_an_acknowledgement_behind_the_database_or_after_revocation_is_not_written(
    table,
) -> None:
    users = RocksUserTable(table)
    store = table.data
    store.set_persisted_offset(TP(CHANGELOG, 0), 9)  # recovered past it meanwhile
    users.put(b"ada", 0, record(0))
    users.put(b"bob", 1, record(1))
    late, revoked = table.changelog_topic.sent
    db1 = store._dbs.pop(1)  # what Faust does when partition 1 is revoked
    late.acknowledge(offset=8)
    revoked.acknowledge(offset=3)
    await settled()
    assert store._dbs[0].get(b"ada") is None
    assert store.persisted_offset(TP(CHANGELOG, 0)) == 9
    assert db1.get(b"bob") is None and 1 not in store._dbs


async def test_a_failed_changelog_write_leaves_nothing_behind(table) -> None:
    users = RocksUserTable(table)
    users.put(b"ada", 0, record(0))
    (sent,) = table.changelog_topic.sent
    sent.future.set_exception(RuntimeError("broker gone"))
    await settled()
    assert users.get(b"ada", 0) is None  # as after a restart: the changelog lacks it
    assert users._pending == {} and table.data._dbs[0].get(b"ada") is None


async def test_the_timer_sees_the_users_of_the_partitions_it_asks_for(table) -> None:
    users = RocksUserTable(table)
    for offset, (user, partition) in enumerate([(b"ada", 0), (b"bob", 1), (b"cy", 0)]):
        users.put(user, partition, record(partition))
        table.changelog_topic.sent[-1].acknowledge(offset)
    users.put(b"dee", 0, record(0))  # on its way: in the overlay only
    await settled()
    assert sorted(users.keys({0})) == [(b"ada", 0), (b"cy", 0), (b"dee", 0)]
    assert sorted(users.keys({0, 1})) == [(b"ada", 0), (b"bob", 1), (b"cy", 0), (b"dee", 0)]
    assert list(users.keys({3})) == []  # not open here: never opened by the timer
    assert 3 not in table.data._dbs
    counted: UserTable = users
    assert counted.count() is None  # counting RocksDB's keys is a scan: not offered


# --- erasure: a tombstone on the changelog, the key gone from the store ----------------


async def test_a_deleted_record_reads_as_gone_at_once_and_leaves_rocksdb_when_acknowledged(
    table,
) -> None:
    users = RocksUserTable(table)
    users.put(b"ada", 1, record(1))
    table.changelog_topic.sent[-1].acknowledge(offset=3)
    await settled()
    db = table.data._dbs[1]
    assert db.get(b"ada") is not None
    users.delete(b"ada", 1)
    tombstone = table.changelog_topic.sent[-1]
    assert (tombstone.key, tombstone.value, tombstone.partition) == (b"ada", None, 1)
    assert users.get(b"ada", 1) is None and users.get(b"ada") is None  # the overlay says so
    assert db.get(b"ada") is not None  # RocksDB only once the changelog has the tombstone
    tombstone.acknowledge(offset=4)
    await settled()
    assert db.get(b"ada") is None
    assert table.data.persisted_offset(TP(CHANGELOG, 1)) == 4
    assert users._pending == {}
    assert users.get(b"ada", 1) is None


async def test_a_record_written_after_a_deletion_survives_the_tombstone_s_acknowledgement(
    table,
) -> None:
    users = RocksUserTable(table)
    users.put(b"ada", 0, record(0, events=5))
    users.delete(b"ada", 0)
    users.put(b"ada", 0, record(0, events=1))  # a later event: a fresh record
    first, tombstone, fresh = table.changelog_topic.sent
    first.acknowledge(offset=10)
    tombstone.acknowledge(offset=11)
    await settled()
    assert users.get(b"ada", 0) == record(0, events=1)  # still the overlay's newest
    assert table.data._dbs[0].get(b"ada") is None
    fresh.acknowledge(offset=12)
    await settled()
    assert table.data._dbs[0].get(b"ada") == record(0, events=1).to_bytes()
    assert users._pending == {}


async def test_a_second_deletion_keeps_the_overlay_until_its_own_tombstone_lands(table) -> None:
    users = RocksUserTable(table)
    users.put(b"ada", 0, record(0))
    users.delete(b"ada", 0)
    users.delete(b"ada", 0)
    _, first, second = table.changelog_topic.sent
    first.acknowledge(offset=1)
    await settled()
    assert set(users._pending) == {b"ada"}  # identity, not equality: the second is pending
    second.acknowledge(offset=2)
    await settled()
    assert users._pending == {} and users.get(b"ada", 0) is None


@pytest.mark.parametrize("keep_objects", [True, False])
def test_the_memory_store_drops_the_record_and_writes_a_tombstone(keep_objects: bool) -> None:
    sent: list[tuple[int, bytes, bytes | None]] = []

    class Table:
        data: dict[bytes, Any] = {}

        def send_changelog(self, partition: int, key: bytes, value: bytes | None) -> None:
            sent.append((partition, key, value))

    users = MemoryUserTable(Table(), keep_objects=keep_objects)
    users.put(b"ada", 1, record(1))
    users.delete(b"ada", 1)
    assert users.get(b"ada") is None and users.count() == 0
    assert sent[-1] == (1, b"ada", None)
    users.delete(b"bob", 0)  # nothing held here: the tombstone goes all the same
    assert sent[-1] == (0, b"bob", None)
