"""Throughput measurement inside one consumer process, and the result line it prints.

The clock starts when the first event reaches the consumer's own code and stops when the
last one is processed and, for modes that produce, the producer is flushed. Start-up,
group join and partition assignment happen before the first event, so they are outside
the measured span; they are reported separately as ``startup_seconds``.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

#: Linux's per-process status file, with the peak resident size ``VmHWM``.
PROC_STATUS = Path("/proc/self/status")
#: Keys that mark the result line among whatever else a consumer prints.
RESULT_KEYS = frozenset({"mode", "events", "seconds", "events_per_second"})


@dataclass(slots=True)
class Meter:
    """Counts processed events and times the span from the first to the last.

    Attributes:
        target: Events to process before the mode stops itself.
        count: Events processed so far.
        first_at: ``time.perf_counter()`` when the first event arrived.
        first_wall: ``time.time()`` at the same moment (to compare with the launch time).
        done_at: ``time.perf_counter()`` when the last event was processed and flushed.
        cpu_first: ``time.process_time()`` (user and system CPU of every thread of this
            process) when the first event arrived.
        cpu_done: The same when the last was processed and flushed.
        done: Set once ``count`` reaches ``target``.
    """

    target: int
    count: int = 0
    first_at: float | None = None
    first_wall: float | None = None
    done_at: float | None = None
    cpu_first: float | None = None
    cpu_done: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def begin(self) -> None:
        """Start the clock, if this is the first event."""
        if self.first_at is None:
            self.first_wall = time.time()
            self.first_at = time.perf_counter()
            self.cpu_first = time.process_time()

    def add(self, events: int) -> None:
        """Count ``events`` processed; set ``done`` when the target is reached."""
        self.count += events
        if self.count >= self.target:
            self.done.set()

    def finish(self) -> None:
        """Stop the clock: everything is processed (and flushed)."""
        self.done_at = time.perf_counter()
        self.cpu_done = time.process_time()

    def result(self, mode: str, launched_at: float, **extra: Any) -> dict[str, Any]:
        """Return this mode's measurements.

        Args:
            mode: The mode's name.
            launched_at: ``time.time()`` when the parent started this process.
            **extra: Mode-specific figures (messages produced, decisions, ...).

        Raises:
            RuntimeError: The clock was never started or stopped.
        """
        if self.first_at is None or self.first_wall is None or self.done_at is None:
            msg = f"{mode}: measurement incomplete (no event seen, or never finished)"
            raise RuntimeError(msg)
        seconds = self.done_at - self.first_at
        return {
            **span_figures(self.count, seconds, (self.cpu_done or 0.0) - (self.cpu_first or 0.0)),
            "mode": mode,
            "startup_seconds": round(self.first_wall - launched_at, 3),
            "peak_rss_mib": peak_rss_mib(),
            "ru_maxrss_mib": ru_maxrss_mib(),
            **extra,
        }


def span_figures(events: int, seconds: float, cpu_seconds: float) -> dict[str, Any]:
    """Return a measured span's figures: events, seconds, events/s, CPU and CPU per event.

    Args:
        events: Events processed in the span.
        seconds: Wall-clock length of the span.
        cpu_seconds: CPU time (user + system, every thread) the process used in it.
    """
    return {
        "events": events,
        "seconds": round(seconds, 4),
        "events_per_second": round(events / seconds, 1) if seconds > 0 else None,
        "cpu_seconds": round(cpu_seconds, 3),
        "cpu_us_per_event": round(cpu_seconds / events * 1e6, 2) if events else None,
        "cpu_share": round(cpu_seconds / seconds, 3) if seconds > 0 else None,
    }


def peak_rss_mib(status: Path = PROC_STATUS) -> float:
    """Return this process's peak resident set size in MiB.

    On Linux this is ``VmHWM`` of ``/proc/self/status``: the peak of this process's own
    address space. ``getrusage``'s ``ru_maxrss`` is not used there because a child keeps
    the maximum of its parent's resident size at the fork that started it (the kernel
    carries it over ``fork`` and ``exec``), which would report the parent's peak.
    Elsewhere, ``ru_maxrss``.
    """
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)  # kB
    except OSError:
        pass
    return ru_maxrss_mib()


def ru_maxrss_mib() -> float:
    """Return ``getrusage(RUSAGE_SELF).ru_maxrss`` in MiB (includes the parent's at fork)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kibibytes, macOS bytes.
    divisor = 1024 * 1024 if sys.platform == "darwin" else 1024
    return round(peak / divisor, 1)


def result_line(result: dict[str, Any]) -> str:
    """Return the one JSON line a consumer prints with its result."""
    return orjson.dumps(result).decode()


def parse_result(output: str) -> dict[str, Any] | None:
    """Return the result from a consumer's standard output, or ``None`` if absent.

    Args:
        output: Everything the process printed; other lines are ignored.
    """
    for line in reversed(output.splitlines()):
        start = line.find("{")  # Faust's worker may leave terminal escapes before it
        if start < 0:
            continue
        try:
            document = orjson.loads(line[start:])
        except orjson.JSONDecodeError:
            continue
        if isinstance(document, dict) and RESULT_KEYS <= document.keys():
            return document
    return None


@dataclass(slots=True)
class BatchClock:
    """Counts a worker's processed events without a target (the scale runs' workers).

    The parent decides when the group is done (its lag is zero); each worker only says,
    in a status line every so often, how many it processed, when its first event came,
    when its latest batch finished, and the CPU time at both.
    """

    count: int = 0
    first_wall: float | None = None
    cpu_first: float | None = None
    last_wall: float | None = None
    cpu_last: float | None = None

    def begin(self) -> None:
        """Note the first event's time and CPU, if this is the first."""
        if self.first_wall is None:
            self.first_wall = time.time()
            self.cpu_first = time.process_time()

    def add(self, events: int) -> None:
        """Count a finished batch of ``events``."""
        self.count += events
        self.last_wall = time.time()
        self.cpu_last = time.process_time()

    def status(self) -> dict[str, Any]:
        """Return the status line's content (``STATUS_KEY`` marks it)."""
        return {
            STATUS_KEY: True,
            "count": self.count,
            "first_wall": self.first_wall,
            "last_wall": self.last_wall,
            "cpu_first": self.cpu_first,
            "cpu_last": self.cpu_last,
            "peak_rss_mib": peak_rss_mib(),
        }


#: Marks a worker's status line among whatever else it prints.
STATUS_KEY = "bench_status"


def parse_status(output: str) -> dict[str, Any] | None:
    """Return the latest status line in a worker's standard output, or ``None``."""
    for line in reversed(output.splitlines()):
        start = line.find("{")
        if start < 0 or STATUS_KEY not in line:
            continue
        try:
            document = orjson.loads(line[start:])
        except orjson.JSONDecodeError:
            continue
        if isinstance(document, dict) and document.get(STATUS_KEY) is True:
            return document
    return None
