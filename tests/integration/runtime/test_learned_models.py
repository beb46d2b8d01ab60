"""The online models through the real broker: an unusual debit, and a send at the learned hour.

- ``unusual_transaction``: a user who always pays the same grocer at home pays a hotel
  abroad; the user's anomaly model (``models.online.anomaly``) scores it, the shipped
  trigger fires, and its commands are on ``comms.commands``.
- ``send_at: best_time``: two users in Tokyo got emails at every hour from 10:00 to
  20:00 over two days; one opened only those sent at 19:00, the other only those at 14:00
  (outcomes on ``comms.outcomes``, as a notification service reports them). The worker's
  clock (``NUDGE_CLOCK_FILE``) reads 10:30 in Tokyo when a trigger with ``send_at:
  best_time`` fires for both: each email is held until that user's hour, and sent when
  the clock gets there. The send-time prior the worker serves meanwhile comes from its
  own checkpoints of this history (both hours equally).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from schemas.events import Event
from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, COMMS_COMMANDS, COMMS_OUTCOMES, TRIGGER_DECISIONS
from streams.cli.definitions import publish as publish_definitions
from tests.integration.harness import (
    NudgeProcess,
    caught_up,
    free_port,
    publish,
    read_until,
    scrape,
    wait_until,
)
from tests.integration.learning import BEST_TIME, PING, opened, page_view
from tests.integration.scenarios import as_messages
from tests.unit.factories import card_debit, event, profile

pytestmark = pytest.mark.integration

TOKYO = ZoneInfo("Asia/Tokyo")
#: The worker's "now": 10:30 in Tokyo.
NOW = datetime(2026, 12, 3, 10, 30, tzinfo=TOKYO).astimezone(UTC)


def decoded(records: list) -> list[dict]:
    return [json.loads(r.value) for r in records]


async def test_an_unusual_debit_fires_unusual_transaction_through_kafka(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    now = datetime.now(UTC)
    user = "wanderer-1"
    usual = [
        card_debit(user, now - timedelta(days=d, hours=2), "24.00", merchant="Corner Grocer")
        for d in range(15, 0, -1)
    ]
    abroad = card_debit(
        user, now - timedelta(minutes=10), "30.00", merchant="Hotel Lutetia",
        category="travel", country="FR", event_id="wanderer-abroad",
    )  # fmt: skip
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    try:
        await publish(settings, BEHAVIOR_EVENTS, as_messages([*usual, abroad]))
        records = await read_until(
            settings, COMMS_COMMANDS, lambda rs: len(rs) >= 3, timeout=40.0, settle=2.0
        )
        decisions = decoded(await read_until(settings, TRIGGER_DECISIONS, lambda rs: len(rs) >= 1))
    finally:
        worker.stop()
    commands = decoded(records)
    assert {(c["trigger_id"], c["channel"]) for c in commands} == {
        ("unusual_transaction", "sms"), ("unusual_transaction", "email"),
        ("unusual_transaction", "push"),
    }  # fmt: skip
    assert {c["source_event_id"] for c in commands} == {"wanderer-abroad"}
    (fired,) = [d for d in decisions if d["trigger_id"] == "unusual_transaction"]
    assert fired["outcome"] == "fired" and fired["command_ids"] == [
        c["command_id"] for c in commands
    ]
    # The score the trigger compared, the user's own model's; unusual for where, not for
    # how much (the detail names the reason the score gave: its largest view).
    assert fired["features"]["transaction_anomaly_score"] >= 0.8
    assert "transaction_anomaly_reason abroad" in fired["detail"]


#: Each reader and the local hour of the emails they open.
READERS = {"evening-reader": 19, "lunch-reader": 14}


def history_round(user: str, day: int, minute: int) -> tuple[list[Event], Event]:
    """Page views each hour from 10:00 to 20:00 Tokyo, ``day`` days before ``NOW``.

    ``PING`` emails each (10:00 two days back is too old to fire anything). Returns the
    views and the open of the email sent at the user's hour, five minutes after it.
    """
    views, read = [], None
    for hour in range(10, 21):
        at = datetime(2026, 12, 3 - day, hour, minute, tzinfo=TOKYO)
        cause = f"{user}-{day}-{hour}-{minute}"
        views.append(page_view(user, at, cause))
        if hour == READERS[user]:
            read = opened(user, at + timedelta(minutes=5), cause)
    assert read is not None
    return views, read


async def teach(settings: Settings) -> int:
    """Send each reader emails at every hour, and open those at their hour; return the sends.

    Opens are credited to the sends a user's record still remembers (the last eight), so
    each round's opens are published once its emails are out, before the next round.
    """
    profiles = [profile(u, NOW - timedelta(days=3), timezone="Asia/Tokyo") for u in READERS]
    await publish(settings, BEHAVIOR_EVENTS, as_messages(profiles))
    sent = 0
    for day, minute in ((2, 5), (2, 35), (1, 5), (1, 35)):
        rounds = [history_round(user, day, minute) for user in READERS]
        views = [view for each, _ in rounds for view in each]
        await publish(settings, BEHAVIOR_EVENTS, as_messages(views))
        sent += sum(NOW - view.occurred_at <= timedelta(days=2) for view in views)
        await read_until(settings, COMMS_COMMANDS, partial(at_least, sent))
        await publish(settings, COMMS_OUTCOMES, as_messages([read for _, read in rounds]))
        await caught_up(settings, COMMS_OUTCOMES)
    return sent


def best_time_decisions(records: list) -> dict[str, dict]:
    return {d["user_id"]: d for d in decoded(records) if d["trigger_id"] == BEST_TIME.id}


def at_least(count: int, records: list[Any]) -> bool:
    return len(records) >= count


def sent_to(user: str, records: list[Any]) -> bool:
    return user in best_time_sends(records)


def best_time_sends(records: list) -> dict[str, dict]:
    """Return the ``BEST_TIME`` commands sent, by user (at most one each here)."""
    return {c["user_id"]: c for c in decoded(records) if c["trigger_id"] == BEST_TIME.id}


def held_until(decision: dict) -> datetime:
    """Return the time a decision's note says its commands are held until."""
    note = decision["detail"].split("held until ", 1)[1]
    return datetime.fromisoformat(note.split(";")[0].split()[0].rstrip("."))


async def test_best_time_sends_are_held_for_each_users_learned_hour_then_sent_at_it(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    clock = tmp_path / "clock"
    clock.write_text(NOW.isoformat())
    port = free_port()
    settings = make_settings(
        clock_file=str(clock), schedule_interval_seconds=0.5, quiet_hours_start=21,
        quiet_hours_end=8, cap_per_channel_day=100, cap_per_channel_week=500,
        model_checkpoint_seconds=1.0, metrics_port=port,
    )  # fmt: skip
    await publish_definitions(settings, [PING, BEST_TIME])
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    hours = {user: datetime(2026, 12, 3, hour, tzinfo=TOKYO) for user, hour in READERS.items()}
    released: dict[str, dict[str, dict]] = {}
    try:
        sent = await teach(settings)
        # The history is checkpointed: the prior served is what it adds up to.
        await wait_until(
            lambda: scrape(port).get("nudge_send_time_prior_sends") == sent, "the prior served"
        )
        budget = {"type": "feature_used", "feature": "budget"}
        finals = [event(u, NOW - timedelta(minutes=1), budget, event_id=f"{u}-f") for u in READERS]
        await publish(settings, BEHAVIOR_EVENTS, as_messages(finals))
        both = await read_until(
            settings, TRIGGER_DECISIONS, lambda rs: len(best_time_decisions(rs)) == len(READERS)
        )
        decisions = best_time_decisions(both)
        held = await read_until(settings, COMMS_COMMANDS, lambda rs: True, settle=2.0)
        assert len(held) == sent  # the history's, and nothing more while they wait
        # The clock reaches each user's hour in turn: what is sent by then.
        for user, at in sorted(hours.items(), key=lambda pair: pair[1]):
            clock.write_text((at + timedelta(seconds=1)).isoformat())
            records = await read_until(settings, COMMS_COMMANDS, partial(sent_to, user), settle=1.0)
            released[user] = best_time_sends(records)
    finally:
        worker.stop()

    assert set(released["lunch-reader"]) == {"lunch-reader"}  # at 14:00, the evening waits
    for user, at in hours.items():
        decision = decisions[user]
        assert decision["outcome"] == "fired" and held_until(decision) == at
        command = released["evening-reader"][user]
        assert command["command_id"] == decision["command_ids"][0]
        assert datetime.fromisoformat(command["send_at"]) == at
