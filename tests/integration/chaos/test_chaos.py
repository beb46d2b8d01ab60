"""The short chaos run of ``make test``: kills and a database outage lose and add nothing.

The same recorded input goes through a fault-free reference run and one fault run (two
worker SIGKILLs, a sink SIGKILL, a 10 s stop of the chaos PostgreSQL server); every
decision, command and dead letter, on the topics and in the database, and every user's
final state must be the reference's. ``make chaos`` runs the full plan three times.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.settings import Settings
from streams.chaos import ChaosOptions, run_chaos

# serial: its kills and outages are timed against the clock; a loaded machine skews them.
pytestmark = [pytest.mark.integration, pytest.mark.serial]


async def test_a_short_fault_run_matches_the_reference(kafka_bootstrap: str, tmp_path: Path):
    options = ChaosOptions(
        users=20,
        rate=300.0,
        runs=1,
        plan="short",
        catch_up_seconds=90.0,
        work_dir=tmp_path / "chaos",
        out=tmp_path / "chaos.json",
    )
    report = await run_chaos(options, Settings(kafka_bootstrap=kafka_bootstrap))
    (run,) = report["runs"]
    summary = json.dumps(
        {k: run[k] for k in ("verdict", "happened", "behind_while_running", "logs")}, indent=1
    )
    assert report["reference"]["totals"]["comms.commands"] > 0, "the input should fire"
    faults = [entry["what"] for entry in run["happened"]]
    assert faults.count("killed") == 3 and "database stopped" in faults, summary
    verdict = run["verdict"]
    assert (verdict["lost"], verdict["extra"], verdict["changed"]) == (0, 0, 0), summary
    assert verdict["state_differs"] == 0, summary
    assert run["uncommitted_after_stop"] == {"worker": [], "sink": []}, summary
