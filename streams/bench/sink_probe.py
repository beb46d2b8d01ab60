"""Watching a running sink from outside: its ``/metrics``, sampled until every row is in.

The benchmark runs the real ``nudge sink`` in a child process and does not import the
sink (only the CLI and the demo may: import-linter holds it). What it needs, the sink
already exports: rows inserted and duplicates per table, messages taken, batch sizes and
write times, and prometheus-client's ``process_cpu_seconds_total`` (user and system time
of the whole process, every thread) and ``process_resident_memory_bytes``.

The clock runs from the last sample that saw no message taken to the first that sees
every row stored. A read costs the sink a few milliseconds of CPU (prometheus-client
renders every series), so it is read often only where the ends are: every
``FAST_SAMPLE_SECONDS`` while it is idle and once it has stored ``NEAR_END`` of the
rows, and every ``SLOW_SAMPLE_SECONDS`` in between (reading every 50 ms throughout was
~8 % of its busy samples in py-spy). Each end is then late by at most one fast interval. Before
its first message the sink only waits on Kafka, so the CPU it spends between that last
idle sample and its first message is noise.
"""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

#: How often the sink's ``/metrics`` is read near the start and the end of a run (s).
FAST_SAMPLE_SECONDS = 0.02
#: How often it is read in between (s).
SLOW_SAMPLE_SECONDS = 0.25
#: Share of the rows stored after which reads are fast again (the end is near).
NEAR_END = 0.8
#: A read that takes longer than this (seconds) is a failed one; the next sample retries.
SCRAPE_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of the sink's counters.

    Attributes:
        at: ``time.perf_counter()`` when it was read.
        messages: Messages taken from Kafka.
        stored: Rows inserted plus duplicates (every table).
        inserted: Rows inserted, by table.
        cpu_seconds: The process's CPU time (user + system).
        rss_bytes: The process's resident size now.
        batches: Batches written.
        batch_rows: Messages in those batches.
        write_seconds: Time spent in successful batch writes.
    """

    at: float
    messages: float
    stored: float
    inserted: dict[str, float]
    cpu_seconds: float
    rss_bytes: float
    batches: float
    batch_rows: float
    write_seconds: float


def read_sample(port: int, host: str = "127.0.0.1") -> Sample | None:
    """Return the sink's counters now, or ``None`` if ``/metrics`` does not answer yet."""
    url = f"http://{host}:{port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=SCRAPE_TIMEOUT_SECONDS) as response:  # noqa: S310 - our own http URL
            text = response.read().decode()
    except OSError:
        return None
    at = time.perf_counter()
    values: dict[str, float] = {}
    inserted: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[sample.name] = values.get(sample.name, 0.0) + sample.value
            if sample.name == "nudge_sink_rows_inserted_total":
                inserted[sample.labels["table"]] = sample.value
    return Sample(
        at=at,
        messages=values.get("nudge_sink_messages_total", 0.0),
        stored=values.get("nudge_sink_rows_inserted_total", 0.0)
        + values.get("nudge_sink_duplicates_total", 0.0),
        inserted=inserted,
        cpu_seconds=values.get("process_cpu_seconds_total", 0.0),
        rss_bytes=values.get("process_resident_memory_bytes", 0.0),
        batches=values.get("nudge_sink_batch_size_count", 0.0),
        batch_rows=values.get("nudge_sink_batch_size_sum", 0.0),
        write_seconds=values.get("nudge_sink_write_seconds_sum", 0.0),
    )


def next_sample_in(sample: Sample | None, rows: int) -> float:
    """Return how long to wait before the next read, after ``sample`` (seconds)."""
    if sample is None or sample.messages == 0 or sample.stored >= NEAR_END * rows:
        return FAST_SAMPLE_SECONDS
    return SLOW_SAMPLE_SECONDS


def measure(first: Sample, last: Sample, rows: int, peak_rss_mib: float | None) -> dict[str, Any]:
    """Return the figures of a run from its idle sample ``first`` to its done sample ``last``."""
    seconds = last.at - first.at
    cpu = last.cpu_seconds - first.cpu_seconds
    batches = last.batches - first.batches
    return {
        "rows": rows,
        "seconds": round(seconds, 4),
        "rows_per_second": round(rows / seconds, 1) if seconds > 0 else None,
        "cpu_seconds": round(cpu, 3),
        "cpu_us_per_row": round(cpu / rows * 1e6, 2) if rows else None,
        "cpu_share": round(cpu / seconds, 3) if seconds > 0 else None,
        "batches": int(batches),
        "mean_batch_size": round((last.batch_rows - first.batch_rows) / batches, 1)
        if batches
        else None,
        "write_seconds": round(last.write_seconds - first.write_seconds, 3),
        "inserted": {table: int(count) for table, count in sorted(last.inserted.items())},
        "peak_rss_mib": peak_rss_mib,
        "last_rss_mib": round(last.rss_bytes / 2**20, 1),
    }


def peak_rss_of(pid: int) -> float | None:
    """Return a process's peak resident size in MiB (Linux ``VmHWM``), ``None`` elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)  # kB
    except OSError:
        pass
    return None
