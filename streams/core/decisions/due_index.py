"""Which users hold a send that falls due, and when: the timer's index, no Faust.

The timer must release a held command (``UserState.pending``) once its ``send_at`` has
come. Looking at every user each tick to find the few that have one is what stalled
ingest; :class:`DueIndex` keeps, per user with a held command, the earliest ``send_at``,
so a tick loads only the users whose time has come.

It is fed a record each time one is stored (:meth:`DueIndex.note`), and holds for each
partition whether every record of it has been noted since this worker was given it
(:meth:`DueIndex.is_complete`): records recovered from the changelog were never stored
here, so a partition is complete only after a pass over all its users. Entries live in a
dict (user -> time, partition) and a heap of (time, user) with lazy invalidation: a heap
entry whose time is no longer the user's is skipped when it comes up, and the heap is
rebuilt when stale entries outnumber live ones.

Only users with a held command have an entry (about 250 bytes each with the heap's, see
docs/architecture.md); users with none cost nothing.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.core.decisions.release import held_until
from streams.core.state.record import UserState

#: Stale heap entries tolerated before the heap is rebuilt from the live entries: a
#: rebuild costs one pass over them, so it is done when it halves the heap at least.
_STALE_SLACK = 64


@dataclass(frozen=True, slots=True)
class DueUser:
    """A user whose held command falls due.

    Attributes:
        key: The user's table key (user id bytes).
        partition: The user's input partition (where its record is).
        at: When the earliest held command falls due (epoch seconds).
    """

    key: bytes
    partition: int
    at: float


def earliest_held(state: UserState) -> float | None:
    """Return when the earliest of ``state``'s held commands is due, or ``None`` if none is."""
    return min((held_until(held) for held in state.pending), default=None)


@dataclass(slots=True)
class DueIndex:
    """This worker's users with a held command, by when the first one falls due.

    Attributes:
        epoch: Goes up each time partitions are forgotten: a pass over a partition that
            began before that cannot make it complete.
    """

    epoch: int = 0
    _entries: dict[bytes, tuple[float, int]] = field(default_factory=dict)
    """User key -> (when due, input partition)."""
    _heap: list[tuple[float, bytes]] = field(default_factory=list)
    """(when due, user key), live or stale: live when ``_entries`` gives the same time."""
    _complete: set[int] = field(default_factory=set)
    """Partitions every record of which has been noted since they were last forgotten."""

    def __len__(self) -> int:
        """Return the number of users with a held command."""
        return len(self._entries)

    def note(self, key: bytes, partition: int, state: UserState) -> None:
        """Remember when ``state``'s first held command falls due (forget it when none)."""
        self.set_due(key, partition, earliest_held(state))

    def set_due(self, key: bytes, partition: int, at: float | None) -> None:
        """Make ``at`` (epoch seconds, ``None``: nothing held) the user's due time."""
        if at is None:
            self._entries.pop(key, None)  # its heap entry is stale from now on
            return
        before = self._entries.get(key)
        self._entries[key] = (at, partition)
        if before is None or before[0] != at:
            heapq.heappush(self._heap, (at, key))
            if len(self._heap) > 2 * len(self._entries) + _STALE_SLACK:
                self._rebuild_heap()

    def take_due(self, now: float) -> list[DueUser]:
        """Remove and return the users whose first held command is due at ``now``, earliest first.

        The caller notes each again once it has looked at it (the record says what is
        still held), and :meth:`restore` those it could not look at.
        """
        due: list[DueUser] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            at, key = heapq.heappop(heap)
            entry = self._entries.get(key)
            if entry is None or entry[0] != at:
                continue  # stale: the user's time changed since
            del self._entries[key]
            due.append(DueUser(key, entry[1], at))
        return due

    def restore(self, users: Iterable[DueUser]) -> None:
        """Put back users taken by :meth:`take_due` and not looked at.

        A user noted since (a batch stored its record) keeps that newer time.
        """
        for user in users:
            if user.key not in self._entries:
                self.set_due(user.key, user.partition, user.at)

    def is_complete(self, partition: int) -> bool:
        """Return whether every record of ``partition`` has been noted since it was given."""
        return partition in self._complete

    def completed(self) -> set[int]:
        """Return the partitions every record of which has been noted (a copy)."""
        return set(self._complete)

    def complete(self, partitions: Iterable[int], epoch: int) -> None:
        """Mark ``partitions`` complete after a pass that began at ``epoch`` noted them all."""
        if epoch == self.epoch:
            self._complete.update(partitions)

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop ``partitions``' users and mark them incomplete.

        For partitions revoked, or whose records may change without being noted (recovered
        from the changelog on assignment): a new pass over them must note them all.
        """
        gone = set(partitions)
        if not gone:
            return
        self.epoch += 1
        self._complete -= gone
        self._entries = {k: v for k, v in self._entries.items() if v[1] not in gone}
        self._rebuild_heap()

    def _rebuild_heap(self) -> None:
        self._heap = [(at, key) for key, (at, _) in self._entries.items()]
        heapq.heapify(self._heap)
