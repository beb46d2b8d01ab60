"""The timer: what happens to a worker's users when no event arrives.

Every ``NUDGE_SCHEDULE_INTERVAL_SECONDS`` each worker looks at the users of the input
partitions it owns (not its standby copies): held commands whose ``send_at`` has come are
sent, and time-based definitions whose schedule (``evaluate_on.every``) has come round are
evaluated with the worker's clock. A user changed by the pass is written back to the
table and its changelog partition like an event's batch would.

The pass runs on the event loop between agent batches, a slice of users at a time, and
stops at once if a rebalance begins: partitions may be changing hands. Nothing it emits
depends on when it runs, only on the user's record and the clock: ids derive from the
held command or the episode, so a pass repeated after a crash repeats its ids.

Time-based definitions judge what did *not* happen, so they wait while the records cannot
know yet: while one of the worker's partitions is replaying (it is still delivering events
and the newest it delivered is older than ``NUDGE_MAX_EVENT_AGE_SECONDS``: a backfill, a
backlog of days after a restart, the demo's months of history; the sessions or
completions still to come would be judged missing), and while the worker owns no user at
all (it started on empty partitions). Such a pass releases held sends but does not count
as a run, so the definitions stay due and the first pass that can judge them does.
Otherwise a daily schedule that ran on an empty table at start-up would not look again
for a day.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

import faust

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS
from schemas.triggers import TriggerDefinition
from streams.core.decisions.process import process_idle
from streams.core.decisions.result import Result
from streams.core.state.record import UserState
from streams.core.triggers.due import due_definitions, replaying
from streams.runtime import metrics
from streams.runtime.agents.ingest import IngestStage

log = logging.getLogger(__name__)

#: Users looked at between two yields to the event loop: bounds how long a pass delays
#: the next agent batch (a few milliseconds each).
SLICE_USERS = 500


@dataclass(frozen=True, slots=True)
class PassSummary:
    """What one pass did (also what tests assert on)."""

    users: int = 0
    evaluated: tuple[str, ...] = ()
    decisions: int = 0
    commands: int = 0
    complete: bool = True
    replaying: bool = False
    """Time-based definitions waited: the worker is reading events older than the age
    at which they still fire anything."""


@dataclass(slots=True)
class _Tally:
    """What a pass has done so far."""

    users: int = 0
    decisions: int = 0
    commands: int = 0


@dataclass(slots=True)
class Scheduler:
    """Runs time-based definitions and held sends over this worker's own users.

    Attributes:
        stage: The ingest stage: table, output topics, definitions, catalogue, policy.
        interrupted: Returns True when the pass must stop (a rebalance began).
    """

    stage: IngestStage
    interrupted: Callable[[], bool] = lambda: False
    _last_run: dict[str, float] = field(default_factory=dict)
    """Trigger id -> clock time (epoch seconds) of this worker's last pass for it."""

    async def run_pass(self, partitions: set[int]) -> PassSummary:
        """Look at every user of ``partitions`` once; return what was done."""
        stage = self.stage
        now = stage.clock()
        current = stage.definitions.current(stage.feed.items())
        for partition in set(stage.reads) - partitions:
            # No longer ours: should it come back, what arrives then says how far behind.
            del stage.reads[partition]
        behind = replaying(stage.reads, partitions, now, stage.max_event_age_seconds)
        due = [] if behind else due_definitions(current, self._last_run, now)
        started = time.perf_counter()
        done = _Tally()
        keys = iter(stage.users.keys(partitions))
        while slice_ := list(islice(keys, SLICE_USERS)):
            if self.interrupted():
                log.info("timer pass stopped by a rebalance", extra={"users": done.users})
                return PassSummary(
                    done.users, (), done.decisions, done.commands, complete=False, replaying=behind
                )
            await self._run_slice(slice_, partitions, due, now, done)
            await asyncio.sleep(0)  # let agent batches and heartbeats through
        # Only a finished pass that looked at someone counts as a run: an interrupted one
        # is repeated in full, and one over an empty table judged nobody.
        judged = due if done.users else []
        for definition in judged:
            self._last_run[definition.id] = now.timestamp()
            metrics.SCHEDULED_EVALUATIONS.labels(definition.id).inc(done.users)
        if stage.users.count() is None:  # RocksDB: this pass is the count, not each batch
            metrics.USERS_TRACKED.set(done.users)
        metrics.SCHEDULER_TICKS.observe(time.perf_counter() - started)
        evaluated = tuple(d.id for d in judged)
        return PassSummary(done.users, evaluated, done.decisions, done.commands, replaying=behind)

    async def _run_slice(
        self,
        slice_: list[tuple[bytes, int | None]],
        partitions: set[int],
        due: Sequence[TriggerDefinition],
        now: datetime,
        done: _Tally,
    ) -> None:
        """Judge one slice of users under the stage's lock, adding what was done to ``done``.

        Loaded now, not when the keys were listed, and written before a batch may change
        them again.
        """
        stage = self.stage
        async with stage.lock:
            changed: list[tuple[bytes, UserState]] = []
            for key, home in slice_:
                state = stage.load(key, home)
                if state is None or state.partition not in partitions:
                    continue  # a standby copy, or a record from before partitions were kept
                done.users += 1
                result = self._evaluate(key.decode(), state, due, now)
                if result.changed_state:
                    stage.publish(key, result, now, event_latency=False)
                    changed.append((key, state))
                    done.decisions += len(result.decisions)
                    done.commands += len(result.commands)
            if changed:
                # Outputs acknowledged before the records that say they were sent:
                # see ``IngestStage.run_batch``.
                await stage.outbox.deliver()
                for key, state in changed:
                    stage.store(key, state.partition, state)
                await stage.outbox.hand_over()

    def _evaluate(
        self, user_id: str, state: UserState, due: Sequence[TriggerDefinition], now: datetime
    ) -> Result:
        stage = self.stage
        result = process_idle(user_id, state, due, stage.catalogue, now=now, policy=stage.policy)
        for command in result.commands[: result.released]:
            metrics.RELEASED_SENDS.labels(command.trigger_id).inc()
        if result.held:
            metrics.HELD_SENDS.inc(result.held)
        return result


def register_schedule(app: faust.App, stage: IngestStage, settings: Settings) -> Scheduler:
    """Run a ``Scheduler`` pass on ``app``'s timer over the partitions it owns."""
    source = BEHAVIOR_EVENTS.full_name(settings.topic_prefix)

    def busy() -> bool:
        return bool(app.rebalancing or getattr(app, "in_recovery", False))

    scheduler = Scheduler(stage, interrupted=busy)

    async def scheduled_pass() -> None:
        stage.progress.ticked()
        if busy() or not stage.feed.ready.is_set():
            return  # recovery or rebalance in progress: the next tick will do it
        actives: Any = app.assignor.assigned_actives()
        partitions = {tp.partition for tp in actives if tp.topic == source}
        if not partitions:
            return
        try:
            summary = await scheduler.run_pass(partitions)
        except Exception:  # a bug must not stop the worker's timer for good
            log.exception("timer pass failed")
            return
        if summary.evaluated or summary.decisions or summary.commands:
            log.info(
                "timer pass",
                extra={"users": summary.users, "evaluated": list(summary.evaluated),
                       "decisions": summary.decisions, "commands": summary.commands},
            )  # fmt: skip

    app.timer(settings.schedule_interval_seconds, name="nudge.schedule")(scheduled_pass)
    return scheduler
