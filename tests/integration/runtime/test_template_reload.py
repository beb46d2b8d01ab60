"""A message template changes under a running worker: ``nudge templates apply``, no restart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, COMMS_COMMANDS, INTERVENTIONS_COMMANDS, RISK_SCORES
from streams.cli.templates import apply
from tests.integration.harness import NudgeProcess, publish, read_until
from tests.integration.runtime.test_hot_reload import logged
from tests.integration.scenarios import as_messages, risk_scores, spend, steady_spender
from tests.paths import ROOT

pytestmark = pytest.mark.integration

NEW_SMS = "New wording v2: {{event_amount}} just left your account. Not you? Freeze your card."


def large_transaction_v2(tmp_path: Path) -> Path:
    """The shipped ``large_transaction`` (version 1) with a new SMS, as version 2."""
    shipped = yaml.safe_load((ROOT / "streams/templates/catalogue.yaml").read_text("utf-8"))
    message = {**shipped["templates"]["large_transaction"], "version": 2, "sms": NEW_SMS}
    path = tmp_path / "large_transaction.yaml"
    path.write_text(yaml.safe_dump({"templates": {"large_transaction": message}}), "utf-8")
    return path


def sms_of(records: list, user: str) -> dict | None:
    for record in records:
        command = json.loads(record.value)
        if (command["user_id"], command["trigger_id"], command["channel"]) == (
            user, "large_transaction", "sms",
        ):  # fmt: skip
            return command
    return None


async def test_the_next_command_renders_with_the_applied_version_without_a_restart(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    now = datetime.now(UTC)
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    try:
        seen = await logged(worker, "message templates loaded", None, 0)
        # A steady $50-a-day spender pays $600 at once: large_transaction, rendered with v1.
        before = [*steady_spender("ada-1", now), spend("ada-1", now - timedelta(minutes=9), "600")]
        await publish(settings, BEHAVIOR_EVENTS, as_messages(before))
        first = await read_until(
            settings, COMMS_COMMANDS, lambda rs: sms_of(rs, "ada-1") is not None
        )

        assert await asyncio.to_thread(apply, settings, [large_transaction_v2(tmp_path)]) == 0
        await logged(worker, "message template changed", None, seen)
        after = [*steady_spender("bo-2", now), spend("bo-2", now - timedelta(minutes=8), "600")]
        await publish(settings, BEHAVIOR_EVENTS, as_messages(after))
        second = await read_until(
            settings, COMMS_COMMANDS, lambda rs: sms_of(rs, "bo-2") is not None
        )
        still_running = worker.running()
    finally:
        worker.stop()
    old, new = sms_of(first, "ada-1"), sms_of(second, "bo-2")
    assert old is not None and new is not None
    assert (old["template_id"], old["template_version"]) == ("large_transaction.sms", 1)
    assert old["body"].startswith("Hi Ada, a $600.00 payment just left your account")
    assert (new["template_id"], new["template_version"]) == ("large_transaction.sms", 2)
    assert new["body"] == NEW_SMS.replace("{{event_amount}}", "$600.00")
    assert new["variables"]["event_amount"] == "$600.00"
    assert still_running  # the same worker process rendered both


NEW_EMAIL = "<p>Hi {{user_name}}, v2: we are here to help with your payments.</p>"


def payment_assistance_v2(tmp_path: Path) -> Path:
    """The shipped intervention message ``payment_assistance`` with a new email body, v2."""
    shipped = yaml.safe_load((ROOT / "streams/templates/interventions.yaml").read_text("utf-8"))
    message = shipped["templates"]["payment_assistance"]
    email = {**message["email"], "body": NEW_EMAIL}
    document = {
        "scope": "intervention",
        "fallbacks": shipped["fallbacks"],
        "templates": {"payment_assistance": {**message, "version": 2, "email": email}},
    }
    path = tmp_path / "payment_assistance.yaml"
    path.write_text(yaml.safe_dump(document), "utf-8")
    return path


def intervention_of(records: list, user: str) -> dict | None:
    commands = (json.loads(record.value) for record in records)
    return next((command for command in commands if command["user_id"] == user), None)


async def test_an_applied_intervention_message_is_rendered_by_the_running_worker(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    now = datetime.now(UTC)
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    try:
        seen = await logged(worker, "message templates loaded", None, 0)
        # Two scores, the last critical: payment_assistance, rendered with the shipped v1.
        await publish(settings, RISK_SCORES, as_messages(risk_scores("cy-1", now, (0.5, 0.9))))
        first = await read_until(
            settings, INTERVENTIONS_COMMANDS, lambda rs: intervention_of(rs, "cy-1") is not None
        )
        assert await asyncio.to_thread(apply, settings, [payment_assistance_v2(tmp_path)]) == 0
        await logged(worker, "message template changed", None, seen)
        await publish(settings, RISK_SCORES, as_messages(risk_scores("di-2", now, (0.5, 0.9))))
        second = await read_until(
            settings, INTERVENTIONS_COMMANDS, lambda rs: intervention_of(rs, "di-2") is not None
        )
        still_running = worker.running()
    finally:
        worker.stop()
    old, new = intervention_of(first, "cy-1"), intervention_of(second, "di-2")
    assert old is not None and new is not None
    assert old["intervention_type"] == new["intervention_type"] == "payment_assistance"
    old_email, new_email = (
        next(m for m in command["messages"] if m["channel"] == "email") for command in (old, new)
    )
    assert (old_email["template_id"], old_email["template_version"]) == (
        "payment_assistance.email", 1,
    )  # fmt: skip
    assert (new_email["template_id"], new_email["template_version"]) == (
        "payment_assistance.email", 2,
    )  # fmt: skip
    assert new_email["body"] == NEW_EMAIL.replace("{{user_name}}", "there")
    assert old_email["body"] != new_email["body"]
    # The other channels keep their wording, under the message's new version.
    assert {m["template_version"] for m in new["messages"]} == {2}
    assert still_running
