"""One definition set over a history: every event through ``process``, the timer between.

The replay is a worker that reads its events as they happened: its clock is event time
(the newest ``occurred_at`` so far), so each event is evaluated as it was fresh, and a
late one as late as it really was. Between events the timer runs as the worker's does
(``streams.runtime.agents.timer``), on ticks every ``TimerPolicy.interval_seconds`` of
event time (counted from the epoch, so the ticks do not depend on where the replay
starts): a tick where a time-based definition's schedule has come round (or behaviour
change's daily pass, or the segments' pass) looks at every user, and releases their held
sends; any other tick only at the users with a held send due. Ticks where nothing is
due are skipped, which changes nothing, since the worker's would change nothing either.
A tick at ``t`` sees every event dated up to ``t`` (it runs before the first event dated
after it). Before the first event there is no user, and a pass over nobody does not
count as a run, as in the worker. The clock ends at the window's end: the ticks before
it run too.

Two differences, for speed (the whole passes over every user are most of a replay's
time): the worker judges behaviour change and re-labels the user's pattern at every user
any pass looks at (each week is judged once, whenever), the replay only in the daily
pass; and during the warm-up the timer releases held sends and runs the time-based
definitions, but the behaviour and segments passes (insights: they send nothing) wait
for the window, whose first tick runs them for everyone. Segments are also judged on
every fresh event, in ``process``; what these passes add is the change of users who
send no event, which a definition's ``target.segments``, an experiment's target or a
peer feature could read (none of the shipped triggers does).

State starts empty at the oldest event processed: baselines build up over the warm-up
and the window. There is no alert recommender and no population send-time prior (they
come from other topics): best-time sends pick their hour from each user's own sends.

Decisions and commands are counted when made inside the window (``Window.counts``): a
command by its decision's time, whether sent at once, released later by the timer, or
still held when the replay ends.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.commands import SendCommunication
from schemas.events import Event
from schemas.records import BEHAVIOR_CHANGE_TRIGGER_ID, Outcome
from schemas.triggers import TriggerDefinition
from streams.core.behavior.change import BehaviorPolicy
from streams.core.decisions.process import process, process_idle
from streams.core.decisions.release import held_command, held_until
from streams.core.decisions.result import Result
from streams.core.decisions.send_policy import SendPolicy
from streams.core.rendering import Catalogue
from streams.core.replay.history import Window
from streams.core.risk.policy import InterventionPolicy
from streams.core.state.analytics import Analytics
from streams.core.state.record import UserState
from streams.core.triggers.due import due_definitions

#: How often the worker's timer judges behaviour change (its ``BEHAVIOR_CHANGE_EVERY_SECONDS``).
BEHAVIOR_EVERY_SECONDS = 86_400.0
#: The segments' pass in ``_Replay.last_run`` (the timer's ``SEGMENTS_PASS``).
SEGMENTS_RUN = "segments:membership"


@dataclass(frozen=True, slots=True)
class TimerPolicy:
    """How the replay's timer runs (the worker's settings).

    Attributes:
        interval_seconds: Between ticks (``NUDGE_SCHEDULE_INTERVAL_SECONDS``).
        behavior: Behaviour change and patterns, judged by a daily pass over every
            user; ``None``: not judged (``NUDGE_BEHAVIOR_CHANGE=false``).
        segments_every_seconds: Between passes judging every user's live segments
            (``NUDGE_SEGMENTS_EVERY_SECONDS``); ``None``: no such pass.
    """

    interval_seconds: float = 60.0
    behavior: BehaviorPolicy | None = field(default_factory=BehaviorPolicy)
    segments_every_seconds: float | None = 3600.0


@dataclass(frozen=True, slots=True)
class CoreSetup:
    """What the worker passes to the core besides the definitions, from its settings."""

    catalogue: Catalogue
    policy: SendPolicy
    interventions: InterventionPolicy
    analytics: Analytics
    max_event_age_seconds: float
    timer: TimerPolicy = field(default_factory=TimerPolicy)
    intervention_templates: Catalogue | None = None
    """The intervention messages in force; ``None``: the shipped ones."""


@dataclass(slots=True)
class TriggerTally:
    """What one trigger did inside the window.

    Attributes:
        fired_users: Users it fired for at least once.
        firings: Fired decisions.
        sends: Commands by channel (sent, released or still held at the end).
        suppressed: Suppressed decisions by reason.
    """

    fired_users: set[str] = field(default_factory=set)
    firings: int = 0
    sends: Counter[str] = field(default_factory=Counter)
    suppressed: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class Tally:
    """What a replay did: per trigger, and in all.

    Attributes:
        triggers: Trigger id -> what it did (every definition given, even if idle).
        events: Events processed (warm-up included).
        duplicates: Events whose id the user's record had seen (not applied).
        not_evaluated: Events older than ``max_event_age_seconds`` behind the clock.
        processing_errors: Events whose processing raised (the worker dead-letters them).
        ticks: Timer passes run.
        users: Users with a record at the end.
    """

    triggers: dict[str, TriggerTally] = field(default_factory=dict)
    events: int = 0
    duplicates: int = 0
    not_evaluated: int = 0
    processing_errors: int = 0
    ticks: int = 0
    users: int = 0


def replay(
    events: Iterable[Event],
    definitions: Sequence[TriggerDefinition],
    setup: CoreSetup,
    window: Window,
) -> Tally:
    """Run ``events`` (in event-time order) through the core with ``definitions``.

    Args:
        events: The history (``streams.core.replay.history.take_in``).
        definitions: The definitions in force for the whole replay.
        setup: Templates, policies and the timer's settings.
        window: What is counted, and where the clock ends.
    """
    run = _Replay(definitions, setup, window)
    for event in events:
        run.advance(event.occurred_at.timestamp())
        run.step(event)
    run.advance(window.end.timestamp())
    run.finish()
    return run.tally


class _Replay:
    """The replay's worker: records, the timer's memory, and the tally."""

    def __init__(
        self, definitions: Sequence[TriggerDefinition], setup: CoreSetup, window: Window
    ) -> None:
        self.setup = setup
        self.window = window
        self.definitions = list(definitions)
        self.categories = {d.id: d.category for d in self.definitions}
        self.by_type: dict[str, list[TriggerDefinition]] = {}
        for definition in self.definitions:
            for event_type in definition.evaluate_on.events:
                self.by_type.setdefault(event_type, []).append(definition)
        self.scheduled = [
            d for d in self.definitions if d.evaluate_on.every is not None and d.status != "paused"
        ]
        self.states: dict[str, UserState] = {}
        self.clock = -math.inf
        self.last_tick = -math.inf
        self.last_run: dict[str, float] = {}
        self.held: list[tuple[float, str]] = []
        """(when due, user): a heap, entries checked against the record when taken."""
        self.tally = Tally(triggers={d.id: TriggerTally() for d in self.definitions})

    # --- events ----------------------------------------------------------------------------

    def step(self, event: Event) -> None:
        """Process one event with the clock at the newest event time so far."""
        self.clock = max(self.clock, event.occurred_at.timestamp())
        now = datetime.fromtimestamp(self.clock, UTC)
        user = event.user_id
        state = self.states.get(user) or UserState()
        before = state.snapshot()
        self.tally.events += 1
        setup = self.setup
        try:
            result = process(
                state, event, self.by_type.get(event.type, ()), setup.catalogue, now=now,
                max_event_age_seconds=setup.max_event_age_seconds, policy=setup.policy,
                interventions=setup.interventions, analytics=setup.analytics,
                intervention_templates=setup.intervention_templates,
            )  # fmt: skip
        except Exception:  # noqa: BLE001 - the worker dead-letters it and goes on; so does this
            self.tally.processing_errors += 1
            if user in self.states:
                self.states[user] = UserState.from_snapshot(before)
            return
        if not result.applied:
            self.tally.duplicates += 1
            return
        self.tally.not_evaluated += not result.evaluated
        self.states[user] = state
        self._count(result)
        self._note_held(user, state)

    # --- the timer -------------------------------------------------------------------------

    def advance(self, until: float) -> None:
        """Run the ticks before ``until`` (epoch seconds)."""
        while self.states:
            tick = self._next_tick()
            if tick >= until:
                return
            self._tick(tick)

    def _next_tick(self) -> float:
        """Return the next tick at which something is due (``inf``: none)."""
        every = self.setup.timer.interval_seconds
        first = _grid(max(self.last_tick, self.clock), every)
        if first <= self.last_tick:
            first += every
        wanted = [
            self._after(self.last_run.get(d.id), d.evaluate_on.every or 0.0) for d in self.scheduled
        ]
        timer = self.setup.timer
        insights = max(first, self.window.start.timestamp())
        if timer.behavior is not None and timer.behavior.enabled:
            wanted.append(
                max(
                    insights,
                    self._after(
                        self.last_run.get(BEHAVIOR_CHANGE_TRIGGER_ID), BEHAVIOR_EVERY_SECONDS
                    ),
                )
            )
        if timer.segments_every_seconds is not None:
            wanted.append(
                max(
                    insights,
                    self._after(self.last_run.get(SEGMENTS_RUN), timer.segments_every_seconds),
                )
            )
        due = self._earliest_held()
        if due is not None:
            wanted.append(due)
        return min((max(first, _grid(at, every)) for at in wanted), default=math.inf)

    @staticmethod
    def _after(last: float | None, every: float) -> float:
        """When a whole pass last run at ``last`` is due again (now, if never run)."""
        return -math.inf if last is None else last + every

    def _tick(self, moment: float) -> None:
        """One timer pass at ``moment``: what the worker's ``Scheduler.run_pass`` does."""
        self.last_tick = moment
        self.clock = max(self.clock, moment)
        now = datetime.fromtimestamp(moment, UTC)
        timer = self.setup.timer
        due = due_definitions(self.scheduled, self.last_run, now)
        behavior = timer.behavior if timer.behavior is not None and timer.behavior.enabled else None
        # The passes that judge insights wait for the window: see the module's description.
        insights = moment >= self.window.start.timestamp()
        behavior_due = (
            insights
            and behavior is not None
            and self._due(BEHAVIOR_CHANGE_TRIGGER_ID, BEHAVIOR_EVERY_SECONDS, moment)
        )
        segments_every = timer.segments_every_seconds
        segments_due = (
            insights
            and segments_every is not None
            and self._due(SEGMENTS_RUN, segments_every, moment)
        )
        if due or behavior_due or segments_due:
            users = list(self.states)
            self.held.clear()  # every user is looked at, and noted again
        else:
            users = self._take_held(moment)
        if not users:
            return
        self.tally.ticks += 1
        setup = self.setup
        for user in users:
            state = self.states[user]
            result = process_idle(
                user, state, due, setup.catalogue, now=now, policy=setup.policy,
                behavior=behavior if behavior_due else None, analytics=setup.analytics,
                segments=segments_due, categories=self.categories,
            )  # fmt: skip
            self._count(result)
            self._note_held(user, state)
        for trigger_id in [d.id for d in due]:
            self.last_run[trigger_id] = moment
        if behavior_due:
            self.last_run[BEHAVIOR_CHANGE_TRIGGER_ID] = moment
        if segments_due:
            self.last_run[SEGMENTS_RUN] = moment

    def _due(self, key: str, every: float, moment: float) -> bool:
        last = self.last_run.get(key)
        return last is None or moment - last >= every

    def _note_held(self, user: str, state: UserState) -> None:
        if state.pending:
            heapq.heappush(self.held, (held_until(state.pending[0]), user))

    def _earliest_held(self) -> float | None:
        """Return when the earliest held send is due, dropping entries no longer true."""
        while self.held:
            due, user = self.held[0]
            pending = self.states[user].pending
            if pending and held_until(pending[0]) == due:
                return due
            heapq.heappop(self.held)
        return None

    def _take_held(self, moment: float) -> list[str]:
        """Take the users whose earliest held send is due at ``moment``."""
        users: dict[str, None] = {}
        while (due := self._earliest_held()) is not None and due <= moment:
            users[heapq.heappop(self.held)[1]] = None
        return list(users)

    # --- counting --------------------------------------------------------------------------

    def _count(self, result: Result) -> None:
        counts = self.window.counts
        triggers = self.tally.triggers
        for decision in result.decisions:
            tally = triggers.get(decision.trigger_id)
            if tally is None or not counts(decision.occurred_at):
                continue
            if decision.outcome is Outcome.FIRED:
                tally.firings += 1
                tally.fired_users.add(decision.user_id)
            elif decision.reason is not None:
                tally.suppressed[decision.reason.value] += 1
        for command in result.commands:
            self._count_send(command)

    def _count_send(self, command: SendCommunication) -> None:
        tally = self.tally.triggers.get(command.trigger_id)
        if tally is not None and self.window.counts(command.created_at):
            tally.sends[command.channel.value] += 1

    def finish(self) -> None:
        """Count the sends still held when the window ends: decided, and due after it."""
        for state in self.states.values():
            for held in state.pending:
                self._count_send(held_command(held))
        self.tally.users = len(self.states)


def _grid(moment: float, every: float) -> float:
    """Return the first tick at or after ``moment`` (ticks are multiples of ``every``)."""
    if math.isinf(moment):
        return moment
    return math.ceil(moment / every) * every
