"""The send-time prior as a global model: counted per input partition, served as one sum.

Each worker counts, per input partition it processes, the local hour of every send its
decisions make and of every open or click credited to a send (``Result.sent_hours`` and
``Result.opened_hours``). What it keeps is only what was learned since the partition's
last checkpoint: the checkpoint it writes is that partition's newest checkpoint plus
those counts (``state``), so the counts are cumulative on the topic whoever owned the
partition before, and nothing needs restoring into the counter itself.

The prior served to the core (``SendPolicy.hour_prior``) is ``served_counts``: the sum of
every partition's newest checkpoint, never this worker's own counts since. Every worker
serves the same prior, and it changes only when a checkpoint arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from models.online.prior import HourCounts
from schemas.learning import SEND_TIME_PRIOR, ModelCheckpoint
from streams.core.decisions.result import Result


class SendTimePrior:
    """Sends and opens per local hour learned per input partition since its last checkpoint."""

    name = SEND_TIME_PRIOR

    def __init__(self) -> None:
        self._counts: dict[int, HourCounts] = {}
        self._events: dict[int, int] = {}

    def check(self, state: Mapping[str, Any]) -> None:
        """Refuse a state that is not 24 sends and 24 opens, each a count (``ValueError``)."""
        counts = HourCounts.from_dict(dict(state))
        if min(counts.sends) < 0 or min(counts.opens) < 0:
            msg = "hour counts cannot be negative"
            raise ValueError(msg)
        # (Opens above sends at an hour are possible: a crash loses the sends counted since
        # the last checkpoint, and an open of one of them is counted after the restart.)

    def learn(self, partition: int, result: Result) -> None:
        """Count a result's sends and credited opens at their local hours."""
        sent, opened = result.sent_hours, result.opened_hours
        if not sent and not opened:
            return
        counts = self._counts.get(partition)
        if counts is None:
            counts = self._counts[partition] = HourCounts()
        for hour in sent:
            counts.sends[hour] += 1
        for hour in opened:
            counts.opens[hour] += 1
        self._events[partition] = self._events.get(partition, 0) + 1

    def changed(self) -> set[int]:
        """Return the partitions with sends or opens counted since their last checkpoint."""
        return set(self._counts)

    def state(self, partition: int, latest: ModelCheckpoint | None) -> tuple[dict[str, Any], int]:
        """Return ``latest``'s counts plus those since, and the events learned from in total."""
        base = HourCounts.from_dict(latest.state) if latest is not None else HourCounts()
        total = base.merged([self._counts.get(partition, HourCounts())])
        before = latest.events if latest is not None else 0
        return total.to_dict(), before + self._events.get(partition, 0)

    def written(self, partition: int) -> None:
        """Start counting ``partition`` from zero again: its checkpoint holds the counts."""
        self.forget(partition)

    def restore(self, partition: int, latest: ModelCheckpoint | None) -> None:
        """Nothing to load: ``state`` adds the counts to the newest checkpoint when it writes."""

    def forget(self, partition: int) -> None:
        """Drop the counts of ``partition`` since its last checkpoint."""
        self._counts.pop(partition, None)
        self._events.pop(partition, None)

    def pending(self, partition: int) -> HourCounts:
        """Return the counts of ``partition`` not checkpointed yet (a copy)."""
        counts = self._counts.get(partition, HourCounts())
        return HourCounts(list(counts.sends), list(counts.opens))


def served_counts(checkpoints: Iterable[ModelCheckpoint]) -> HourCounts:
    """Return the sum of the send-time prior's checkpoints (each partition's newest)."""
    return HourCounts().merged(HourCounts.from_dict(c.state) for c in checkpoints)
