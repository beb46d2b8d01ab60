"""One chaos run: the recorded input through a worker and a sink, with a fault plan.

The run publishes the recorded events (at a rate, so the faults meet a stream in flight),
waits until the worker has committed them, publishes the recorded risk scores (a score
read before its user's payments would be judged without them), waits until the worker
and the sink have committed everything, stops every process with SIGTERM, and reads what
they left behind. A run that does not catch up in time is not an error: it is reported
with the partitions that stayed behind.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaError

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, RISK_SCORES, TopicSpec
from streams.chaos.cluster import SINK, Cluster, run_plan
from streams.chaos.database import ChaosPostgres
from streams.chaos.faults import Fault
from streams.chaos.observe import Observation, committed_offsets, observe
from streams.chaos.options import ChaosOptions
from streams.chaos.recording import RECORDED_NOW, Recording, replay
from streams.runtime.kafka_admin import ensure_topics
from streams.runtime.lag import group_lag

#: How often a run checks whether the worker and the sink have caught up.
LAG_POLL_SECONDS = 1.0
#: A lag that has not shrunk for this long is stuck: the run stops waiting for it.
#: Longer than a kill's rebalance and recovery (session timeout and changelog replay).
STALL_SECONDS = 45.0
#: The worker's timer: once an hour, i.e. never within a run. A timer pass's output
#: depends on how far the worker has read when it runs, which no two runs share; the
#: chaos runs compare what events cause.
SCHEDULE_SECONDS = 3600.0
#: Short, so a killed worker's partitions move on within seconds (Kafka's least is 6 s).
SESSION_TIMEOUT_SECONDS = 6.0
#: Every recorded event is judged, not only the last two days of history: decisions
#: throughout the stream, so a loss anywhere in it shows.
MAX_EVENT_AGE_SECONDS = 400 * 86400.0


@dataclass(frozen=True, slots=True)
class RunPlan:
    """A run to make: its name, faults and publishing rate (0: as fast as possible)."""

    name: str
    faults: tuple[Fault, ...]
    rate: float


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one run produced, and how it went (``info`` goes into the report)."""

    observation: Observation
    info: dict[str, Any]


def run_settings(
    base: Settings, options: ChaosOptions, session: str, plan: RunPlan, folder: Path
) -> Settings:
    """Return the run's settings: its own topics, group, data folder and fixed clock."""
    clock = folder / "clock"
    clock.write_text(RECORDED_NOW.isoformat())
    return base.model_copy(
        update={
            "topic_prefix": f"chaos{session}-{plan.name}.",
            "app_id": f"nudge-chaos{session}-{plan.name}",
            "partitions": options.partitions,
            "store": options.store,
            "processing_guarantee": options.guarantee,
            "unsafe_exactly_once": options.guarantee == "exactly_once",  # to test it
            "data_dir": str(folder / "data"),
            "clock_file": clock,
            "web_port": 0,
            "metrics_port": 0,
            "sink_metrics_port": 0,
            "log_level": "INFO",
            "session_timeout_seconds": SESSION_TIMEOUT_SECONDS,
            "schedule_interval_seconds": SCHEDULE_SECONDS,
            "max_event_age_seconds": MAX_EVENT_AGE_SECONDS,
            "sink_batch_timeout_seconds": 0.2,
            "sink_retry_max_seconds": 2.0,
        }
    )


async def run_once(
    settings: Settings,
    recording: Recording,
    plan: RunPlan,
    postgres: ChaosPostgres,
    *,
    kafka_script: Path,
    catch_up_seconds: float,
) -> RunResult:
    """Make one run and return what it left behind (its processes are stopped)."""
    began = time.monotonic()
    folder = Path(settings.data_dir).parent
    await ensure_topics(settings)
    cluster = Cluster(settings, folder / "logs", postgres, kafka_script)
    cluster.start("a")
    cluster.start(SINK)
    supervisor = asyncio.create_task(cluster.supervise())
    driving = asyncio.create_task(_drive(settings, recording, plan, cluster, catch_up_seconds))
    try:
        await asyncio.wait({supervisor, driving}, return_when=asyncio.FIRST_COMPLETED)
        if supervisor.done():
            behind = {"crash_loop": str(supervisor.exception())}
        else:
            behind = driving.result()
    finally:
        for task in (driving, supervisor):
            task.cancel()
        await asyncio.gather(driving, supervisor, return_exceptions=True)
        exit_codes = cluster.stop_all()
    offsets = await lags(settings)
    observation = await observe(settings)
    info = {
        "name": plan.name,
        "seconds": round(time.monotonic() - began, 1),
        "happened": cluster.happened,
        "exit_codes": exit_codes,
        "behind_while_running": behind,
        "uncommitted_after_stop": offsets,
        "logs": str(folder / "logs"),
    }
    return RunResult(observation, info)


async def _drive(
    settings: Settings,
    recording: Recording,
    plan: RunPlan,
    cluster: Cluster,
    catch_up_seconds: float,
) -> dict[str, Any]:
    """Publish, apply the faults, wait to catch up; return what stayed behind, if anything."""
    publish_seconds = len(recording.events) / plan.rate if plan.rate > 0 else 0.0
    faults = asyncio.create_task(run_plan(cluster, plan.faults, publish_seconds))
    behind: dict[str, Any] = {}
    try:
        seconds = await replay(settings, BEHAVIOR_EVENTS, recording.events, plan.rate)
        cluster.note("events published", messages=len(recording.events), seconds=round(seconds, 1))
        if not await caught_up(settings, catch_up_seconds, sink=False):
            behind["events"] = await lags(settings)
        await replay(settings, RISK_SCORES, recording.scores, 0.0)
        cluster.note("risk scores published", messages=len(recording.scores))
        await faults
        if not await caught_up(settings, catch_up_seconds, sink=True):
            behind["end"] = await lags(settings)
        cluster.note("caught up" if "end" not in behind else "gave up waiting")
    finally:
        faults.cancel()
    return behind


def _inputs(settings: Settings) -> list[str]:
    return [spec.full_name(settings.topic_prefix) for spec in (BEHAVIOR_EVENTS, RISK_SCORES)]


def _sink_topics(settings: Settings) -> list[str]:
    from sinks.rows import ROUTES  # a composition root, like the CLI

    specs: list[TopicSpec] = list(ROUTES)
    return [spec.full_name(settings.topic_prefix) for spec in specs]


async def caught_up(settings: Settings, timeout: float, *, sink: bool) -> bool:
    """Wait until the worker (and the sink) committed everything; False if they do not.

    Gives up after ``timeout`` seconds, or once the lag has not shrunk for
    ``STALL_SECONDS`` (a commit that is stuck does not come loose by waiting).
    """
    from sinks.worker import sink_group  # noqa: PLC0415 - a composition root, like the CLI

    deadline = time.monotonic() + timeout
    least, since = None, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < STALL_SECONDS:
        try:
            lag = await group_lag(settings, settings.app_id, _inputs(settings))
            if sink:
                lag += await group_lag(settings, sink_group(settings), _sink_topics(settings))
        except (KafkaError, OSError):
            lag = None  # the broker is restarting
        if lag == 0:
            return True
        if lag is not None and (least is None or lag < least):
            least, since = lag, time.monotonic()
        await asyncio.sleep(LAG_POLL_SECONDS)
    return False


async def lags(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Return the partitions the worker and the sink have not committed to their end."""
    from sinks.worker import sink_group  # noqa: PLC0415 - a composition root, like the CLI

    groups = {
        "worker": (settings.app_id, _inputs(settings)),
        "sink": (sink_group(settings), _sink_topics(settings)),
    }
    behind = {}
    for name, (group, topics) in groups.items():
        offsets = await committed_offsets(settings, group, topics)
        behind[name] = [o for o in offsets if o["committed"] < o["end"]]
    return behind
