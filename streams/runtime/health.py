"""Is the worker still doing its job? Progress, the rule that judges it, and lag.

A process that is alive but no longer processes is the worst failure a stream processor
has: it holds its partitions, so nobody else reads them, and it looks fine. The worker
therefore proves progress. Its event loop samples every ``SAMPLE_SECONDS``, per assigned
input partition, the committed offset and the end of the partition (lag), and the
agent and the timer note when they last finished something. It is unhealthy when:

- the event loop has not sampled for ``stall_seconds`` (it is blocked or dead);
- an assigned partition has had lag for ``stall_seconds`` without its committed offset
  moving (nothing processed, or a commit stuck behind a batch that was never finished);
- the timer has not ticked for ``TICKS_MISSED`` intervals plus ``stall_seconds``;
- the definitions feed has stopped.

``/healthz`` (on the metrics port) answers 200 or 503 with the reasons, and the worker ends
itself (fail-stop) once it has been unhealthy for a whole ``stall_seconds`` more, so a
supervisor starts a new one even without a liveness probe. Time spent recovering tables
or rebalancing does not count: nothing can commit then.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from streams.runtime import metrics

#: How often the event loop samples offsets and lag.
SAMPLE_SECONDS = 5.0
#: Timer intervals that may pass without a tick before the timer is called stuck.
TICKS_MISSED = 3

Partition = tuple[str, int]


@dataclass(slots=True)
class Progress:
    """What the worker did lately; written on the event loop, read by the health server.

    Times are ``clock()`` readings (monotonic seconds).
    """

    clock: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)
    sampled_at: float | None = None
    batch_at: float | None = None
    tick_at: float | None = None
    feed_alive: bool = True
    committed: dict[Partition, int] = field(default_factory=dict)
    lag: dict[Partition, int] = field(default_factory=dict)
    stalled_since: dict[Partition, float] = field(default_factory=dict)
    """Partitions with lag whose committed offset has not moved, and since when."""

    def __post_init__(self) -> None:
        self.started = self.clock()

    def batch_done(self) -> None:
        """Note that the ingest agent finished a batch."""
        self.batch_at = self.clock()
        metrics.LAST_BATCH.set(time.time())

    def ticked(self) -> None:
        """Note that the timer ran."""
        self.tick_at = self.clock()
        metrics.LAST_TIMER_TICK.set(time.time())

    def sample(
        self, offsets: Mapping[Partition, tuple[int | None, int | None]], *, busy: bool
    ) -> None:
        """Record committed offsets and partition ends of the assigned input partitions.

        Args:
            offsets: Partition -> (committed offset, end offset); ``None`` when unknown.
            busy: Recovering or rebalancing: stalls are not counted.
        """
        now = self.clock()
        self.sampled_at = now
        for partition in set(self.lag) - set(offsets):
            metrics.CONSUMER_LAG.remove(partition[0], str(partition[1]))
        lag: dict[Partition, int] = {}
        committed: dict[Partition, int] = {}
        for partition, (done, end) in offsets.items():
            if end is None:
                continue
            behind = max(end - (done or 0), 0)
            lag[partition] = behind
            committed[partition] = done or 0
            metrics.CONSUMER_LAG.labels(partition[0], str(partition[1])).set(behind)
            moved = self.committed.get(partition) != committed[partition]
            if busy or not behind or moved:
                self.stalled_since.pop(partition, None)
            else:
                self.stalled_since.setdefault(partition, now)
        for partition in set(self.stalled_since) - set(lag):
            del self.stalled_since[partition]
        self.lag, self.committed = lag, committed


def problems(
    progress: Progress, *, stall_seconds: float, tick_interval_seconds: float
) -> list[str]:
    """Return why the worker is unhealthy, or nothing when it is healthy."""
    now = progress.clock()
    found = []
    last_sample = progress.sampled_at or progress.started
    if now - last_sample > stall_seconds:
        found.append(f"the event loop has not sampled progress for {now - last_sample:.0f} s")
    for (topic, partition), since in sorted(progress.stalled_since.items()):
        if now - since > stall_seconds:
            lag = progress.lag.get((topic, partition), 0)
            found.append(
                f"{topic}[{partition}]: {lag} messages behind and no commit for {now - since:.0f} s"
            )
    last_tick = progress.tick_at or progress.started
    tick_limit = TICKS_MISSED * tick_interval_seconds + stall_seconds
    if now - last_tick > tick_limit:
        found.append(f"the timer has not run for {now - last_tick:.0f} s")
    if not progress.feed_alive:
        found.append("the trigger definitions feed has stopped")
    return found
