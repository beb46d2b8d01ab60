"""A known history for the replay's tests, and the direct replay it is checked against.

The history: a synthetic population (spenders, income drops and stories, time-based
ones among them, quiet hours holding sends), two "moderate spenders" whose last week is
12 % up (below ``spending_spike``'s 20 %, above 5 %), a duplicate, and malformed
messages. The direct replay is the plain loop: every message decoded with
``decode_event``, the valid ones in event-time order through ``process``, and the
timer's ``process_idle`` at *every* tick for *every* user, with ``due_definitions``:
none of the replay's skipping or indexing.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson

from schemas.commands import SendCommunication
from schemas.events import Event
from schemas.intake import Rejection, decode_event
from schemas.records import Outcome
from schemas.triggers import TriggerDefinition
from streams.core.behavior.change import BehaviorPolicy
from streams.core.decisions.process import process, process_idle
from streams.core.decisions.release import held_command
from streams.core.decisions.result import Result
from streams.core.decisions.send_policy import SendPolicy
from streams.core.rendering import default_catalogue
from streams.core.replay import CoreSetup, InputMessage, TimerPolicy, Window
from streams.core.risk.policy import InterventionPolicy
from streams.core.state.analytics import analytics_from
from streams.core.state.record import UserState
from streams.core.state.visits import VisitPolicy
from streams.core.triggers.catalogue import default_definitions
from streams.core.triggers.due import due_definitions
from streams.simulation.malformed import malformed_stream
from streams.simulation.population import Mix, population_events
from tests.unit.factories import profile, transaction

#: The end of the history (a Tuesday afternoon UTC).
NOW = datetime(2026, 3, 10, 15, tzinfo=UTC)
#: The week reported on, after four weeks of warm-up (the spike's baseline).
WINDOW = Window(NOW - timedelta(days=7), NOW, warmup_seconds=28 * 86_400.0)
SEED = 11
#: Users whose last week is 12 % up: a spike only for a threshold below 12 %.
MODERATE = ("moderate-1", "moderate-2")
MALFORMED = 5
#: Ten-minute ticks: the direct replay visits every one, for every user.
SETUP = CoreSetup(
    catalogue=default_catalogue(),
    policy=SendPolicy(),  # quiet hours 21-8: sends held and released by the timer
    interventions=InterventionPolicy(),
    analytics=analytics_from({}, VisitPolicy()).analytics,
    max_event_age_seconds=2 * 86_400.0,
    timer=TimerPolicy(interval_seconds=600.0, behavior=BehaviorPolicy()),
)


def live_definitions() -> list[TriggerDefinition]:
    """The shipped catalogue."""
    return list(default_definitions())


def lowered_spike(percent: float = 5.0) -> list[TriggerDefinition]:
    """The catalogue with ``spending_spike``'s ``spike_percent`` lowered to ``percent``."""
    return [
        d.model_copy(update={"thresholds": {**d.thresholds, "spike_percent": percent}})
        if d.id == "spending_spike"
        else d
        for d in default_definitions()
    ]


def moderate_events(user: str) -> list[bytes]:
    """$20 a day for five weeks, then $22.40 a day: the last week 12 % above the others."""
    start = NOW - timedelta(days=42, hours=3)
    events = []
    for day in range(42):
        amount = "22.40" if day >= 35 else "20.00"
        events.append(
            transaction(user, start + timedelta(days=day), amount, event_id=f"{user}-{day}")
        )
    return [event.model_dump_json().encode() for event in events]


def night_owl_events() -> list[bytes]:
    """A Tokyo user's $20 days, then a $900 debit at midnight local, 30 minutes before the
    end: ``large_transaction`` fires, and its sends are held past the end (quiet hours)."""
    user = "night-owl"
    start = NOW - timedelta(days=30)
    events = [profile(user, start - timedelta(hours=1), timezone="Asia/Tokyo")]
    events += [transaction(user, start + timedelta(days=day), "20.00") for day in range(30)]
    events.append(transaction(user, NOW - timedelta(minutes=30), "900.00"))
    return [event.model_dump_json().encode() for event in events]


def history_messages() -> list[InputMessage]:
    """The known history as input messages, in the order a producer sent them."""
    personas = Mix(spike_share=0.2, income_drop_share=0.1, story_share=0.6).population(
        30, seed=SEED
    )
    values = [orjson.dumps(e) for e in population_events(personas, now=NOW, seed=SEED)]
    for user in MODERATE:
        values += moderate_events(user)
    values += night_owl_events()
    values.append(values[-40])  # delivered twice
    messages = []
    for offset, value in enumerate(values):
        at = datetime.fromisoformat(orjson.loads(value)["occurred_at"])
        key = orjson.loads(value)["user_id"].encode()
        messages.append(InputMessage("behavior.events", 0, offset, key, value, at))
    bad = malformed_stream(seed=SEED)
    for index in range(MALFORMED):
        _, (key, value) = next(bad)
        messages.append(InputMessage("behavior.events", 0, len(values) + index, key, value, NOW))
    return messages


@dataclass
class Direct:
    """What the direct replay counted in the window."""

    fired: set[tuple[str, str]] = field(default_factory=set)
    firings: Counter[str] = field(default_factory=Counter)
    sends: Counter[tuple[str, str]] = field(default_factory=Counter)
    suppressed: Counter[tuple[str, str]] = field(default_factory=Counter)
    scheduled_firings: int = 0
    released: int = 0
    held_at_end: int = 0


def direct_replay(
    messages: Iterable[InputMessage],
    definitions: Sequence[TriggerDefinition],
    setup: CoreSetup = SETUP,
    window: Window = WINDOW,
) -> Direct:
    """Process the history the plain way; count what happened inside ``window``."""
    valid = []
    for message in messages:
        event, _ = decode_event(message.key, message.value, now=message.timestamp)
        if isinstance(event, Rejection):
            continue
        if window.folded_from <= event.occurred_at < window.end:
            valid.append(event)
    valid.sort(key=lambda e: e.occurred_at)  # stable: producer order among equals
    plain = _Plain(definitions, setup, window)
    every = setup.timer.interval_seconds
    next_tick = math.inf
    clock = -math.inf
    for event in valid:
        at = event.occurred_at.timestamp()
        while next_tick < at:
            plain.tick(next_tick)
            next_tick += every
        clock = max(clock, at)
        plain.step(event, clock)
        if math.isinf(next_tick):
            next_tick = math.ceil(at / every) * every  # the first tick once someone exists
    end = window.end.timestamp()
    while next_tick < end:
        plain.tick(next_tick)
        next_tick += every
    for state in plain.states.values():
        for held in state.pending:
            plain.note(held_command(held))
            plain.direct.held_at_end += 1
    return plain.direct


class _Plain:
    """The plain loop's worker: every user at every tick."""

    def __init__(
        self, definitions: Sequence[TriggerDefinition], setup: CoreSetup, window: Window
    ) -> None:
        self.ids = {d.id for d in definitions}
        types = {t for d in definitions for t in d.evaluate_on.events}
        self.by_type = {t: [d for d in definitions if t in d.evaluate_on.events] for t in types}
        self.scheduled = [d for d in definitions if d.evaluate_on.every is not None]
        self.setup = setup
        self.window = window
        self.states: dict[str, UserState] = {}
        self.last_run: dict[str, float] = {}
        self.direct = Direct()

    def step(self, event: Event, clock: float) -> None:
        setup = self.setup
        state = self.states.setdefault(event.user_id, UserState())
        result = process(
            state, event, self.by_type.get(event.type, []), setup.catalogue,
            now=datetime.fromtimestamp(clock, UTC),
            max_event_age_seconds=setup.max_event_age_seconds, policy=setup.policy,
            interventions=setup.interventions, analytics=setup.analytics,
        )  # fmt: skip
        self.count(result)

    def tick(self, moment: float) -> None:
        setup, last_run = self.setup, self.last_run
        timer = setup.timer
        now = datetime.fromtimestamp(moment, UTC)
        due = due_definitions(self.scheduled, last_run, now)
        insights = moment >= self.window.start.timestamp()  # not in the warm-up
        daily = insights and (
            last_run.get("behavior") is None or moment - last_run["behavior"] >= 86_400
        )
        hourly = timer.segments_every_seconds
        segments = (
            insights
            and hourly is not None
            and (last_run.get("segments") is None or moment - last_run["segments"] >= hourly)
        )
        for user, state in self.states.items():
            result = process_idle(
                user, state, due, setup.catalogue, now=now, policy=setup.policy,
                behavior=timer.behavior if daily else None, analytics=setup.analytics,
                segments=segments,
            )  # fmt: skip
            self.direct.released += result.released
            self.count(result)
        for definition in due:
            last_run[definition.id] = moment
        if daily:
            last_run["behavior"] = moment
        if segments:
            last_run["segments"] = moment

    def count(self, result: Result) -> None:
        direct = self.direct
        for decision in result.decisions:
            if decision.trigger_id in self.ids and self.window.counts(decision.occurred_at):
                if decision.outcome is Outcome.FIRED:
                    direct.fired.add((decision.trigger_id, decision.user_id))
                    direct.firings[decision.trigger_id] += 1
                    direct.scheduled_firings += decision.source_event_id is None
                elif decision.reason is not None:
                    direct.suppressed[(decision.trigger_id, decision.reason.value)] += 1
        for command in result.commands:
            self.note(command)

    def note(self, command: SendCommunication) -> None:
        if command.trigger_id in self.ids and self.window.counts(command.created_at):
            self.direct.sends[(command.trigger_id, command.channel.value)] += 1
