"""``nudge users forget`` with no worker running: it waits, says so, and touches nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import orjson
import pytest

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, COMMS_OUTCOMES, RISK_SCORES
from streams.runtime.processes import settings_env
from tests.integration.harness import read_until

pytestmark = pytest.mark.integration


async def test_forget_times_out_clearly_and_leaves_the_request_queued(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    command = [sys.executable, "-m", "streams.cli", "users", "forget", "ada", "--timeout", "2"]
    done = subprocess.run(command, env=settings_env(settings), capture_output=True, text=True)
    assert done.returncode == 1
    assert "has not processed the request" in done.stderr
    assert "database was not touched" in done.stderr and "run this command again" in done.stderr
    for spec in (BEHAVIOR_EVENTS, RISK_SCORES, COMMS_OUTCOMES):  # queued for the worker
        (record,) = await read_until(settings, spec, lambda rs: len(rs) >= 1)
        request = orjson.loads(record.value)
        assert record.key == b"ada" and request["control"] == "erasure_request"
        assert request["user_id"] == "ada" and request["erasure_id"]
