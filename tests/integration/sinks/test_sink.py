"""The sink through the real broker and the real PostgreSQL: rows, replays, topics."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from schemas.settings import Settings
from sinks.migrate import upgrade
from tests.integration.harness import wait_until
from tests.integration.sink_harness import (
    AT,
    committed,
    communication,
    counts,
    counts_are,
    decision,
    intervention,
    letter,
    metric,
    offsets_caught_up,
    publish,
    rows,
    running_sink,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    migrated = make_settings(sink_batch_size=50)
    upgrade(migrated)
    return migrated


# --- tests ------------------------------------------------------------------------------


def sample(settings: Settings) -> list[Any]:
    return [
        decision("ana", 1),
        decision("ben", 2, suppressed=True),
        decision("cy", 3),
        communication("ana", 1, "email"),
        communication("cy", 3, "sms"),
        intervention("dee", 4),
        letter(settings, "eve", 41),
    ]


async def test_messages_become_rows_with_their_content_and_offsets_follow(settings):
    messages = sample(settings)
    async with running_sink(settings):
        await publish(settings, messages)
        expected = {"trigger_events": 3, "communications": 2, "interventions": 1, "dead_letters": 1}
        await wait_until(lambda: counts_are(settings, expected), "seven rows")
        await wait_until(lambda: offsets_caught_up(settings), "offsets committed to the end")

    decisions = await rows(settings, "trigger_events", "decision_id")
    fired, suppressed = decisions[messages[0].decision_id], decisions[messages[1].decision_id]
    assert (fired["user_id"], fired["outcome"], fired["reason"]) == ("ana", "fired", None)
    assert (suppressed["outcome"], suppressed["reason"]) == ("suppressed", "cooldown")
    assert suppressed["command_ids"] == [] and fired["command_ids"] == messages[0].command_ids
    assert fired["occurred_at"] == AT + timedelta(minutes=1) and fired["occurred_at"].tzinfo
    assert fired["features"] == {"spend_ratio": 1.21} and fired["event_type"] == "transaction"
    assert fired["recorded_at"].tzinfo and fired["detail"] == "weekly spend 121% of baseline"

    comms = await rows(settings, "communications", "command_id")
    email, sms = comms[messages[3].command_id], comms[messages[4].command_id]
    assert email["subject"] == "Your spending this week" and email["template_version"] == 3
    assert pick(sms, "channel", "subject", "body", "priority", "decision_id") == {
        "channel": "sms",
        "subject": None,
        "body": "Hi cy, spending is up 23%.",
        "priority": "high",
        "decision_id": messages[2].decision_id,
    }
    assert sms["variables"] == {"first_name": "cy", "ratio": "23%"}
    assert sms["send_at"] == AT + timedelta(minutes=3, hours=1)
    assert sms["delivered_at"] is None and sms["conversion_value"] is None

    (help_row,) = (await rows(settings, "interventions", "command_id")).values()
    assert pick(help_row, "user_id", "intervention_type", "risk_score", "channels") == {
        "user_id": "dee",
        "intervention_type": "payment_assistance",
        "risk_score": 0.85,
        "channels": ["phone", "email"],
    }
    assert help_row["messages"] == [
        {
            "channel": "email",
            "subject": "We can help",
            "body": "Hello dee",
            "template_id": "payment_assistance.email",
            "template_version": 1,
        }
    ]
    assert help_row["response"] is None

    (dead,) = (await rows(settings, "dead_letters", "dead_letter_id")).values()
    assert pick(dead, "dead_letter_id", "topic", "offset", "kind", "failed_at") == {
        "dead_letter_id": messages[6].dead_letter_id,
        "topic": f"{settings.topic_prefix}behavior.events",
        "offset": 41,
        "kind": "not_json",
        "failed_at": AT,
    }
    assert base64.b64decode(dead["value"]) == b"{broken"


def pick(row: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: row[name] for name in names}


async def test_a_replay_is_not_a_second_row_and_offsets_still_advance(settings):
    messages = sample(settings)
    expected = {"trigger_events": 3, "communications": 2, "interventions": 1, "dead_letters": 1}
    async with running_sink(settings):
        await publish(settings, messages)
        await wait_until(lambda: counts_are(settings, expected), "the first copy's rows")
        await wait_until(lambda: offsets_caught_up(settings), "first offsets")
        first_offsets = await committed(settings)
        first_rows = await rows(settings, "trigger_events", "decision_id")
        duplicates_before = metric("nudge_sink_duplicates_total", table="trigger_events")

        await publish(settings, messages)  # the replay: same ids, same content
        await wait_until(lambda: offsets_caught_up(settings), "offsets past the replay")

    assert await counts(settings) == expected
    assert metric("nudge_sink_duplicates_total", table="trigger_events") - duplicates_before == 3
    after = await committed(settings)
    # Same keys, same partitions: each partition got as many messages again.
    assert after == {tp: 2 * offset for tp, offset in first_offsets.items()}
    # Rows were not rewritten: recorded_at is still the first write's.
    assert await rows(settings, "trigger_events", "decision_id") == first_rows
