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
            *risk_scores(easing, now, (0.9, 0.85, 0.7, 0.55, 0.5)),  # below 0.60, decreasing
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


#: The specification's rule through a running worker: scores -> (type, trend) or nothing.
SPECIFICATION_TABLE: dict[str, tuple[tuple[float, ...], tuple[str, str] | None]] = {
    "one-score": ((0.95,), None),  # unknown
    "two-scores": ((0.50, 0.90), ("payment_assistance", "stable_high")),
    "rise-of-0.05": ((0.55, 0.60, 0.65), ("flexible_payment", "stable_high")),
    "rise-of-0.10": ((0.45, 0.45, 0.50, 0.55, 0.55), None),  # stable_low
    "rise-over-0.10": ((0.45, 0.45, 0.50, 0.55, 0.56), ("payment_reminder", "increasing")),
    "critical-at-0.80": ((0.70, 0.70, 0.75, 0.80, 0.80), ("payment_assistance", "increasing")),
    "high-and-falling": ((0.95, 0.95, 0.90, 0.85, 0.85), ("payment_assistance", "stable_high")),
    "no-low-tier": ((0.20, 0.20, 0.25, 0.30, 0.3999), None),
}


def two_fresh(user: str, now: datetime, history: tuple[float, ...], first: float, second: float):
    """Old ``history``, then two fresh scores a day apart: both decide, inside the cool-off."""
    old = risk_scores(user, now - timedelta(days=3), history)
    fresh = [
        event(user, now - timedelta(hours=hours), {"type": "risk_score", "score": score,
              "top_drivers": []})
        for hours, score in ((26, first), (2, second))
    ]  # fmt: skip
    return [*old, *fresh]


async def test_the_specification_rule_and_escalation_through_a_worker(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    now = datetime.now(UTC)
    risk = [e for user, (values, _) in SPECIFICATION_TABLE.items()
            for e in risk_scores(user, now, values)]  # fmt: skip
    # A reminder, then 0.86 a day later: payment assistance inside the cool-off.
    risk += two_fresh("climbing", now, (0.25, 0.27, 0.33), 0.50, 0.86)
    # Assistance, then 0.65 a day later (high, a lower tier): the cool-off holds.
    risk += two_fresh("falling", now, (0.85, 0.85, 0.85), 0.86, 0.65)
    expected = {user: want for user, (_, want) in SPECIFICATION_TABLE.items() if want}
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    try:
        await publish(settings, RISK_SCORES, as_messages(risk))
        commands = await read_until(
            settings, INTERVENTIONS_COMMANDS, lambda r: len(r) >= len(expected) + 3, settle=2.0
        )
        decisions = await read_until(
            settings, TRIGGER_DECISIONS, lambda r: len(r) >= len(expected) + 4, settle=2.0
        )
    finally:
        worker.stop()
    started: dict[str, list[tuple[str, str]]] = {}
    for record in commands:
        command = json.loads(record.value)
        started.setdefault(command["user_id"], []).append(
            (command["intervention_type"], command["trend"])
        )
    table = {user: kinds for user, kinds in started.items() if user in SPECIFICATION_TABLE}
    assert table == {user: [want] for user, want in expected.items()}
    assert [kind for kind, _ in started["climbing"]] == ["payment_reminder", "payment_assistance"]
    assert [kind for kind, _ in started["falling"]] == ["payment_assistance"]
    reasons: dict[str, list[tuple[str, str | None]]] = {}
    for record in decisions:
        decision = json.loads(record.value)
        reasons.setdefault(decision["user_id"], []).append(
            (decision["outcome"], decision["reason"])
        )
    assert reasons["climbing"] == [("fired", None), ("fired", "escalated")]
    assert reasons["falling"] == [("fired", None), ("suppressed", "cooldown")]
    assert set(reasons) == set(expected) | {"climbing", "falling"}  # the rest: nothing
