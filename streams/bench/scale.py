"""Scale: one pipeline worker, then two in one group, on the same pre-loaded topic.

Each run is a fresh consumer group (and table) reading the run's ``behavior.events``
from the start. Its workers (``pipeline_worker`` mode: the real app) start together and
print status lines; the run is done once the group has committed every pre-loaded event.
Its span runs from the first event any worker processed to the last batch any worker
finished, and its CPU is the sum of each worker's CPU time between its own first event
and last batch. Start-up and the group's join are outside the span: the workers take no
batch before a gate the parent opens once the group is stable with all of them (their
trigger definitions wait for it), so they start together. ``events_processed`` above
the pre-load would count events read twice (a rebalance inside the span).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS
from streams.bench.meter import parse_status
from streams.bench.report import ratio
from streams.runtime.lag import group_lag
from streams.runtime.processes import settings_env

#: The runs, by number of workers.
WORKERS = (1, 2)
#: How often the parent asks the broker for the group's lag.
LAG_POLL_SECONDS = 1.0
#: After the lag reaches zero, wait this long so every worker's status line is fresh.
SETTLE_SECONDS = 1.5
#: After SIGTERM, a worker is killed past this.
STOP_GRACE_SECONDS = 30.0
#: What limits the ratio on the machine the figures come from.
LIMIT_NOTE = (
    "the workers share the machine's CPUs with the broker (and with each other): with 2 "
    "cores, the broker's share leaves less than one core per worker, so 2 workers cannot "
    "reach 2x; per-worker cpu_share near 1 means a worker was CPU-bound, lower means it "
    "waited (for the broker or for its share of the CPU)"
)


def run_scale(settings: Settings, events: int, scratch: Path, timeout: float) -> dict[str, Any]:
    """Run each of ``WORKERS`` on the pre-loaded topic; return the runs and their ratio.

    Args:
        settings: The run's settings (its prefix and pre-loaded topic).
        events: Events pre-loaded.
        scratch: Where the workers' output and logs go.
        timeout: Longest one run may take, start-up included.
    """
    runs = []
    for workers in WORKERS:
        print(f"bench: scale run with {workers} worker(s) ...", file=sys.stderr)
        runs.append(run_group(settings, workers, events, scratch, timeout))
    rates = {run["workers"]: run.get("events_per_second") for run in runs}
    return {
        "runs": runs,
        "ratio": ratio(rates.get(2), rates.get(1)),
        "cpu_count": os.cpu_count(),
        "limit": LIMIT_NOTE,
    }


def run_group(
    settings: Settings, workers: int, events: int, scratch: Path, timeout: float
) -> dict[str, Any]:
    """Run ``workers`` pipeline workers in one fresh group until it has committed everything."""
    group = settings.model_copy(update={"app_id": f"{settings.topic_prefix}scale{workers}"})
    processes, outputs = [], []
    gate = scratch / f"scale{workers}.gate"
    launched = time.time()
    for index in range(workers):
        data_dir = Path(settings.data_dir) / f"scale{workers}-{index}"
        data_dir.mkdir(parents=True, exist_ok=True)
        child = group.model_copy(update={"data_dir": str(data_dir)})
        out_path = scratch / f"scale{workers}-{index}.out"
        with (
            out_path.open("wb") as out,
            (scratch / f"scale{workers}-{index}.log").open("wb") as log,
        ):
            processes.append(
                subprocess.Popen(  # noqa: S603 - our own interpreter and module
                    [
                        sys.executable,
                        "-m",
                        "streams.bench",
                        "run",
                        "pipeline_worker",
                        "--events",
                        str(events),
                        "--launched-at",
                        repr(launched),
                        "--gate",
                        str(gate),
                    ],
                    env=settings_env(child),
                    stdout=out,
                    stderr=log,
                )  # fmt: skip
            )
        outputs.append(out_path)
    try:
        error = wait_joined(group, workers, processes, timeout)
        gate.touch()
        error = error or wait_committed(group, processes, timeout)
        time.sleep(SETTLE_SECONDS)
        statuses = [parse_status(path.read_text(errors="replace")) for path in outputs]
    finally:
        for process in processes:
            stop(process)
    if error:
        return {"workers": workers, "error": error}
    return summarise(workers, events, statuses, launched)


def wait_joined(
    settings: Settings, workers: int, processes: list[subprocess.Popen[bytes]], timeout: float
) -> str | None:
    """Wait until the group is stable with ``workers`` members; return an error, or ``None``."""
    return _poll(
        processes,
        lambda: asyncio.run(group_members(settings)) == workers,
        unread="group not described",
        late=f"{workers} workers did not join within {timeout:g} s",
        timeout=timeout,
    )


async def group_members(settings: Settings) -> int:
    """Return the members of the settings' group if it is stable, else 0."""
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([settings.app_id])
    finally:
        await admin.close()
    (group,) = response.to_object()["groups"]
    return len(group["members"]) if group["state"] == "Stable" else 0


def wait_committed(
    settings: Settings, processes: list[subprocess.Popen[bytes]], timeout: float
) -> str | None:
    """Wait until the group has committed every event; return an error, or ``None``."""
    topic = BEHAVIOR_EVENTS.full_name(settings.topic_prefix)
    return _poll(
        processes,
        lambda: asyncio.run(group_lag(settings, settings.app_id, [topic])) == 0,
        unread="lag not read",
        late=f"the group did not commit every event within {timeout:g} s",
        timeout=timeout,
    )


def _poll(
    processes: list[subprocess.Popen[bytes]],
    holds: Callable[[], bool],
    *,
    unread: str,
    late: str,
    timeout: float,
) -> str | None:
    """Poll ``holds`` until it does; return why not (a worker exited, or ``late``), or ``None``.

    A broker error while asking is reported (``unread``) and asked again.
    """
    deadline = time.monotonic() + timeout
    while True:
        for process in processes:
            if process.poll() is not None:
                return f"a worker exited with code {process.returncode}"
        try:
            if holds():
                return None
        except (KafkaError, OSError) as exc:
            print(f"bench: scale: {unread} ({exc!r}); trying again", file=sys.stderr)
        if time.monotonic() > deadline:
            return late
        time.sleep(LAG_POLL_SECONDS)


def summarise(
    workers: int, events: int, statuses: list[dict[str, Any] | None], launched: float
) -> dict[str, Any]:
    """Return a run's figures from its workers' last status lines."""
    seen = [s for s in statuses if s and s.get("first_wall") is not None]
    if not seen:
        return {"workers": workers, "error": "no worker reported a processed event"}
    first = min(s["first_wall"] for s in seen)
    last = max(s["last_wall"] for s in seen)
    cpu = sum(s["cpu_last"] - s["cpu_first"] for s in seen)
    seconds = last - first
    per_worker = [
        {
            "events": s["count"],
            "seconds": round(s["last_wall"] - s["first_wall"], 3),
            "cpu_seconds": round(s["cpu_last"] - s["cpu_first"], 3),
            "cpu_share": ratio(s["cpu_last"] - s["cpu_first"], s["last_wall"] - s["first_wall"]),
            "startup_seconds": round(s["first_wall"] - launched, 3),
            "peak_rss_mib": s["peak_rss_mib"],
        }
        for s in seen
    ]
    return {
        "workers": workers,
        "workers_with_events": len(seen),
        "events": events,
        "events_processed": sum(s["count"] for s in seen),
        "seconds": round(seconds, 4),
        "events_per_second": round(events / seconds, 1) if seconds > 0 else None,
        "cpu_seconds": round(cpu, 3),
        "cpu_us_per_event": round(cpu / events * 1e6, 2),
        "per_worker": per_worker,
    }


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a worker cleanly (SIGTERM); kill it if it does not stop in time."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
