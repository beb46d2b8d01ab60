"""The ``user_state`` table as the ingest stage and the timer use it, for either store.

The stage writes each dirty user once per batch, outside any Faust event context, with
the input partition known; Faust's own ``table[key] = value`` takes the partition from
the current event instead, and its RocksDB store asserts that there is one. So records
are written here, per store:

- ``memory://`` (:class:`MemoryUserTable`): a dict of live records, rebuilt from the
  changelog at start-up; writing is putting into the dict and sending the changelog.
- ``rocksdb://`` (:class:`RocksUserTable`): one RocksDB database per changelog
  partition (Faust's store opens, recovers and closes them on rebalance). A record
  reaches its partition's database only once the changelog has acknowledged it,
  together with that changelog offset, in one atomic write; until then it is read from
  a small in-memory overlay. The database therefore never holds a record the changelog
  lacks: after a SIGKILL, Faust recovers what is missing from the changelog, starting
  after the persisted offset, exactly as it does for its own writes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import rocksdict
from faust.types import TP

from streams.core.state.record import UserState
from streams.runtime.outbox import BufferedOutbox, Outbox

log = logging.getLogger(__name__)


class UserTable(Protocol):
    """Per-user records of this worker, keyed by user id bytes."""

    def get(self, key: bytes, partition: int | None = None) -> UserState | None:
        """Return a user's record, or ``None``; ``partition`` (its input partition) if known."""
        ...

    def put(self, key: bytes, partition: int, state: UserState) -> None:
        """Keep a user's record and write it to changelog partition ``partition``."""
        ...

    def put_back(self, key: bytes, state: UserState) -> None:
        """Undo in-place changes to a loaded record that is not to be stored (no changelog)."""
        ...

    def delete(self, key: bytes, partition: int) -> None:
        """Forget a user's record: drop it here, write a tombstone to its changelog partition."""
        ...

    def keys(self, partitions: Iterable[int]) -> Iterator[tuple[bytes, int | None]]:
        """Yield ``(key, partition or None)`` for users that may belong to ``partitions``.

        The caller checks ``state.partition`` of what it loads: the memory store cannot
        tell which partition a key is on without decoding it.
        """
        ...

    def count(self) -> int | None:
        """Return how many records this worker holds if that is free to know, else ``None``."""
        ...


class MemoryUserTable:
    """Faust's in-memory store: live objects (or their bytes) in a dict."""

    def __init__(
        self, table: Any, *, keep_objects: bool = True, outbox: Outbox | None = None
    ) -> None:
        """Wrap ``table`` (a ``faust.Table`` or a stand-in with ``data`` and ``send_changelog``).

        Args:
            table: The table.
            keep_objects: Keep live records between batches, not bytes (no decode per batch).
            outbox: Where changelog records go (Faust's buffer when not given).
        """
        self.table = table
        self.keep_objects = keep_objects
        self.outbox = outbox or BufferedOutbox()

    def get(self, key: bytes, partition: int | None = None) -> UserState | None:
        """Return a user's record, or ``None`` (``partition`` is not needed)."""
        stored = self.table.data.get(key)
        if stored is None:
            return None
        if isinstance(stored, UserState):
            return stored
        return UserState.from_bytes(stored)  # recovered from the changelog

    def put(self, key: bytes, partition: int, state: UserState) -> None:
        """Keep the record in the dict and write it to its changelog partition."""
        encoded = state.to_bytes()
        self.table.data[key] = state if self.keep_objects else encoded
        self.outbox.send_changelog(self.table, partition, key, encoded)

    def put_back(self, key: bytes, state: UserState) -> None:
        """Replace a live record that ``process`` changed in place (kept objects only)."""
        if self.keep_objects and key in self.table.data:
            self.table.data[key] = state

    def delete(self, key: bytes, partition: int) -> None:
        """Drop the record from the dict and send a tombstone (a null value) to the changelog.

        Sent even when nothing is held: a standby copy or a record of another worker's
        past may still be on the changelog, and a tombstone is what compaction and
        recovery (Faust deletes a key whose changelog value is null) act on.
        """
        self.table.data.pop(key, None)
        self.outbox.send_changelog(self.table, partition, key, None)

    def keys(self, partitions: Iterable[int]) -> Iterator[tuple[bytes, int | None]]:
        """Yield every key held, standby copies included (partition unknown)."""
        for key in list(self.table.data.keys()):
            yield key, None

    def count(self) -> int:
        """Return the number of records held (``len`` of a dict)."""
        return len(self.table.data)


class Tombstone:
    """A deletion on its way to the changelog, in ``RocksUserTable``'s overlay.

    One object per deletion: the overlay compares entries by identity, to tell whether
    the one acknowledged is still the latest.
    """

    __slots__ = ()


class RocksUserTable:
    """Faust's RocksDB store, written per partition from a batch.

    Uses the store's per-partition databases (``_dbs``, ``_db_for_partition``,
    ``offset_key``: what its own ``_set`` and ``apply_changelog_batch`` use) and leaves
    opening, recovery, standby copies and closing on rebalance to Faust.
    """

    def __init__(self, table: Any, outbox: Outbox | None = None) -> None:
        """Wrap ``table``, a ``faust.Table`` whose store is ``rocksdb://``.

        Args:
            table: The table.
            outbox: Where changelog records go (Faust's buffer when not given).
        """
        self.table = table
        self.outbox = outbox or BufferedOutbox()
        self._pending: dict[bytes, tuple[int, bytes | Tombstone]] = {}
        """Key -> (partition, record or tombstone) sent to the changelog, not yet in RocksDB."""
        self._acked: dict[int, list[tuple[bytes, bytes | Tombstone, int]]] = {}
        """Partition -> (key, record or tombstone, changelog offset) acknowledged, not
        yet written."""
        self._flush_scheduled = False

    def get(self, key: bytes, partition: int | None = None) -> UserState | None:
        """Return a user's record from the overlay or its partition's database."""
        pending = self._pending.get(key)
        if pending is not None:
            held = pending[1]
            return None if isinstance(held, Tombstone) else UserState.from_bytes(held)
        store = self.table.data
        if partition is not None:
            raw = store._db_for_partition(partition).get(key)
            return None if raw is None else UserState.from_bytes(raw)
        for db in list(store._dbs.values()):  # a key lives in one partition's database
            if db.key_may_exist(key):  # the bloom filter rules out the others cheaply
                raw = db.get(key)
                if raw is not None:
                    return UserState.from_bytes(raw)
        return None

    def put(self, key: bytes, partition: int, state: UserState) -> None:
        """Send the record to the changelog; it reaches RocksDB once acknowledged."""
        encoded = state.to_bytes()
        self._pending[key] = (partition, encoded)
        self.outbox.send_changelog(
            self.table,
            partition,
            key,
            encoded,
            on_done=lambda fut: self._done(key, partition, encoded, fut),
        )

    def delete(self, key: bytes, partition: int) -> None:
        """Send a tombstone to the changelog; the key leaves RocksDB once it is acknowledged.

        Until then the overlay holds the tombstone, so the record reads as gone at once.
        """
        tombstone = Tombstone()
        self._pending[key] = (partition, tombstone)
        self.outbox.send_changelog(
            self.table,
            partition,
            key,
            None,
            on_done=lambda fut: self._done(key, partition, tombstone, fut),
        )

    def _done(self, key: bytes, partition: int, encoded: bytes | Tombstone, fut: Any) -> None:
        """Queue an acknowledged record for its database (written by :meth:`_flush`).

        Called when the broker acknowledged the record or the producer gave up on it.
        The acknowledgements of one produce response arrive together: one write per
        partition for all of them costs far less than one per record.
        """
        if fut.cancelled() or fut.exception() is not None:
            self._settled(key, encoded, fut)
            return
        self._acked.setdefault(partition, []).append((key, encoded, fut.result().offset))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Write the acknowledged records and their changelog offset, one batch per partition.

        The records leave the overlay only now, so a read finds each record either in the
        overlay or in its database.
        """
        self._flush_scheduled = False
        acked, self._acked = self._acked, {}
        store = self.table.data
        for partition, records in acked.items():
            db = store._dbs.get(partition)
            if db is not None:  # else revoked: the changelog has them for the next owner
                self._write(store, db, partition, records)
            for key, encoded, _ in records:
                pending = self._pending.get(key)
                if pending is not None and pending[1] is encoded:  # not replaced since
                    del self._pending[key]

    def _write(
        self,
        store: Any,
        db: Any,
        partition: int,
        records: list[tuple[bytes, bytes | Tombstone, int]],
    ) -> None:
        persisted_raw = db.get(store.offset_key)
        persisted = -1 if persisted_raw is None else int(persisted_raw)
        # Skip what the database is already past (recovered after a rebalance).
        fresh = [(key, encoded, offset) for key, encoded, offset in records if offset > persisted]
        if not fresh:
            return
        batch = rocksdict.WriteBatch(raw_mode=True)
        for key, encoded, _ in fresh:
            if isinstance(encoded, Tombstone):
                batch.delete(key)
            else:
                batch.put(key, encoded)
        newest = max(offset for _, _, offset in fresh)
        app = self.table.app
        if app.in_transaction:  # exactly_once: the offset is persisted on commit
            tp = TP(self.table.changelog_topic.get_topic_name(), partition)
            app.tables.persist_offset_on_commit(store, tp, newest)
        else:
            batch.put(store.offset_key, str(newest).encode())
        db.write(batch)  # atomic: the records and the offset recovery starts after

    def _settled(self, key: bytes, encoded: bytes | Tombstone, fut: Any) -> None:
        """Drop the overlay entry of a failed send, unless a newer one replaced it."""
        pending = self._pending.get(key)
        if pending is not None and pending[1] is encoded:
            del self._pending[key]
        # Not in the changelog, so not in RocksDB either: local and logged state agree.
        error = None if fut.cancelled() else repr(fut.exception())
        log.error("state changelog write failed", extra={"error": error})

    def put_back(self, key: bytes, state: UserState) -> None:
        """Do nothing: every load decodes a copy, so nothing held was changed in place."""

    def keys(self, partitions: Iterable[int]) -> Iterator[tuple[bytes, int | None]]:
        """Yield the keys of ``partitions``' databases and of records on their way there."""
        for partition in sorted(partitions):
            held = self._partition_keys(partition)
            held.update((k, None) for k, (p, _) in list(self._pending.items()) if p == partition)
            for key in held:
                yield key, partition

    def _partition_keys(self, partition: int) -> dict[bytes, None]:
        # Copied, not a live iterator: the caller yields to the event loop between users,
        # and an iterator would keep a revoked partition's database (and its lock) open.
        # Never opens one: Faust opens an active partition's database on assignment.
        store = self.table.data
        db = store._dbs.get(partition)
        if db is None:
            return {}
        return {key: None for key in db.keys() if key != store.offset_key}

    def count(self) -> None:
        """Return ``None``: counting RocksDB's keys is a scan (the timer counts them)."""
        return None


def user_table(table: Any, store_url: str, outbox: Outbox | None = None) -> UserTable:
    """Return the :class:`UserTable` for ``table`` kept in the store ``store_url``.

    ``outbox``: where its changelog records go (Faust's buffer when not given).
    """
    if store_url.startswith("rocksdb"):
        return RocksUserTable(table, outbox)
    return MemoryUserTable(table, keep_objects=store_url.startswith("memory"), outbox=outbox)
