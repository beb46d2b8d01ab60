"""The timer: what happens to a worker's users when no event arrives.

Every ``NUDGE_SCHEDULE_INTERVAL_SECONDS`` each worker looks at the users of the input
partitions it owns (not its standby copies) that have something due: held commands whose
``send_at`` has come are sent, and time-based definitions whose schedule
(``evaluate_on.every``) has come round are evaluated with the worker's clock. A user
changed by the pass is written back to the table and its changelog partition like an
event's batch would.

Which users: a tick between schedules loads only the users the stage's due-index
(``streams.core.decisions.due_index``) gives, those whose earliest held command is due.
Every record the stage stores, from a batch or from the timer, is noted there, and every
user a pass looks at is noted again from what its record still holds. Records the stage
never stored (recovered from the changelog when partitions are assigned) are unknown to
it, so a partition counts as indexed only once a pass has looked at all its users since
it was given to this worker: its first pass after an assignment, after a restart or a
revocation (``forget_revoked`` drops revoked partitions; an epoch keeps a pass that a
rebalance overlapped from marking them indexed). When a time-based definition's schedule
comes round, every user of the owned partitions is looked at, once per period as before:
which absences a user's record could still show is the definitions' business, and
skipping users on that account would need a proof per definition. The index costs about
200 bytes per user holding a command, nothing for the others, and nothing on disk.

How: the pass runs on the event loop between agent batches, a slice at a time. A slice
holds the stage's lock for ``SLICE_USERS`` users or ``SLICE_HOLD_SECONDS``, whichever
comes first, then rests as long as it held it (``SLICE_PAUSE_SECONDS`` at least) so
fetches, acknowledgements and the next batch go through. Before each slice the pass stops
if a rebalance began: partitions may be changing hands (users it took from the index and
did not look at are put back). Nothing it emits depends on when it runs, only on the
user's record and the clock: ids derive from the held command or the episode, so a pass
repeated after a crash repeats its ids, and a user it leaves out is one ``release_due``
would have left unchanged.

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
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

import faust

from schemas.records import BEHAVIOR_CHANGE_TRIGGER_ID
from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS
from schemas.triggers import TriggerDefinition
from streams.core.alerts.serving import AlertModel
from streams.core.behavior.change import BehaviorPolicy, judged_week_closed_at
from streams.core.decisions.process import process_idle
from streams.core.decisions.result import Result
from streams.core.state.analytics import Analytics
from streams.core.state.record import UserState
from streams.core.triggers.due import due_definitions, replaying
from streams.runtime import metrics
from streams.runtime.agents.ingest import IngestStage

log = logging.getLogger(__name__)

#: Most users in one slice: about 0.6 ms at the ~10 µs a user costs when nothing fires.
#: Also how often, at least, the pass asks whether a rebalance began.
SLICE_USERS = 64
#: Longest a slice holds the stage's lock before it ends early (checked after each user):
#: what an agent batch arriving meanwhile waits, on top of its own ~30 ms for 1,000
#: events. Users that fire cost 25 times more than those that do not (rendering and
#: serialising the commands), so a slice's size alone cannot bound its time.
SLICE_HOLD_SECONDS = 0.005
#: Shortest rest after a slice; otherwise as long as the slice held the lock. Not
#: ``sleep(0)``: one turn of the loop moves an event one hop only (fetch, stream, agent,
#: producer ack...), so a sweep yielding only that long still holds every event back by
#: a slice per hop. Resting as long as it worked halves the sweep's pace and lets the
#: loop drain between slices.
SLICE_PAUSE_SECONDS = 0.001

#: How often every user is looked at for behaviour change, at least (seconds): a full
#: pass judges each activity's last complete week (``streams.core.behavior.change``), so a
#: week is judged within a day of closing even with no time-based trigger defined.
BEHAVIOR_CHANGE_EVERY_SECONDS = 86_400.0

#: The key of the live segments' pass in ``Scheduler._last_run``.
SEGMENTS_PASS = "segments:membership"  # noqa: S105 - a name, not a password

#: Users to look at: (table key, input partition if known).
Users = Iterator[tuple[bytes, int | None]]


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
    swept: tuple[int, ...] = ()
    """Partitions all of whose users were looked at (a schedule came round, or they were
    new to the due-index); the others' only if a held send of theirs was due."""
    longest_hold: float = 0.0
    """The longest one slice held the stage's lock (seconds)."""
    segments: bool = False
    """Every user looked at had their live segments judged."""


@dataclass(slots=True)
class _Tally:
    """What a pass has done so far, and whether it judges behaviour change."""

    behavior: BehaviorPolicy | None = None
    """Given unless the worker is replaying: every user looked at is judged with it (each
    week once: see ``streams.core.behavior.change``)."""
    segments: bool = False
    """Whether every user looked at has their live segments judged."""
    analytics: Analytics | None = None
    """The analytics in force, read once at the pass's start (not once per user)."""
    model: AlertModel | None = None
    """The alert recommender in force: every user looked at who was not served its version
    yet is (``streams.core.alerts.serving.serve_promoted``). A promotion makes the next
    pass look at everyone."""
    categories: Mapping[str, str] = field(default_factory=dict)
    """Trigger id -> category, for the definitions in force: a held send is re-checked for
    its category's consent when released."""
    users: int = 0
    decisions: int = 0
    commands: int = 0
    longest_hold: float = 0.0


@dataclass(slots=True)
class Scheduler:
    """Runs time-based definitions and held sends over this worker's own users.

    Attributes:
        stage: The ingest stage: table, output topics, definitions, catalogue, policy,
            and the due-index its stores keep.
        interrupted: Returns True when the pass must stop (a rebalance began).
        perf: The clock slices are timed with (seconds; ``time.perf_counter``).
        source: The input topic's full name (its partitions' lag says whether one that
            delivered nothing yet is caught up).
        owned: Returns the input partitions this worker owns now (``None``: the pass's
            own never change, as in tests).
        segments_every: Seconds between passes that judge every user's live segments
            (``NUDGE_SEGMENTS_EVERY_SECONDS``): users who stop sending events still join
            and leave segments ("inactive for 14 days") within this long.
    """

    stage: IngestStage
    interrupted: Callable[[], bool] = lambda: False
    perf: Callable[[], float] = time.perf_counter
    source: str = BEHAVIOR_EVENTS.full_name("")
    owned: Callable[[], set[int]] | None = None
    segments_every: float = 3600.0
    _last_run: dict[str, float] = field(default_factory=dict)
    """Trigger id -> clock time (epoch seconds) of this worker's last pass for it."""
    _served: int = 0
    """The alert recommender's version the last whole pass served every user."""
    _warm: bool = False
    """Whether a slice has run. The first is not cut short: its first users pay one-off
    costs (templates and caches built: 24 users in 5 ms, against ~0.6 ms for 64 after),
    and a pass must make progress; it is ``SLICE_USERS`` users, once per worker."""

    async def run_pass(self, partitions: set[int]) -> PassSummary:
        """Look at the users of ``partitions`` that have something due; return what was done.

        Everyone when a time-based definition's schedule has come round, or when a
        partition is new to the due-index; otherwise only the users it says have a held
        send due.
        """
        stage = self.stage
        now = stage.clock()
        stage.current_catalogue()  # the templates in force, for the sends of this pass
        current = stage.definitions.current(stage.feed.items())
        stage.current_policy()  # the send-time prior the checkpoints serve now
        for partition in set(stage.reads) - partitions:
            # No longer ours: should it come back, what arrives then says how far behind.
            del stage.reads[partition]
        index = stage.due_index
        index.forget(index.completed() - partitions)  # no longer ours: noted again if back
        behind = replaying(stage.reads, partitions, now, stage.max_event_age_seconds)
        due = [] if behind else due_definitions(current, self._last_run, now)
        behavior = self._behavior_policy(partitions, now, behind)
        behavior_due = behavior is not None and self._behavior_due(now)
        segments_due = (
            not behind
            and self._caught_up(partitions)
            and self._due(SEGMENTS_PASS, self.segments_every, now)
        )
        model = stage.alert_model
        serve = model if model is not None and model.version != self._served else None
        whole = bool(due) or behavior_due or segments_due or serve is not None
        sweep = partitions if whole else {p for p in partitions if not index.is_complete(p)}
        started = time.perf_counter()
        done = _Tally(
            behavior=behavior, segments=segments_due, analytics=stage.current_analytics(),
            # Any user looked at is served the version in force if they were not yet:
            # those of a partition new to this worker too (its last owner may not have).
            model=model, categories={d.id: d.category for d in current},
        )  # fmt: skip
        epoch = index.epoch
        if sweep and not await self._sweep(sweep, due, now, done):
            return self._stopped(done, behind)
        index.complete(sweep, epoch)
        if sweep != partitions and not await self._release_due(partitions, now, done):
            return self._stopped(done, behind)
        # Only a finished pass that looked at someone counts as a run: an interrupted one
        # is repeated in full, and one over an empty table judged nobody.
        judged = [d.id for d in due] if done.users else []
        if behavior_due and done.users:
            judged.append(BEHAVIOR_CHANGE_TRIGGER_ID)
        if segments_due and done.users:
            self._last_run[SEGMENTS_PASS] = now.timestamp()
        if serve is not None:
            self._served = serve.version  # every user of the partitions was looked at
        for trigger_id in judged:
            self._last_run[trigger_id] = now.timestamp()
            metrics.SCHEDULED_EVALUATIONS.labels(trigger_id).inc(done.users)
        if sweep == partitions and stage.users.count() is None:
            metrics.USERS_TRACKED.set(done.users)  # RocksDB: a full pass is the count
        metrics.SCHEDULER_TICKS.observe(time.perf_counter() - started)
        metrics.SCHEDULER_PASS_USERS.observe(done.users)
        metrics.SCHEDULER_LONGEST_HOLD.observe(done.longest_hold)
        return PassSummary(
            done.users, tuple(judged), done.decisions, done.commands,
            replaying=behind, swept=tuple(sorted(sweep)), longest_hold=done.longest_hold,
            segments=segments_due and bool(done.users),
        )  # fmt: skip

    def _behavior_policy(
        self, partitions: set[int], now: datetime, behind: bool
    ) -> BehaviorPolicy | None:
        """Return the policy to judge behaviour change with now, or ``None`` to wait.

        It waits while a partition replays, and while one is still reading events from
        before the judged week closed (a backlog after an outage: the week's last events
        are still to come, and a fall judged now would be one only for the worker).
        """
        stage = self.stage
        if behind or not stage.behavior_policy.enabled:
            return None
        closed = (now - judged_week_closed_at(now)).total_seconds()
        if replaying(stage.reads, partitions, now, closed):
            return None
        return stage.behavior_policy if self._caught_up(partitions) else None

    def _caught_up(self, partitions: set[int]) -> bool:
        """Whether each partition was read from, or is known to have nothing to read.

        Read from since it was given to this worker, or lag 0 (sampled by the worker).
        One nothing was read from (after a restart, a rebalance) may hold a backlog the
        first batch has not brought yet: judged now, its users would look idle.
        """
        stage = self.stage
        lag = stage.progress.lag
        return all(p in stage.reads or lag.get((self.source, p), 1) <= 0 for p in partitions)

    def _behavior_due(self, now: datetime) -> bool:
        """Whether a whole pass for behaviour change is due (daily, or never run yet)."""
        return self._due(BEHAVIOR_CHANGE_TRIGGER_ID, BEHAVIOR_CHANGE_EVERY_SECONDS, now)

    def _due(self, key: str, every: float, now: datetime) -> bool:
        """Whether the whole pass ``key`` is due: ``every`` seconds after its last, or never run."""
        last = self._last_run.get(key)
        moment = now.timestamp()
        return last is None or moment - last >= every or moment < last

    def _stopped(self, done: _Tally, behind: bool) -> PassSummary:
        log.info("timer pass stopped by a rebalance", extra={"users": done.users})
        return PassSummary(
            done.users, (), done.decisions, done.commands, complete=False,
            replaying=behind, longest_hold=done.longest_hold,
        )  # fmt: skip

    async def _sweep(
        self, partitions: set[int], due: Sequence[TriggerDefinition], now: datetime, done: _Tally
    ) -> bool:
        """Look at every user of ``partitions``; return False if interrupted."""
        users = iter(self.stage.users.keys(partitions))
        return not await self._run_slices(users, partitions, due, now, done)

    async def _release_due(self, partitions: set[int], now: datetime, done: _Tally) -> bool:
        """Look at the users with a held send due; return False if interrupted.

        Users the index gives on partitions no longer ours are dropped; those a rebalance
        kept the pass from are put back.
        """
        index = self.stage.due_index
        taken = {u.key: u for u in index.take_due(now.timestamp()) if u.partition in partitions}
        users = ((user.key, user.partition) for user in list(taken.values()))
        left = await self._run_slices(users, partitions, (), now, done)
        index.restore(taken[key] for key, _ in left)
        return not left

    async def _run_slices(
        self,
        users: Users,
        partitions: set[int],
        due: Sequence[TriggerDefinition],
        now: datetime,
        done: _Tally,
    ) -> list[tuple[bytes, int | None]]:
        """Look at ``users`` a slice at a time, resting between; return those not looked at.

        Stops before the next slice when ``interrupted`` says so. A slice that ended on
        time leaves the rest of its users to the next.
        """
        left: list[tuple[bytes, int | None]] = []
        while slice_ := [*left, *islice(users, SLICE_USERS - len(left))]:
            if self.interrupted():
                return [*slice_, *users]
            held, taken = await self._run_slice(slice_, partitions, due, now, done)
            left = slice_[taken:]
            # Agent batches, fetches, acks and heartbeats: the loop gets as long as we had.
            await asyncio.sleep(max(held, SLICE_PAUSE_SECONDS))
        return []

    async def _run_slice(
        self,
        slice_: list[tuple[bytes, int | None]],
        partitions: set[int],
        due: Sequence[TriggerDefinition],
        now: datetime,
        done: _Tally,
    ) -> tuple[float, int]:
        """Judge a slice of users under the stage's lock, adding what was done to ``done``.

        Loaded now, not when the keys were listed, and written before a batch may change
        them again. Each user looked at is noted in the due-index (by the store when its
        record changed): what the record holds now says when it is next due. Ends early
        once the lock has been held ``SLICE_HOLD_SECONDS``.

        Returns:
            How long the lock was held (seconds), and how many of ``slice_`` were taken.
        """
        stage = self.stage
        async with stage.lock:
            began = self.perf()
            deadline = began + SLICE_HOLD_SECONDS if self._warm else math.inf
            self._warm = True
            changed: list[tuple[bytes, UserState, Result]] = []
            taken = 0
            for key, home in slice_:
                if taken and self.perf() >= deadline:
                    break
                taken += 1
                state = stage.load(key, home)
                if state is None or state.partition not in partitions:
                    continue  # a standby copy, or a record from before partitions were kept
                done.users += 1
                result = self._evaluate(key.decode(), state, due, now, done)
                if not result.changed_state:
                    stage.due_index.note(key, state.partition, state)
                    continue
                stage.publish(key, result, now, event_latency=False)
                changed.append((key, state, result))
                done.decisions += len(result.decisions)
                done.commands += len(result.commands)
            if changed:
                # Outputs acknowledged before the records that say they were sent:
                # see ``IngestStage.run_batch``.
                await stage.outbox.deliver()
                # A partition revoked while the outputs went out may be another worker's
                # now: a copy of its record written here would undo what that worker
                # wrote. Such records are left; whoever owns them judges them again,
                # and repeated outputs keep their ids.
                owned = self.owned() if self.owned is not None else None
                for key, state, result in changed:
                    if owned is None or state.partition in owned:
                        stage.store(key, state.partition, state)
                        stage.learned(state.partition, result)
                    else:
                        log.info("timer left a record of a revoked partition",
                                 extra={"partition": state.partition})  # fmt: skip
                await stage.outbox.hand_over()
            held = self.perf() - began
        done.longest_hold = max(done.longest_hold, held)
        return held, taken

    def _evaluate(
        self,
        user_id: str,
        state: UserState,
        due: Sequence[TriggerDefinition],
        now: datetime,
        done: _Tally,
    ) -> Result:
        stage = self.stage
        result = process_idle(
            user_id, state, due, stage.catalogue, now=now, policy=stage.policy,
            behavior=done.behavior, analytics=done.analytics, segments=done.segments,
            alert_model=done.model, categories=done.categories,
        )  # fmt: skip
        for command in result.commands[: result.released]:
            metrics.RELEASED_SENDS.labels(command.trigger_id).inc()
        if result.held:
            metrics.HELD_SENDS.inc(result.held)
        return result


def forget_revoked(stage: IngestStage) -> Callable[..., None]:
    """Return the handler of ``on_partitions_revoked`` that drops them from the due-index.

    Records of a partition given back after a rebalance are recovered from the changelog,
    not stored through the stage, so the index cannot know them: the first pass after
    looks at all its users again. Every topic's partition number is dropped (the inputs
    are co-partitioned; one dropped too many costs one sweep, never a missed send).
    """

    def revoked(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        partitions = args[0] if args else kwargs.get("revoked", ())
        stage.due_index.forget({tp.partition for tp in partitions})

    return revoked


def register_schedule(app: faust.App, stage: IngestStage, settings: Settings) -> Scheduler:
    """Run a ``Scheduler`` pass on ``app``'s timer over the partitions it owns."""
    source = BEHAVIOR_EVENTS.full_name(settings.topic_prefix)

    def busy() -> bool:
        return bool(app.rebalancing or getattr(app, "in_recovery", False))

    def owned() -> set[int]:
        actives: Any = app.assignor.assigned_actives()
        return {tp.partition for tp in actives if tp.topic == source}

    scheduler = Scheduler(
        stage, interrupted=busy, source=source, owned=owned,
        segments_every=settings.segments_every_seconds,
    )  # fmt: skip
    app.on_partitions_revoked.connect(forget_revoked(stage))

    async def scheduled_pass() -> None:
        stage.progress.ticked()
        if busy() or not stage.feed.ready.is_set():
            return  # recovery or rebalance in progress: the next tick will do it
        partitions = owned()
        if not partitions:
            return
        try:
            summary = await scheduler.run_pass(partitions)
        except Exception:  # a bug must not stop the worker's timer for good
            log.exception("timer pass failed")
            return
        if summary.evaluated or summary.decisions or summary.commands or summary.segments:
            log.info(
                "timer pass",
                extra={"users": summary.users, "evaluated": list(summary.evaluated),
                       "decisions": summary.decisions, "commands": summary.commands,
                       "segments": summary.segments},
            )  # fmt: skip

    app.timer(settings.schedule_interval_seconds, name="nudge.schedule")(scheduled_pass)
    return scheduler
