"""What a million user records cost in memory: encoded sizes and the worker's RSS.

``python -m streams.bench.state_memory [--users N] [--events N]`` replays steady synthetic
users through the pure core (``process``), takes each record after ``--events`` events,
and reports the median and p95 encoded size. It then fills a dict with ``--users``
records' bytes keyed by user id (what the memory store holds for records recovered from
the changelog, and what RocksDB stores per key before compression) and reports the RSS it
took, and extrapolates the cost of live ``UserState`` objects (what the memory store
keeps once a user has had an event) from a sample. Not part of ``make bench``.
"""

from __future__ import annotations

import argparse
import gc
import statistics
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from schemas.events import Event
from streams.core.decisions.process import process
from streams.core.rendering import default_catalogue
from streams.core.state.record import UserState
from streams.core.triggers.catalogue import default_definitions
from streams.simulation.population import make_population, population_events

#: Distinct synthetic users replayed; the million records repeat their bytes.
SAMPLE_USERS = 100
#: Live objects built to estimate their cost per user.
LIVE_SAMPLE = 20_000


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    msg = "no VmRSS in /proc/self/status (Linux only)"
    raise RuntimeError(msg)


def sample_records(events: int, *, seed: int = 7) -> list[bytes]:
    """Return the records of ``SAMPLE_USERS`` steady synthetic users after ``events`` events."""
    now = datetime(2026, 4, 1, tzinfo=UTC)
    people = make_population(SAMPLE_USERS, seed=seed, spike_share=0.0, income_drop_share=0.0)
    histories: dict[str, list[dict[str, object]]] = defaultdict(list)
    for raw in population_events(people, now=now, history_days=100, seed=seed):
        histories[str(raw["user_id"])].append(raw)
    definitions, catalogue = default_definitions(), default_catalogue()
    records = []
    for history in histories.values():
        state = UserState()
        for raw in history[:events]:
            event = Event.model_validate(raw)
            process(state, event, definitions, catalogue, now=event.occurred_at,
                    max_event_age_seconds=2 * 86_400)  # fmt: skip
        records.append(state.to_bytes())
    return records


def main() -> None:
    """Print sizes and memory for ``--users`` records after ``--events`` events."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()
    records = sample_records(args.events)
    sizes = sorted(len(r) for r in records)
    p95 = sizes[int(0.95 * (len(sizes) - 1))]
    print(
        f"record after {args.events} events: median {statistics.median(sizes):.0f} B, p95 {p95} B"
    )
    gc.collect()
    before = _rss_bytes()
    # bytes(bytearray(...)): a copy per user, as records decoded from the changelog are.
    table = {
        f"user-{i:07d}".encode(): bytes(bytearray(records[i % len(records)]))
        for i in range(args.users)
    }
    held = _rss_bytes() - before
    print(f"{len(table):,} records as bytes in a dict: {held / 2**20:,.0f} MiB RSS")
    del table
    gc.collect()
    before = _rss_bytes()
    live = [UserState.from_bytes(records[i % len(records)]) for i in range(LIVE_SAMPLE)]
    per_user = (_rss_bytes() - before) / len(live)
    print(f"live UserState objects: ~{per_user:,.0f} B each, "
          f"~{per_user * args.users / 2**30:,.1f} GiB for {args.users:,}")  # fmt: skip


if __name__ == "__main__":
    main()
