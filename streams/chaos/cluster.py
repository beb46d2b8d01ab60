"""The processes of one chaos run, kept running like a supervisor would, and its faults.

Each worker slot (``a``, ``b``) and the sink is a ``nudge`` child process. A slot that
should run but has exited (a crash, not a fault of the plan) is noted and started again,
as Kubernetes would. A worker slot keeps its data folder across restarts, so a RocksDB
store finds its files again after a SIGKILL.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schemas.settings import Settings
from streams.chaos.database import ChaosPostgres
from streams.chaos.faults import Action, Fault
from streams.runtime.processes import NudgeProcess

log = logging.getLogger(__name__)

SINK = "sink"
#: How often the supervisor looks for processes that exited on their own.
SUPERVISE_SECONDS = 0.5
#: Longest a graceful stop may take before the process is killed.
STOP_SECONDS = 60.0
#: A process that exits on its own this often is crash-looping: the run is abandoned.
CRASHES_MAX = 5


class CrashLoop(RuntimeError):
    """A process keeps exiting on its own; its log says why."""


class Cluster:
    """Start, kill, restart and stop a run's workers and sink; apply faults.

    Args:
        settings: The run's settings (topic prefix, app id, database...).
        logs: Folder of the processes' logs, one file per process started.
        postgres: The server a database outage stops.
        kafka_script: ``deploy/local/kafka.sh``, for the broker restart.
    """

    def __init__(
        self, settings: Settings, logs: Path, postgres: ChaosPostgres, kafka_script: Path
    ) -> None:
        self.settings = settings
        self.logs = logs
        self.postgres = postgres
        self.kafka_script = kafka_script
        self.processes: dict[str, NudgeProcess] = {}
        self.wanted: set[str] = set()
        self.started = time.monotonic()
        self.happened: list[dict[str, Any]] = []
        """What was done and what happened, in order, with seconds since the start."""
        self._starts: Counter[str] = Counter()
        self._crashes: Counter[str] = Counter()

    def note(self, what: str, **fields: Any) -> None:
        """Record an event of the run (and log it)."""
        entry = {"t": round(time.monotonic() - self.started, 1), "what": what, **fields}
        self.happened.append(entry)
        log.info("chaos: %s", what, extra=fields)

    def start(self, slot: str) -> NudgeProcess:
        """Start the process of ``slot`` (a worker slot, or ``SINK``)."""
        self._starts[slot] += 1
        command = "sink" if slot == SINK else "worker"
        settings = self.settings
        if command == "worker":
            data = Path(self.settings.data_dir) / slot
            data.mkdir(parents=True, exist_ok=True)
            settings = settings.model_copy(update={"data_dir": str(data)})
        log_path = self.logs / f"{slot}-{self._starts[slot]}.log"
        process = NudgeProcess(settings, command, log_path).start()
        self.note("started", slot=slot, log=log_path.name)
        self.processes[slot] = process
        self.wanted.add(slot)
        return process

    def kill(self, slot: str) -> None:
        """SIGKILL ``slot`` and start it again at once."""
        code = self.processes[slot].kill()
        self.note("killed", slot=slot, exit_code=code)
        self.start(slot)

    def stop(self, slot: str) -> int:
        """Stop ``slot`` gracefully (SIGTERM) and return its exit code."""
        self.wanted.discard(slot)
        code = self.processes[slot].stop(STOP_SECONDS)
        self.note("stopped", slot=slot, exit_code=code)
        return code

    def stop_all(self) -> dict[str, int]:
        """Stop every process still wanted; return their exit codes."""
        return {slot: self.stop(slot) for slot in sorted(self.wanted)}

    async def supervise(self) -> None:
        """Restart any wanted process that exited on its own, until cancelled."""
        while True:
            await asyncio.sleep(SUPERVISE_SECONDS)
            for slot in sorted(self.wanted):
                process = self.processes[slot]
                if not process.running():
                    code = process.process.returncode if process.process else None
                    self.note("exited on its own", slot=slot, exit_code=code)
                    self._crashes[slot] += 1
                    if self._crashes[slot] >= CRASHES_MAX:
                        msg = f"{slot} exited {CRASHES_MAX} times; see {process.log_path}"
                        raise CrashLoop(msg)
                    self.start(slot)

    async def apply(self, fault: Fault) -> None:
        """Make ``fault`` happen (an outage returns at once and ends by itself)."""
        if fault.action is Action.KILL_WORKER:
            self.kill(fault.target)
        elif fault.action is Action.KILL_SINK:
            self.kill(SINK)
        elif fault.action is Action.WORKER_JOINS:
            self.start(fault.target)
            self.note("joined", slot=fault.target)
        elif fault.action is Action.WORKER_LEAVES:
            self.stop(fault.target)
        elif fault.action is Action.BROKER_RESTART:
            await self.restart_broker()
        elif fault.action is Action.DATABASE_OUTAGE:
            await self.database_outage(fault.seconds)

    async def restart_broker(self) -> None:
        """Restart the local broker on the same address (``kafka.sh restart``)."""
        began = time.monotonic()
        done = await asyncio.to_thread(
            subprocess.run,
            [str(self.kafka_script), "restart"],
            capture_output=True,
            text=True,
            check=True,
        )
        ready = done.stdout.strip().splitlines()[-1]
        self.note("broker restarted", seconds=round(time.monotonic() - began, 1), broker=ready)

    async def database_outage(self, seconds: float) -> None:
        """Stop the PostgreSQL server for ``seconds``, then start it again."""
        await asyncio.to_thread(self.postgres.stop)
        self.note("database stopped", seconds=seconds)
        await asyncio.sleep(seconds)
        await asyncio.to_thread(self.postgres.start)
        self.note("database started")


async def run_plan(cluster: Cluster, plan: Sequence[Fault], publish_seconds: float) -> None:
    """Apply each fault at its time (a fraction of ``publish_seconds`` from now)."""
    began = time.monotonic()
    outages = []
    for fault in sorted(plan, key=lambda f: f.at):
        await asyncio.sleep(max(0.0, began + fault.at * publish_seconds - time.monotonic()))
        if fault.action is Action.DATABASE_OUTAGE:  # lasts; the plan goes on meanwhile
            outages.append(asyncio.create_task(cluster.apply(fault)))
        else:
            await cluster.apply(fault)
    await asyncio.gather(*outages)
