"""The worker's final table equals the events folded one by one through the pure core.

Batching, producing and state writes are the worker's business; what each user's record
ends as must not depend on them. The bench's workload (with spikes, so commands fire and
caps and cooldowns are remembered) goes through the real worker, and each user's last
changelog record is compared by content (``streams.bench.final_state``: without the dedup
window's encoding and the partition) with a plain loop over ``process``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS
from streams.bench.core_pass import CorePass, reference_fold
from streams.bench.final_state import (
    changelog_topic,
    differing_users,
    read_final_states,
    states_digest,
)
from streams.bench.workload import build_workload
from tests.integration.harness import NudgeProcess, caught_up, publish

pytestmark = pytest.mark.integration

USERS = 40
EVENTS = 800


async def test_every_users_final_state_equals_the_sequential_fold(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    # The timer would judge time-based triggers on its own clock; an hour keeps it out.
    settings = make_settings(schedule_interval_seconds=3600.0)
    workload = build_workload(EVENTS, USERS, now=datetime.now(UTC), seed=5)
    await publish(settings, BEHAVIOR_EVENTS, workload.messages)
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    try:
        await caught_up(settings, BEHAVIOR_EVENTS)
    finally:
        assert worker.stop() == 0, worker.log_text()[-2000:]

    states = await read_final_states(settings, changelog_topic(settings.app_id))
    reference = reference_fold(
        workload.messages, CorePass.from_settings(settings), datetime.now(UTC)
    )

    assert len(reference) == USERS
    assert sum(bool(state.last_fired) for state in reference.values()) >= 1  # something fired
    assert differing_users(states, reference) == []
    assert states_digest(states) == states_digest(reference)
