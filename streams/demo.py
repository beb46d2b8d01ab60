"""``nudge demo``: the whole pipeline on a synthetic population, then what fired.

Starts a stream worker and a sink as child processes on a fresh topic prefix, publishes
about a minute of synthetic users (months of history, then the days that matter, a few
malformed messages among them), waits until the worker and the sink have caught up
(consumer lag zero, not a fixed sleep), and prints what happened from PostgreSQL.

Like ``streams.cli`` it is a composition root, so it may reach into ``sinks`` (lazily).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, BEHAVIOR_EVENTS_DLQ, COMMS_COMMANDS, TRIGGER_DECISIONS
from streams.lag import group_lag
from streams.processes import NudgeProcess

#: Longest the demo waits for the worker and the sink to catch up after publishing.
CATCH_UP_TIMEOUT_SECONDS = 180.0
LOG_DIR = Path(".run/demo")


def run_demo(settings: Settings, *, users: int, rate: float, seed: int) -> int:
    """Run the demo; return 0 when every expected user fired and no one else did."""
    return asyncio.run(_demo(settings, users=users, rate=rate, seed=seed))


async def _demo(base: Settings, *, users: int, rate: float, seed: int) -> int:
    from sinks.migrate import fresh_database
    from streams.kafka import ensure_topics
    from streams.producer import produce

    tag = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    settings = base.model_copy(
        update={"topic_prefix": f"demo{tag}.", "app_id": f"nudge-demo-{tag}", "metrics_port": 0}
    )
    _say(f"Nudge demo: {users} synthetic users, about {rate:.0f} events/s, topics demo{tag}.*")
    await ensure_topics(settings)
    # A database of its own, new each run: the population is seeded, so its decision and
    # command ids repeat from run to run, and the sink would rightly ignore them.
    settings = fresh_database(settings, "nudge_demo")
    processes = [
        NudgeProcess(settings, "worker", LOG_DIR / f"worker-{tag}.log").start(),
        NudgeProcess(settings, "sink", LOG_DIR / f"sink-{tag}.log").start(),
    ]
    try:
        report = await produce(settings, users=users, rate=rate, seed=seed, invalid_share=0.002)
        _say(
            f"published {report.events_sent} events and {report.invalid_sent} malformed "
            f"messages in {report.seconds:.0f} s; waiting for the worker and the sink"
        )
        await _catch_up(settings, processes)
        return _print_results(settings, report)
    finally:
        for process in processes:
            process.stop()
        _say(f"stopped the worker and the sink (logs in {LOG_DIR}/)")


async def _catch_up(settings: Settings, processes: list[NudgeProcess]) -> None:
    prefix = settings.topic_prefix
    inputs = [BEHAVIOR_EVENTS.full_name(prefix)]
    outputs = [
        s.full_name(prefix) for s in (COMMS_COMMANDS, TRIGGER_DECISIONS, BEHAVIOR_EVENTS_DLQ)
    ]
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for process in processes:
            if not process.running():
                msg = f"the {process.command} exited early; see {process.log_path}"
                raise RuntimeError(msg)
        worker_lag = await group_lag(settings, settings.app_id, inputs)
        sink_lag = await group_lag(settings, f"{settings.app_id}-sink", outputs)
        if worker_lag == 0 and sink_lag == 0:
            return
        _say(f"  behind: worker {worker_lag} events, sink {sink_lag} messages")
        await asyncio.sleep(2.0)
    msg = f"the pipeline did not catch up within {CATCH_UP_TIMEOUT_SECONDS:.0f} s"
    raise RuntimeError(msg)


def _print_results(settings: Settings, report: Any) -> int:
    from sinks.queries import fired_users, recent_communications, summary

    stats = summary(settings)
    _say("")
    _say("Events in by type: " + ", ".join(f"{k} {v}" for k, v in sorted(report.by_type.items())))
    _table("Commands out", ["trigger_id", "channel", "count"], stats["communications"])
    _table("Decisions", ["trigger_id", "outcome", "reason", "count"], stats["decisions"])
    _table("Dead letters", ["topic", "kind", "count"], stats["dead_letters"])
    _say("\nA few rendered messages:")
    for row in recent_communications(settings, limit=4):
        subject = f" | {row['subject']}" if row["subject"] else ""
        _say(f"  [{row['trigger_id']} / {row['channel']}] to {row['user_id']}{subject}")
        _say("    " + row["body"].replace("\n", "\n    ")[:400])
    ok = True
    _say("\nWho fired, against who should have:")
    fired = fired_users(settings)
    for trigger, expected in sorted(report.expected.items()):
        actual = fired.get(trigger, set())
        missed, extra = expected - actual, actual - expected
        ok = ok and not missed and not extra
        _say(
            f"  {trigger:16} expected {len(expected):4}  fired {len(actual):4}  "
            f"missed {len(missed):3}  unexpected {len(extra):3}"
        )
    _say("\nEvery expected user fired and no one else." if ok else "\nMISMATCH: see above.")
    return 0 if ok else 1


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
