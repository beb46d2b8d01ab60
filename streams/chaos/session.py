"""A chaos session: record the input once, run the reference, then the fault runs.

The reference has one worker, one sink and no fault, and publishes as fast as it can;
each fault run publishes the same recorded messages at ``ChaosOptions.rate`` under the
fault plan. Every run has its own topic prefix, consumer groups, database and worker
data, so runs never see each other. The report compares each fault run with the
reference (``streams.chaos.compare``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from schemas.settings import Settings
from streams.chaos.compare import compare, lost_inputs, unapplied_events, verdict
from streams.chaos.database import ChaosPostgres
from streams.chaos.faults import PLANS
from streams.chaos.options import ChaosOptions
from streams.chaos.recording import RECORDED_NOW, record
from streams.chaos.run import RunPlan, RunResult, run_once, run_settings

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
KAFKA_SCRIPT = ROOT / "deploy" / "local" / "kafka.sh"


async def run_chaos(options: ChaosOptions, base: Settings) -> dict[str, Any]:
    """Run a whole session and return its report (also written to ``options.out``)."""
    began = time.monotonic()
    session = datetime.now(UTC).strftime("%m%d%H%M%S")
    recording = record(
        users=options.users,
        seed=options.seed,
        history_days=options.history_days,
        invalid_share=options.invalid_share,
        partitions=options.partitions,
    )
    recording.save(options.work_dir / "input.jsonl")
    _say(f"chaos {session}: {len(recording.events)} events, {len(recording.scores)} risk scores")
    postgres = ChaosPostgres(options.work_dir / "postgres")
    postgres.start()
    plans = [RunPlan("reference", (), 0.0)] + [
        RunPlan(f"fault{n}", PLANS[options.plan], options.rate) for n in range(1, options.runs + 1)
    ]
    results: list[RunResult] = []
    try:
        for plan in plans:
            _say(f"run {plan.name}: {len(plan.faults)} faults")
            results.append(
                await _run(base, options, session, plan, postgres=postgres, recording=recording)
            )
            _say(f"  done in {results[-1].info['seconds']} s")
    finally:
        postgres.stop()
        if not options.keep_topics:
            await _delete_topics(base, f"chaos{session}-")
    reference, faulted = results[0], results[1:]
    located = recording.locate()
    runs = []
    for result in faulted:
        differences = compare(reference.observation, result.observation)
        runs.append(
            result.info
            | {
                "verdict": verdict(differences),
                "differences": differences,
                "lost_from_input": lost_inputs(reference.observation, result.observation, located),
                "unapplied_events": unapplied_events(
                    reference.observation, result.observation, located
                ),
            }
        )
    report = {
        "options": {k: str(v) for k, v in dataclasses.asdict(options).items()},
        "input": {
            "events": len(recording.events),
            "risk_scores": len(recording.scores),
            "sha256": recording.digest(),
            "clock": RECORDED_NOW.isoformat(),
        },
        "reference": reference.info | {"totals": _totals(reference)},
        "runs": runs,
        "seconds": round(time.monotonic() - began, 1),
    }
    return report


async def _run(
    base: Settings,
    options: ChaosOptions,
    session: str,
    plan: RunPlan,
    *,
    postgres: ChaosPostgres,
    recording: Any,
) -> RunResult:
    folder = options.work_dir.resolve() / session / plan.name
    folder.mkdir(parents=True)
    settings = run_settings(base, options, session, plan, folder)
    settings = postgres.fresh_database(settings, f"chaos_{plan.name}")
    return await run_once(
        settings,
        recording,
        plan,
        postgres,
        kafka_script=KAFKA_SCRIPT,
        catch_up_seconds=options.catch_up_seconds,
    )


def _totals(result: RunResult) -> dict[str, int]:
    seen = result.observation
    totals = {topic: len(ids) for topic, ids in seen.messages.items()}
    totals |= {f"rows.{table}": len(ids) for table, ids in seen.rows.items()}
    totals["users_with_state"] = len(seen.state)
    return totals


async def _delete_topics(settings: Settings, prefix: str) -> None:
    """Delete the session's topics (and its groups' internal topics)."""
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith((prefix, f"nudge-{prefix}"))]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def _say(line: str) -> None:
    print(line, flush=True)
