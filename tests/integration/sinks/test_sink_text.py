"""Text PostgreSQL cannot hold, through the real sink: stored, never refused or looped on.

PostgreSQL ``text`` and ``jsonb`` refuse NUL; Kafka, JSON and the messages' models do not.
Every decision, command and dead letter that reaches the sink must still be a row.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from schemas.commands import ChannelMessage
from schemas.settings import Settings
from schemas.topics import (
    BEHAVIOR_EVENTS_DLQ,
    COMMS_COMMANDS,
    INTERVENTIONS_COMMANDS,
    TRIGGER_DECISIONS,
)
from sinks.migrate import upgrade
from tests.integration.harness import wait_until
from tests.integration.sink_harness import (
    communication,
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

NUL, FFFD = "\x00", "\ufffd"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    migrated = make_settings(sink_batch_size=50)
    upgrade(migrated)
    return migrated


async def test_nul_in_any_text_is_stored_as_the_replacement_character(settings):
    user = f"nul{NUL}user"
    fired = decision(user, 1)
    fired = fired.model_copy(
        update={"detail": f"spend{NUL}up", "features": {f"odd{NUL}feature": 1.5}}
    )
    sms = communication(user, 2, "email")
    sms = sms.model_copy(
        update={
            "subject": f"Hi{NUL}",
            "body": f"<p>Hi {NUL}there</p>",
            "variables": {f"first{NUL}name": f"An{NUL}a"},
            "reason": f"because{NUL}",
        }
    )
    helped = intervention(user, 3)
    helped = helped.model_copy(
        update={
            "messages": [ChannelMessage(channel="sms", body=f"Call us{NUL}")],
            "drivers": [f"missed{NUL}payment"],
            "timeline": f"soon{NUL}",
        }
    )
    dead = letter(settings, "someone", 7)
    dead = dead.model_copy(update={"error": f"payload.{NUL}: broken{NUL}"})
    topics = [spec.full_name(settings.topic_prefix) for spec in SPECS]
    invalid_before = sum(metric("nudge_sink_invalid_messages_total", topic=t) for t in topics)
    async with running_sink(settings) as task:
        await publish(settings, [fired, sms, helped, dead])
        expected = {"trigger_events": 1, "communications": 1, "interventions": 1}
        await wait_until(
            lambda: counts_are(settings, expected | {"dead_letters": 1}), "one row per message"
        )
        await wait_until(lambda: offsets_caught_up(settings), "offsets past every message")
        assert not task.done()  # the sink is still running: nothing escaped

    stored_user = f"nul{FFFD}user"
    decisions = await rows(settings, "trigger_events", "decision_id")
    row = decisions[fired.decision_id]
    assert (row["user_id"], row["detail"]) == (stored_user, f"spend{FFFD}up")
    assert row["features"] == {f"odd{FFFD}feature": 1.5}
    row = (await rows(settings, "communications", "command_id"))[sms.command_id]
    assert (row["user_id"], row["subject"], row["body"], row["reason"]) == (
        stored_user,
        f"Hi{FFFD}",
        f"<p>Hi {FFFD}there</p>",
        f"because{FFFD}",
    )
    assert row["variables"] == {f"first{FFFD}name": f"An{FFFD}a"}
    row = (await rows(settings, "interventions", "command_id"))[helped.command_id]
    assert row["messages"][0]["body"] == f"Call us{FFFD}"
    assert (row["drivers"], row["timeline"]) == ([f"missed{FFFD}payment"], f"soon{FFFD}")
    letters = await rows(settings, "dead_letters", "dead_letter_id")
    assert list(letters) == [dead.dead_letter_id]  # the letter itself; no refused row
    assert letters[dead.dead_letter_id]["error"] == f"payload.{FFFD}: broken{FFFD}"
    invalid_after = sum(metric("nudge_sink_invalid_messages_total", topic=t) for t in topics)
    assert invalid_after == invalid_before


SPECS = (TRIGGER_DECISIONS, COMMS_COMMANDS, INTERVENTIONS_COMMANDS, BEHAVIOR_EVENTS_DLQ)
