"""What a chaos session runs: population, rates, store, guarantee, fault plan, where to write."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Guarantee = Literal["at_least_once", "exactly_once"]


@dataclass(frozen=True, slots=True)
class ChaosOptions:
    """Knobs of ``make chaos`` (``python -m streams.chaos --help`` names each one).

    Attributes:
        users: Synthetic users; about 650 events each over ``history_days``.
        rate: Events per second published during a fault run; the fault plan is spread
            over the time that takes (the reference publishes as fast as it can).
        seed: Population seed.
        history_days: Days of history per user.
        invalid_share: Share of malformed input messages (the dead-letter path).
        runs: Fault runs compared with the one reference run.
        plan: Fault plan name, ``full`` or ``short`` (``streams.chaos.faults``).
        store: Faust table store of every worker, ``memory://`` or ``rocksdb://``.
        guarantee: Faust processing guarantee of every worker.
        partitions: Partitions of every user-keyed topic.
        catch_up_seconds: Longest a run waits, once everything is published and every
            fault is over, for the worker and the sink to commit everything.
        work_dir: Recorded input, the chaos PostgreSQL server and the processes' logs.
        out: The JSON report.
        keep_topics: Leave the runs' topics on the broker (to look into a loss).
    """

    users: int = 60
    rate: float = 400.0
    seed: int = 8
    history_days: int = 100
    invalid_share: float = 0.002
    runs: int = 3
    plan: str = "full"
    store: str = "memory://"
    guarantee: Guarantee = "at_least_once"
    partitions: int = 4
    catch_up_seconds: float = 240.0
    work_dir: Path = Path(".run/chaos")
    out: Path = Path("reports/chaos.json")
    keep_topics: bool = False
