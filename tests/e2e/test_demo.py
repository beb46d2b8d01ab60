"""``nudge demo`` end to end, twice in a row: each run must stand on its own."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from schemas.settings import Settings
from streams.processes import settings_env

pytestmark = pytest.mark.e2e


def test_the_demo_fires_for_exactly_the_expected_users_run_after_run(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(metrics_port=0)
    # The same seed twice: identical deterministic ids, which a shared database would
    # swallow as replays on the second run.
    for _ in range(2):
        run = subprocess.run(
            [sys.executable, "-m", "streams.cli", "demo", "--users", "20", "--rate", "0"],
            env=settings_env(settings),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert "Every expected user fired and no one else." in run.stdout
        rows = [line.split() for line in run.stdout.splitlines() if " missed " in line]
        assert {row[0] for row in rows} == {"income_drop", "spending_spike"}
        # trigger expected N fired N missed 0 unexpected 0, with N > 0 for both
        assert all(row[2] == row[4] != "0" and row[6] == row[8] == "0" for row in rows), rows
        assert "Dead letters:" in run.stdout and "not_json" in run.stdout
