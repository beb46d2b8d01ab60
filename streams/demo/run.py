"""``nudge demo``: the whole pipeline on a synthetic population, then what fired.

Starts a stream worker and a sink as child processes on a fresh topic prefix, publishes
about a minute of synthetic users (months of history, then the days that matter, a few
malformed messages among them), waits until the worker and the sink have caught up
(consumer lag zero, not a fixed sleep) and the worker's timer has judged the time-based
triggers (its log says so), and prints what happened from PostgreSQL: per trigger, the
users the generator knows must fire against those who did, and what was suppressed why.
Then the experiment (``streams.demo.experiments``): a campaign of quote seekers whose
population prefers one arm, the purchases it makes, and the experiments, funnel and
cohort reports. Then the alert recommender (``streams.demo.alerts``): card holders' debits
and alerts, ``nudge models train`` and ``evaluate`` on them, and three users served by the
promoted model. Then the risk half (``streams.demo.risk``): the scores of a few users go to
``risk.scores`` once the worker has read their payments, the interventions they start are
checked the same way, a simulated notification service reports outcomes for every
command, and the effectiveness report is printed once the sink has stored them. Last, the
learned models (``streams.demo.learning``): the anomaly evaluation, the send-time uplift
and a few of the demo's users' spending forecasts.

Like ``streams.cli.main`` it is a composition root, so it may reach into ``sinks`` (lazily).
"""

from __future__ import annotations

import asyncio
import textwrap
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.records import (
    BEHAVIOR_CHANGE_TRIGGER_ID,
    INSIGHT_TRIGGER_IDS,
    RISK_INTERVENTION_TRIGGER_ID,
)
from schemas.settings import Settings
from schemas.topics import (
    BEHAVIOR_EVENTS,
    RISK_SCORES,
)
from streams.core.triggers.catalogue import default_definitions
from streams.demo.alerts import ALERT_USERS, run_alerts
from streams.demo.analytics import print_analytics
from streams.demo.behavior import print_behavior_changes
from streams.demo.experiments import CAMPAIGN_USERS, apply_experiment, run_campaign
from streams.demo.learning import print_learning
from streams.demo.risk import print_interventions, simulate_and_report
from streams.demo.tuning import print_simulation
from streams.demo.why import print_why
from streams.runtime.lag import group_lag
from streams.runtime.processes import NudgeProcess
from streams.simulation.population import Mix

#: The demo's population: a tenth spike, a tenth lose income, and 48 of the default 160
#: users live a story (``streams.simulation.stories``: two of each of the 24). The rest,
#: over half, stay ordinary: nothing must fire for them. Twelve of those also get risk
#: scores (``streams.simulation.risk_stories``: two of each of six), for the risk interventions.
DEMO_MIX = Mix(spike_share=0.10, income_drop_share=0.10, story_share=0.3000, risk_users=12)
#: The demo worker's timer interval. Its passes wait while the worker is still reading
#: the months of history; the first one after it reaches the present judges the
#: time-based triggers, so a short interval shows them seconds after the catch-up.
SCHEDULE_INTERVAL_SECONDS = 2.0
#: Longest the demo waits for the worker and the sink to catch up after publishing.
CATCH_UP_TIMEOUT_SECONDS = 180.0
#: Longest it then waits for the timer pass that judges the time-based triggers.
TIMER_TIMEOUT_SECONDS = 120.0
LOG_DIR = Path(".run/demo")

LEGEND = """\
expected: users whose synthetic history must fire the trigger (each story is built to fire
  it once, with room under the caps and priorities); missed: expected but not fired;
  unexpected: fired but not expected; "-": no exact expectation, fired users only.
on: "event" triggers judge events up to 2 days old; "timer" ones were judged by the worker's
  timer once it had read up to the present. sent: commands on comms.commands; held: kept in
  the user's record until 08:00 in their time zone (quiet hours); suppressed: decisions
  recorded but not sent, by reason (cooldown, lower_priority: caps taken by a more important
  trigger, frequency_cap...)."""


def run_demo(  # noqa: PLR0913 - the demo's knobs, keyword-only
    settings: Settings,
    *,
    users: int,
    rate: float,
    seed: int,
    campaign: int = CAMPAIGN_USERS,
    alert_users: int = ALERT_USERS,
) -> int:
    """Run the demo; return 0 when every exact expectation held (see ``LEGEND``).

    ``campaign``: quote seekers in the experiment phase; 0 leaves the phase out.
    ``alert_users``: card holders in the recommender's phase; 0 leaves it out.
    """
    return asyncio.run(
        _demo(
            settings, users=users, rate=rate, seed=seed, campaign=campaign,
            alert_users=alert_users,
        )
    )  # fmt: skip


async def _demo(  # noqa: PLR0913 - run_demo's knobs
    base: Settings, *, users: int, rate: float, seed: int, campaign: int, alert_users: int
) -> int:
    from sinks.migrate import fresh_database
    from streams.runtime.kafka_admin import ensure_topics
    from streams.simulation.simulated_publisher import produce, produce_risk_scores

    tag = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    settings = base.model_copy(
        update={
            "topic_prefix": f"demo{tag}.",
            "app_id": f"nudge-demo-{tag}",
            "metrics_port": 0,
            "sink_metrics_port": 0,
            "schedule_interval_seconds": SCHEDULE_INTERVAL_SECONDS,
            # The models it trains, apart from any other run's (absolute: the worker and
            # the trainer read the promotion's path as it is).
            "models_dir": (Path.cwd() / base.models_dir / f"demo{tag}").resolve(),
            # The demo reads the worker's INFO log line of the timer pass it waits for.
            "log_level": "DEBUG" if base.log_level == "DEBUG" else "INFO",
        }
    )
    _say(f"Nudge demo: {users} synthetic users, about {rate:.0f} events/s, topics demo{tag}.*")
    await ensure_topics(settings)
    # A database of its own, new each run: the population is seeded, so its decision and
    # command ids repeat from run to run, and the sink would rightly ignore them.
    settings = fresh_database(settings, "nudge_demo")
    await apply_experiment(settings)  # in force from the worker's first batch
    worker = NudgeProcess(settings, "worker", LOG_DIR / f"worker-{tag}.log").start()
    processes = [worker, NudgeProcess(settings, "sink", LOG_DIR / f"sink-{tag}.log").start()]
    started = time.monotonic()
    now = datetime.now(UTC)  # the end of the history, of the scores' too
    try:
        report = await produce(
            settings, users=users, rate=rate, seed=seed, invalid_share=0.002, mix=DEMO_MIX, now=now
        )
        _say(
            f"published {report.events_sent} events and {report.invalid_sent} malformed "
            f"messages in {report.seconds:.0f} s; waiting for the worker and the sink"
        )
        await _catch_up(settings, processes)
        # Only now: a score read before its user's payments would be judged without them.
        scores = await produce_risk_scores(settings, users=users, seed=seed, now=now, mix=DEMO_MIX)
        _say(f"published {scores} risk scores to risk.scores")
        if users:  # a timer pass over nobody judges nothing, and is not logged as one
            _say("caught up; waiting for the worker's timer to judge the time-based triggers")
            await _timer_pass(worker)
        judged_at = datetime.now(UTC)  # the week the pass judged is the last complete one
        await _catch_up(settings, processes)  # what the pass and the scores decided, stored
        code = _print_results(settings, report)
        if not print_interventions(settings, report.expected_interventions):
            code = 1
        if not print_behavior_changes(settings, report.activity, judged_at):
            code = 1
        if not print_analytics(settings, DEMO_MIX.population(users, seed=seed)):
            code = 1
        if campaign and not await run_campaign(
            settings, lambda: _catch_up(settings, processes), now=now, seed=seed, users=campaign
        ):
            code = 1
        if alert_users and not await run_alerts(
            settings, lambda: _catch_up(settings, processes), now=now, seed=seed,
            users=alert_users,
        ):  # fmt: skip
            code = 1
        await simulate_and_report(settings, seed=seed)
        print_learning(DEMO_MIX, users=users, seed=seed, now=now)
        if users and not await print_why(settings):
            code = 1
        if users and not await print_simulation(settings):
            code = 1
        _say(f"\ndone in {time.monotonic() - started:.0f} s")
        return code
    finally:
        for process in processes:
            process.stop()
        _say(f"stopped the worker and the sink (logs in {LOG_DIR}/)")


async def _catch_up(settings: Settings, processes: list[NudgeProcess]) -> None:
    prefix = settings.topic_prefix
    inputs = [s.full_name(prefix) for s in (BEHAVIOR_EVENTS, RISK_SCORES)]
    from sinks.rows import ROUTES  # the demo is a composition root, like the CLI
    from sinks.worker import sink_group

    outputs = [s.full_name(prefix) for s in ROUTES]  # every topic the sink reads
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        _check_running(processes)
        worker_lag = await group_lag(settings, settings.app_id, inputs)
        sink_lag = await group_lag(settings, sink_group(settings), outputs)
        if worker_lag == 0 and sink_lag == 0:
            return
        _say(f"  behind: worker {worker_lag} events, sink {sink_lag} messages")
        await asyncio.sleep(2.0)
    msg = f"the pipeline did not catch up within {CATCH_UP_TIMEOUT_SECONDS:.0f} s"
    raise RuntimeError(msg)


async def _timer_pass(worker: NudgeProcess) -> None:
    """Wait until the worker logs a timer pass that judged every time-based trigger.

    The worker flushes a pass's decisions before logging it, so they are on the topics.
    """
    wanted = {d.id for d in default_definitions() if d.evaluate_on.every is not None}
    wanted.add(BEHAVIOR_CHANGE_TRIGGER_ID)
    deadline = time.monotonic() + TIMER_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        _check_running([worker])
        for entry in worker.log_entries():
            if entry.get("message") == "timer pass" and wanted <= set(entry.get("evaluated", ())):
                return
        await asyncio.sleep(1.0)
    msg = f"the worker's timer did not judge {sorted(wanted)} within {TIMER_TIMEOUT_SECONDS:.0f} s"
    raise RuntimeError(msg)


def _check_running(processes: list[NudgeProcess]) -> None:
    for process in processes:
        if not process.running():
            msg = f"the {process.command} exited early; see {process.log_path}"
            raise RuntimeError(msg)


@dataclass(frozen=True, slots=True)
class TriggerRow:
    """One line of the per-trigger table."""

    trigger: str
    on: str
    expected: set[str] | None
    fired: set[str]
    sent: int
    held: int
    suppressed: dict[str, int]

    @property
    def missed(self) -> set[str]:
        """Expected users who did not fire."""
        return set() if self.expected is None else self.expected - self.fired

    @property
    def unexpected(self) -> set[str]:
        """Users who fired without being expected."""
        return set() if self.expected is None else self.fired - self.expected

    @property
    def ok(self) -> bool:
        """Whether the exact expectation held (or there is none)."""
        return not self.missed and not self.unexpected

    def line(self) -> str:
        """Format the row like ``HEADER``."""
        count = "-" if self.expected is None else str(len(self.expected))
        exact = self.expected is not None
        missed = str(len(self.missed)) if exact else "-"
        unexpected = str(len(self.unexpected)) if exact else "-"
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(self.suppressed.items()))
        return (
            f"  {self.trigger:26} {self.on:5} {count:>8} {len(self.fired):>5} {missed:>6} "
            f"{unexpected:>10} {self.sent:>5} {self.held:>4}  {reasons}"
        ).rstrip()


HEADER = (
    f"  {'trigger':26} {'on':5} {'expected':>8} {'fired':>5} {'missed':>6} "
    f"{'unexpected':>10} {'sent':>5} {'held':>4}  suppressed"
)


def trigger_rows(
    expected: dict[str, set[str]],
    fired: dict[str, set[str]],
    decisions: list[dict[str, Any]],
    sent: dict[str, int],
    decided: dict[str, int],
) -> list[TriggerRow]:
    """Return one row per trigger: the catalogue's in order, then any other that fired.

    Args:
        expected: Trigger id -> users who must fire it (exact expectations only).
        fired: Trigger id -> users it fired for.
        decisions: ``summary()["decisions"]`` rows (trigger, outcome, reason, count).
        sent: Trigger id -> commands recorded.
        decided: Trigger id -> commands its fired decisions named.
    """
    # Judged on events if it names any (income_drop's timer only judges a month no event did).
    kinds = {d.id: ("event" if d.evaluate_on.events else "timer") for d in default_definitions()}
    suppressed: dict[str, dict[str, int]] = {}
    for row in decisions:
        if row["outcome"] != "fired":
            reasons = suppressed.setdefault(row["trigger_id"], {})
            reasons[row["reason"] or "-"] = reasons.get(row["reason"] or "-", 0) + row["count"]
    others = sorted((set(expected) | set(fired) | set(suppressed)) - set(kinds))
    return [
        TriggerRow(
            trigger,
            kinds.get(trigger, "?"),
            expected.get(trigger),
            fired.get(trigger, set()),
            sent.get(trigger, 0),
            max(decided.get(trigger, 0) - sent.get(trigger, 0), 0),
            suppressed.get(trigger, {}),
        )
        for trigger in [*kinds, *others]
    ]


def _print_results(settings: Settings, report: Any) -> int:
    from sinks.reports.queries import decided_commands, fired_users, recent_communications, summary

    stats = summary(settings)
    # No-break spaces keep each "type count" pair on one line when the list wraps.
    by_type = ", ".join(f"{k}\u00a0{v}" for k, v in sorted(report.by_type.items()))
    listing = textwrap.fill(f"Events in by type: {by_type}", width=96, subsequent_indent="  ")
    _say("")
    _say(listing.replace("\u00a0", " "))
    channels: dict[str, int] = {}
    sent: dict[str, int] = {}
    for row in stats["communications"]:
        channels[row["channel"]] = channels.get(row["channel"], 0) + row["count"]
        sent[row["trigger_id"]] = sent.get(row["trigger_id"], 0) + row["count"]
    per_channel = ", ".join(f"{c} {n}" for c, n in sorted(channels.items()))
    _say(f"Commands out: {sum(channels.values())} ({per_channel or 'none'})")
    _table("Dead letters", ["topic", "kind", "count"], stats["dead_letters"])
    _say("\nA few rendered messages:")
    for row in recent_communications(settings, limit=3):
        subject = f" | {row['subject']}" if row["subject"] else ""
        _say(f"  [{row['trigger_id']} / {row['channel']}] to {row['user_id']}{subject}")
        _say("    " + row["body"].replace("\n", "\n    ")[:300])
    # Risk decisions and behaviour changes have tables of their own (``streams.demo.risk``,
    # ``streams.demo.behavior``).
    own_tables = {RISK_INTERVENTION_TRIGGER_ID, *INSIGHT_TRIGGER_IDS}
    fired = {t: users for t, users in fired_users(settings).items() if t not in own_tables}
    decisions = [row for row in stats["decisions"] if row["trigger_id"] not in own_tables]
    rows = trigger_rows(report.expected, fired, decisions, sent, decided_commands(settings))
    _say("\nPer trigger: users expected to fire against users fired; commands; suppressions")
    _say(HEADER)
    for row in rows:
        _say(row.line())
    _say(LEGEND)
    wrong = [row.trigger for row in rows if not row.ok]
    if wrong:
        _say(f"\nMISMATCH for {', '.join(wrong)}: see above.")
        return 1
    _say("\nEvery expected user fired and no one else.")
    return 0


def _table(title: str, headers: list[str], records: list[dict[str, Any]]) -> None:
    _say(f"\n{title}:")
    if not records:
        _say("  (none)")
        return
    rows = [tuple("-" if r[h] is None else r[h] for h in headers) for r in records]
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=True)]
    for row in [tuple(headers), *rows]:
        _say(
            "  "
            + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        )


def _say(line: str) -> None:
    print(line, flush=True)
