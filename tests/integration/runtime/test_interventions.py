"""Risk interventions in a running worker: risk.scores in, interventions.commands out."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, INTERVENTIONS_COMMANDS, RISK_SCORES, TRIGGER_DECISIONS
from tests.integration.harness import NudgeProcess, caught_up, publish, read_until
from tests.integration.scenarios import as_messages, risk_scores
from tests.unit.factories import event, profile

pytestmark = pytest.mark.integration


async def test_scores_and_payments_decide_who_gets_which_intervention(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    now = datetime.now(UTC)
    rising, defaulted, easing = "rising", "defaulted", "easing"
    behaviour = [
        profile(rising, now - timedelta(days=10), first_name="Ada"),
        event(rising, now - timedelta(days=2), {"type": "payment", "status": "due",
              "amount": "310.00", "due_date": (now + timedelta(days=6)).date().isoformat()}),
        event(defaulted, now - timedelta(days=3), {"type": "payment", "status": "missed",
              "amount": "120.00"}),
    ]  # fmt: skip
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    try:
        await publish(settings, BEHAVIOR_EVENTS, as_messages(behaviour))
        await caught_up(settings, BEHAVIOR_EVENTS)  # payments first: scores are another topic
        risk = [
            *risk_scores(rising, now, (0.42, 0.48, 0.55, 0.63, 0.66)),  # high, increasing
            *risk_scores(defaulted, now, (0.5, 0.6, 0.7, 0.8, 0.9)),  # critical, but missed
            *risk_scores(easing, now, (0.9, 0.85, 0.8, 0.7, 0.65)),  # high, decreasing
        ]
        await publish(settings, RISK_SCORES, as_messages(risk))
        commands = await read_until(settings, INTERVENTIONS_COMMANDS, lambda r: len(r) >= 1,
                                    settle=2.0)  # fmt: skip
        decisions = await read_until(settings, TRIGGER_DECISIONS, lambda r: len(r) >= 2,
                                     settle=2.0)  # fmt: skip
    finally:
        worker.stop()
    (command,) = [json.loads(r.value) for r in commands]
    assert (command["user_id"], command["intervention_type"]) == (rising, "flexible_payment")
    assert (command["risk_level"], command["trend"]) == ("high", "increasing")
    assert {m["channel"] for m in command["messages"]} == {"email", "sms", "in_app"}
    sms = next(m["body"] for m in command["messages"] if m["channel"] == "sms")
    assert "Ada" in sms and "$310.00" in sms and "{{" not in sms
    by_user = {d["user_id"]: d for d in (json.loads(r.value) for r in decisions)}
    assert set(by_user) == {rising, defaulted}  # easing: no intervention called for
    assert by_user[rising]["command_ids"] == [command["command_id"]]
    assert (by_user[defaulted]["outcome"], by_user[defaulted]["reason"]) == (
        "suppressed",
        "recent_missed_payment",
    )
