"""Fault plans: what goes wrong during a fault run, and when.

A fault's time is a fraction of the run's publishing time, so a plan fits any population
size and rate; faults past 1.0 happen while the pipeline catches up. Worker slot ``a`` is
the worker that runs from the start; ``b`` is the second worker that joins and leaves.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    """Something that goes wrong."""

    KILL_WORKER = "kill_worker"
    """SIGKILL a worker (no flush, no commit) and start a new one in its place at once."""
    KILL_SINK = "kill_sink"
    """SIGKILL the sink and start a new one at once."""
    DATABASE_OUTAGE = "database_outage"
    """Stop the PostgreSQL server for ``seconds``, then start it again."""
    BROKER_RESTART = "broker_restart"
    """Stop the Kafka broker and start it again on the same address (``kafka.sh restart``)."""
    WORKER_JOINS = "worker_joins"
    """Start a second worker in the same group: partitions and their state move to it."""
    WORKER_LEAVES = "worker_leaves"
    """Stop that worker gracefully (SIGTERM): its partitions move back."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault of a plan.

    Attributes:
        at: When, as a fraction of the publishing time.
        action: What goes wrong.
        target: The worker slot, for worker faults.
        seconds: How long, for an outage.
    """

    at: float
    action: Action
    target: str = "a"
    seconds: float = 0.0


#: The full plan of the issue: 5 worker SIGKILLs, 2 sink SIGKILLs, a 30 s database outage
#: while the sink writes, a broker restart, a second worker joining and leaving. The
#: second kill is followed at once by the join: the restarted worker's first batch then
#: meets a rebalance (the pattern of the reported loss).
FULL_PLAN: tuple[Fault, ...] = (
    Fault(0.08, Action.KILL_WORKER),
    Fault(0.15, Action.KILL_SINK),
    Fault(0.22, Action.KILL_WORKER),
    Fault(0.24, Action.WORKER_JOINS, "b"),
    Fault(0.36, Action.KILL_WORKER, "b"),
    Fault(0.42, Action.DATABASE_OUTAGE, seconds=30.0),
    Fault(0.50, Action.KILL_SINK),
    Fault(0.55, Action.KILL_WORKER),
    Fault(0.62, Action.WORKER_LEAVES, "b"),
    Fault(0.78, Action.BROKER_RESTART),
    Fault(0.92, Action.KILL_WORKER),
)

#: The short plan of ``make test``: 2 worker kills, 1 sink kill, a 10 s database outage.
SHORT_PLAN: tuple[Fault, ...] = (
    Fault(0.15, Action.KILL_WORKER),
    Fault(0.30, Action.DATABASE_OUTAGE, seconds=10.0),
    Fault(0.40, Action.KILL_SINK),
    Fault(0.65, Action.KILL_WORKER),
)

#: No fault at all: a check of the harness itself (a run at the fault runs' rate must
#: match the reference, which publishes as fast as it can).
NO_FAULTS: tuple[Fault, ...] = ()

PLANS = {"full": FULL_PLAN, "short": SHORT_PLAN, "none": NO_FAULTS}
