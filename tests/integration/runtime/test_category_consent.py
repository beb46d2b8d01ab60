"""Consent to a sensitive category, through the real broker and a real worker.

The same spike for two users: the one who consented to financial messages gets the
spending_spike message; the one who never said is recorded as suppressed, ``no_consent``,
with no command. The worker runs with the specification's rule (``required``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.commands import SendCommunication
from schemas.records import TriggerDecision
from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, COMMS_COMMANDS, TRIGGER_DECISIONS
from tests.integration.harness import NudgeProcess, publish, read_until, wait_for_assignment
from tests.integration.scenarios import as_messages, ordered, spiker
from tests.unit.factories import event

pytestmark = pytest.mark.integration


async def test_a_missing_category_consent_suppresses_the_message(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(category_consent="required")
    now = datetime.now(UTC)
    agreed, silent = "agreed-user", "silent-user"
    consent = event(
        agreed, now - timedelta(days=40),
        {"type": "profile_update", "category_consent": {"financial": True}},
    )  # fmt: skip
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    try:
        await wait_for_assignment(worker)
        history = ordered([consent, *spiker(agreed, now)], spiker(silent, now))
        await publish(settings, BEHAVIOR_EVENTS, as_messages(history))

        def spikes(records: list) -> dict[str, TriggerDecision]:
            decided = [TriggerDecision.model_validate_json(r.value) for r in records]
            return {d.user_id: d for d in decided if d.trigger_id == "spending_spike"}

        records = await read_until(settings, TRIGGER_DECISIONS, lambda rs: len(spikes(rs)) == 2)
        decisions = spikes(records)
        assert decisions[agreed].outcome.value == "fired"
        assert (decisions[silent].outcome.value, decisions[silent].reason) == (
            "suppressed", "no_consent",
        )  # fmt: skip
        assert "no consent to financial messages" in decisions[silent].detail
        assert decisions[silent].command_ids == []
        sent = await read_until(
            settings, COMMS_COMMANDS, lambda rs: len(rs) >= len(decisions[agreed].command_ids),
            settle=2.0,
        )  # fmt: skip
        commands = [SendCommunication.model_validate_json(r.value) for r in sent]
        spike_users = {c.user_id for c in commands if c.trigger_id == "spending_spike"}
        assert spike_users == {agreed}
    finally:
        worker.stop()
