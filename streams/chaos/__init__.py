"""Chaos runs: the pipeline under faults against a fault-free reference, on recorded input.

``make chaos`` (``python -m streams.chaos``) records a synthetic population once, runs it
through one worker and one sink without faults (the reference), then through fault runs
-- workers and the sink killed and restarted, the database stopped, the broker
restarted, a second worker joining and leaving -- and compares command and decision ids
on the output topics and in PostgreSQL: lost, extra, duplicated, changed.
"""

from streams.chaos.faults import FULL_PLAN, PLANS, SHORT_PLAN, Action, Fault
from streams.chaos.options import ChaosOptions
from streams.chaos.session import run_chaos

__all__ = ["FULL_PLAN", "PLANS", "SHORT_PLAN", "Action", "ChaosOptions", "Fault", "run_chaos"]
