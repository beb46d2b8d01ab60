"""The online models' cost per event: each model's call, and the core pass with and without.

``python -m streams.bench online`` needs no broker and no database. It times, in this
process, each per-user model the worker runs (``models.online``) on realistic inputs,
``calls`` calls a run, ``runs`` runs, and reports the median run's microseconds per call:

- ``anomaly_score_and_learn``: one debit scored and learned, on users with 40 debits
  behind them (amounts as the bench's workload draws them, one merchant in ten new);
- ``send_time_best_hour``: a ``send_at: best_time`` draw among 13 allowed hours, for users
  with sends at each, with the population's prior;
- ``send_time_note_send_and_outcome``: a send counted, then its open credited;
- ``forecast_next_week``: next week's spending from 42 days of daily totals;
- ``goals_probability``: a goal's probability after ten reports;
- ``drift``: the drift detectors' per-event update (``models.drift``: counts per event,
  river's ADWIN fed when a bucket of 1,000 events closes).

Then the whole core pass (``streams.bench.core_pass.CorePass.step``, what the worker calls
per event) over the bench's workload (``streams.bench.workload``), with the models on and
with the debit's scoring patched out in this process only (there is no production switch:
the models are part of the core), interleaved on/off/on/off: microseconds per event and
per debit, and the median of the paired differences, which is what the models cost.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from models.drift import DriftMonitor
from models.online import anomaly, forecast, goals, send_time
from models.online.prior import HourCounts
from schemas.events import Event, Transaction
from schemas.intake import Rejection, decode_event
from schemas.settings import Settings
from streams.bench import workload as mix
from streams.bench.core_pass import CorePass
from streams.bench.report import machine_info, write_report_section
from streams.core.state import fold
from streams.core.state.record import UserState

#: The hours a day-long ``max_delay`` leaves outside the default quiet hours (21-08).
ALLOWED_HOURS = tuple(range(8, 21))
#: Per-user states the calls cycle through: the calls touch many records, as a worker does.
STATES = 1_000
#: Debits each anomaly state has learned before the timed calls.
WARM_DEBITS = 40


@dataclass(frozen=True, slots=True)
class OnlineBenchOptions:
    """What to run.

    Attributes:
        calls: Calls of each model per run.
        runs: Runs of each measure; the median run is reported.
        events: Events of the workload the core pass runs over.
        users: Users of that workload.
        seed: Seed of the inputs and of the workload.
        out: The report; its ``online`` section is replaced, the rest kept.
    """

    calls: int = 20_000
    runs: int = 5
    events: int = 20_000
    users: int = 1_000
    seed: int = 7
    out: Path = Path("reports/bench.json")


def per_call_us(call: Callable[[int], object], calls: int, runs: int) -> dict[str, Any]:
    """Time ``call(i)`` for i in ``range(calls)``, ``runs`` times; microseconds per call.

    Returns:
        ``us_per_call`` (the median run) and every run's figure.
    """
    figures = []
    for _ in range(runs):
        started = time.perf_counter()
        for i in range(calls):
            call(i)
        figures.append((time.perf_counter() - started) * 1e6 / calls)
    return {"us_per_call": round(statistics.median(figures), 3),
            "runs_us": [round(f, 3) for f in figures]}  # fmt: skip


def anomaly_case(rng: random.Random) -> Callable[[int], object]:
    """``score_and_learn`` on warmed users with the workload's amounts."""
    states = [anomaly.empty() for _ in range(STATES)]
    for state in states:
        for _ in range(WARM_DEBITS):
            anomaly.learn(state, **_debit(rng))
    inputs = [_debit(rng) for _ in range(4_096)]

    def call(i: int) -> object:
        return anomaly.score_and_learn(states[i % STATES], **inputs[i % len(inputs)])

    return call


def _debit(rng: random.Random) -> dict[str, Any]:
    return {
        "dollars": mix.card_amount(rng), "local_hour": rng.choice((8, 12, 13, 18, 19, 22)),
        "new_merchant": rng.random() < 0.1, "new_category": rng.random() < 0.03,
        "country": "US" if rng.random() < 0.97 else "FR",
    }  # fmt: skip


def best_hour_case(rng: random.Random) -> Callable[[int], object]:
    """``best_hour`` among 13 hours for users with sends at each, with a prior."""
    states = []
    for _ in range(STATES):
        counts = {}
        for hour in ALLOWED_HOURS:
            sends = rng.randrange(1, send_time.SENDS_CAP)
            counts[str(hour)] = [sends, rng.randrange(sends + 1)]
        states.append([counts, []])
    population = HourCounts()
    for hour in range(24):
        population.add(hour, sends=rng.randrange(100, 1000), opens=rng.randrange(10, 100))
    prior = population.rates()
    hours = list(ALLOWED_HOURS)
    seeds = [f"unusual_transaction:user-{i}:{uuid.UUID(int=i)}" for i in range(4_096)]

    def call(i: int) -> object:
        return send_time.best_hour(states[i % STATES], hours, seeds[i % len(seeds)], prior)

    return call


def send_and_outcome_case(rng: random.Random) -> Callable[[int], object]:
    """``note_send`` then ``note_outcome`` (opened) of the same command, on full states."""
    states = [send_time.empty() for _ in range(STATES)]
    commands = [str(uuid.UUID(int=rng.getrandbits(128), version=5)) for _ in range(4_096)]
    for state in states:
        for k in range(send_time.RECENT_KEPT):
            send_time.note_send(state, commands[k], rng.choice(ALLOWED_HOURS))

    def call(i: int) -> object:
        state, command = states[i % STATES], commands[i % len(commands)]
        send_time.note_send(state, command, ALLOWED_HOURS[i % len(ALLOWED_HOURS)])
        return send_time.note_outcome(state, command, "opened")

    return call


def forecast_case(rng: random.Random) -> Callable[[int], object]:
    """``next_week_cents`` over 42 days of daily totals."""
    today = 20_500
    spends = [
        {today - back: int(mix.card_amount(rng) * 100) for back in range(42)} for _ in range(64)
    ]

    def call(i: int) -> object:
        return forecast.next_week_cents(spends[i % len(spends)], today, today - 41)

    return call


def goals_case(rng: random.Random) -> Callable[[int], object]:
    """``probability`` of goals with ten monthly reports and a deadline a year out."""
    start = 1_767_614_400.0
    made = []
    for _ in range(64):
        goal = goals.start(start, 0.0, 5_000.0, int(start // 86_400) + 365)
        saved = 0.0
        for month in range(1, 10):
            saved += rng.uniform(100, 400)
            goals.note_progress(goal, start + month * 30 * 86_400, saved, 5_000.0, None)
        made.append(goal)
    now = start + 280 * 86_400

    def call(i: int) -> object:
        return goals.probability(made[i % len(made)], now)

    return call


def drift_case(rng: random.Random) -> Callable[[int], object]:
    """``DriftMonitor.observe`` per event, as a worker calls it.

    21 triggers seen, 1 % of events firing one, 40 % scored debits; buckets of 1,000 events
    close (and feed ADWIN) as they do in a worker.
    """
    monitor = DriftMonitor(1_000)
    triggers = [f"trigger_{n:02}" for n in range(21)]
    for trigger in triggers:
        monitor.observe([trigger], None)
    fired = [[rng.choice(triggers)] if rng.random() < 0.01 else [] for _ in range(4_096)]
    scores = [rng.random() * 0.3 if rng.random() < 0.4 else None for _ in range(4_096)]

    def call(i: int) -> object:
        return monitor.observe(fired[i % 4_096], scores[i % 4_096])

    return call


#: The per-call measures, by name.
CASES: dict[str, Callable[[random.Random], Callable[[int], object]]] = {
    "anomaly_score_and_learn": anomaly_case,
    "send_time_best_hour": best_hour_case,
    "send_time_note_send_and_outcome": send_and_outcome_case,
    "forecast_next_week": forecast_case,
    "goals_probability": goals_case,
    "drift": drift_case,
}


def workload_events(options: OnlineBenchOptions, now: datetime) -> list[Event]:
    """The bench workload's events, decoded as the worker decodes them, in order."""
    built = mix.build_workload(options.events, options.users, now=now, seed=options.seed)
    events = []
    for key, value in built.messages:
        event, _ = decode_event(key, value, now=now)
        if not isinstance(event, Rejection):
            events.append(event)
    return events


@contextmanager
def _without_debit_scoring() -> Iterator[None]:
    """Patch the fold's debit scoring out, in this process: the core pass without the model."""
    with mock.patch.object(fold, "_score_debit", lambda *_args: None):
        yield


def core_pass(
    events: list[Event], core: CorePass, now: datetime, *, models: bool
) -> dict[str, float]:
    """Run every event through ``core.step`` on fresh records; microseconds per event."""
    states: dict[str, UserState] = {}
    debits = debit_seconds = 0.0
    guard = nullcontext() if models else _without_debit_scoring()
    with guard:
        started = time.perf_counter()
        for event in events:
            state = states.setdefault(event.user_id, UserState())
            if isinstance(event.payload, Transaction) and event.payload.direction == "debit":
                before = time.perf_counter()
                core.step(state, event, now)
                debit_seconds += time.perf_counter() - before
                debits += 1
            else:
                core.step(state, event, now)
        seconds = time.perf_counter() - started
    return {
        "us_per_event": seconds * 1e6 / len(events),
        "us_per_debit": debit_seconds * 1e6 / max(debits, 1),
        "debits": debits,
        "scored": sum(1 for s in states.values() if s.anomaly is not None),
    }


def measure_core(options: OnlineBenchOptions) -> dict[str, Any]:
    """The core pass with the models on and off, interleaved; the median of each."""
    now = datetime.now(UTC).replace(microsecond=0)
    events = workload_events(options, now)
    core = CorePass.from_settings(Settings(category_consent="withdrawal_only"))
    runs: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
    for _ in range(options.runs):
        for name in ("on", "off"):
            runs[name].append(core_pass(events, core, now, models=name == "on"))
    if runs["off"][0]["scored"] or not runs["on"][0]["scored"]:
        msg = "the models' toggle did not take: the debits were scored in both or neither"
        raise RuntimeError(msg)
    median = {
        name: {key: round(statistics.median(r[key] for r in each), 3)
               for key in ("us_per_event", "us_per_debit")}
        for name, each in runs.items()
    }  # fmt: skip
    # Each "off" run follows its "on" run: their difference is paired against drift.
    paired = [
        (on["us_per_event"] - off["us_per_event"], on["us_per_debit"] - off["us_per_debit"])
        for on, off in zip(runs["on"], runs["off"], strict=True)
    ]
    per_event = statistics.median(event for event, _ in paired)
    return {
        "events": len(events),
        "debits": int(runs["on"][0]["debits"]),
        "models_on": median["on"],
        "models_off": median["off"],
        "models_us_per_event": round(per_event, 3),
        "models_us_per_debit": round(statistics.median(debit for _, debit in paired), 3),
        "models_share_of_core_pass": round(per_event / median["on"]["us_per_event"], 4),
        "runs_us_per_event": {
            name: [round(r["us_per_event"], 3) for r in each] for name, each in runs.items()
        },
    }


def run_online_bench(options: OnlineBenchOptions) -> int:
    """Measure each model and the core pass, write the ``online`` section; return 0."""
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    calls: dict[str, Any] = {}
    for name, case in CASES.items():
        print(f"bench online: {name} ...", file=sys.stderr)
        inputs = random.Random(options.seed)  # noqa: S311 - reproducible inputs, not secrets
        calls[name] = per_call_us(case(inputs), options.calls, options.runs)
    print("bench online: the core pass, models on and off ...", file=sys.stderr)
    section = {
        "started_at": started_at,
        "machine": machine_info(),
        "parameters": {k: v for k, v in asdict(options).items() if k != "out"},
        "calls": calls,
        "core_pass": measure_core(options),
    }
    write_report_section(options.out, "online", section)
    print(format_online(section))
    print(f"\nreport written to {options.out} (section 'online')")
    return 0


def format_online(section: dict[str, Any]) -> str:
    """Return a short human table of the section."""
    lines = [f"{'model call':<34} {'us/call':>9}", "-" * 44]
    for name, figures in section["calls"].items():
        value = figures["us_per_call"]
        lines.append(f"{name:<34} {'n/a' if value is None else f'{value:.2f}':>9}")
    core = section["core_pass"]
    on, off = core["models_on"], core["models_off"]
    lines += [
        "",
        f"core pass, {core['events']} events ({core['debits']} debits): "
        f"{on['us_per_event']:.1f} us/event with the models, {off['us_per_event']:.1f} without "
        f"({core['models_us_per_event']:+.1f} us/event, {core['models_us_per_debit']:+.1f} "
        f"us/debit, {100 * core['models_share_of_core_pass']:.1f} % of the pass)",
    ]
    return "\n".join(lines)
