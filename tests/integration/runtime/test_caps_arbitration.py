"""Frequency caps across triggers and priority arbitration, through a running worker.

The pure core has unit tests of the same rules
(tests/unit/core/decisions/test_send_policy.py); these check that the worker applies
them to real histories published on ``behavior.events``: what reaches
``comms.commands``, and what ``trigger.decisions`` says about each firing and each
suppression. Every test has users the rule must not touch, so a cap that leaks between
users, or a filter that drops everything, cannot pass.

Quiet hours are turned off (start == end) so the outcomes do not depend on the time of
day the tests run at.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from schemas.commands import SendCommunication
from schemas.events import Event
from schemas.records import Outcome, SuppressionReason, TriggerDecision
from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, COMMS_COMMANDS, TRIGGER_DECISIONS
from streams.runtime.kafka_admin import ensure_topics
from tests.integration.harness import NudgeProcess, publish, read_until, wait_until
from tests.integration.scenarios import (
    as_messages,
    card_balance,
    income_dropper,
    month_start,
    ordered,
    quote_abandoned,
    spend,
    steady_spender,
)

pytestmark = pytest.mark.integration

#: Quiet hours from 0:00 to 0:00: none at all.
NO_QUIET_HOURS = {"quiet_hours_start": 0, "quiet_hours_end": 0}

#: One decision: trigger, outcome, reason, and the channels of the commands it links to.
Row = tuple[str, Outcome, SuppressionReason | None, list[str]]

FIRED, SUPPRESSED = Outcome.FIRED, Outcome.SUPPRESSED
SMS_EMAIL, ALL_THREE = ["sms", "email"], ["sms", "email", "push"]

# Every history below starts with ``steady_spender(user, until)``: $50 a day for five
# weeks, the last debit an hour before ``until``, which alone fires nothing.


def spike(user: str, at: datetime) -> Event:
    """$400 on top of $50 a day: ``spending_spike`` only (under large_transaction's $500)."""
    return spend(user, at, "400.00", f"{user}-spike-{int(at.timestamp())}")


def large_debit(user: str, at: datetime) -> Event:
    """$600, 12x the usual day: both ``large_transaction`` (high) and ``spending_spike``."""
    return spend(user, at, "600.00", f"{user}-large-{int(at.timestamp())}")


async def broker_ready(settings: Settings) -> None:
    """Create the test's topics and wait until the broker serves them and the worker's group.

    Just after the session fixture starts the broker, the group coordinator answers
    NOT_COORDINATOR for a few seconds and new topics can be missing from metadata. A worker
    joining its group then may be assigned no partitions, and it only notices the topics
    at its next metadata refresh (minutes later): the first test of a session would time
    out. Waiting here, before the worker starts, makes its first join see everything.
    """
    await ensure_topics(settings)
    topic = BEHAVIOR_EVENTS.full_name(settings.topic_prefix)
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    await admin.start()

    async def serving() -> bool:
        try:
            (described,) = await admin.describe_topics([topic])
            (groups,) = await admin.describe_consumer_groups([settings.app_id])
        except KafkaError:
            return False
        partitions = described["partitions"]
        leaders = all(p["leader"] >= 0 for p in partitions)
        visible = not described["error_code"] and len(partitions) == settings.partitions
        coordinated = all(g["error_code"] == 0 for g in groups.to_object()["groups"])
        return visible and leaders and coordinated

    try:
        await wait_until(serving, f"the broker to serve {topic} and group {settings.app_id}")
    finally:
        await admin.close()


async def run_worker(
    settings: Settings, log: Path, events: list[Event], decisions: int, commands: int
) -> tuple[list[TriggerDecision], list[SendCommunication]]:
    """Publish ``events`` to one worker and read both outputs once the expected counts arrive.

    The settle time after each count proves nothing beyond it arrives (a duplicate, or a
    command the cap should have stopped).
    """
    await broker_ready(settings)
    worker = NudgeProcess(settings, "worker", log).start()
    try:
        await publish(settings, BEHAVIOR_EVENTS, as_messages(events))
        decided = await read_until(
            settings, TRIGGER_DECISIONS, lambda rs: len(rs) >= decisions, settle=1.5
        )
        sent = await read_until(
            settings, COMMS_COMMANDS, lambda rs: len(rs) >= commands, settle=0.5
        )
    finally:
        worker.stop()
    return (
        [TriggerDecision.model_validate_json(r.value) for r in decided],
        [SendCommunication.model_validate_json(r.value) for r in sent],
    )


def by_user(
    decisions: list[TriggerDecision], commands: list[SendCommunication]
) -> dict[str, list[Row]]:
    """Each user's decisions in the order the worker made them, with their commands' channels.

    Also checks the linkage both ways: a decision's ``command_ids`` are exactly the ids of
    the commands that name it (same user and trigger, in channel order), and no command
    is left without a decision.
    """
    linked: set[str] = set()
    rows: dict[str, list[Row]] = {}
    for decision in decisions:
        own = [c for c in commands if c.decision_id == decision.decision_id]
        assert decision.command_ids == [c.command_id for c in own], decision
        assert all(
            (c.user_id, c.trigger_id) == (decision.user_id, decision.trigger_id) for c in own
        )
        if decision.outcome is SUPPRESSED:
            assert own == [], decision
        linked.update(decision.command_ids)
        channels = [c.channel.value for c in own]
        row = (decision.trigger_id, decision.outcome, decision.reason, channels)
        rows.setdefault(decision.user_id, []).append(row)
    assert sorted(linked) == sorted(c.command_id for c in commands), "a command has no decision"
    return rows


def detail_of(decisions: list[TriggerDecision], user: str, trigger: str) -> str:
    """The explanation of ``user``'s one decision of ``trigger``."""
    (found,) = [d for d in decisions if (d.user_id, d.trigger_id) == (user, trigger)]
    return found.detail


async def test_the_daily_cap_counts_the_sends_of_every_trigger(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(cap_per_channel_day=1, cap_per_channel_week=5, **NO_QUIET_HOURS)
    now = datetime.now(UTC)
    earlier, later = now - timedelta(hours=2), now - timedelta(hours=1)
    yesterday = now - timedelta(hours=26)
    events = ordered(
        # The spike takes SMS and email; the card alert an hour later only has push left.
        [*steady_spender("spike-then-card", earlier), spike("spike-then-card", earlier),
         card_balance("spike-then-card", later)],
        # The card alert (high) takes all three; the later spike (medium) has nothing left:
        # capped by an earlier event, so frequency_cap, not lower_priority.
        [*steady_spender("card-then-spike", earlier), card_balance("card-then-spike", earlier),
         spike("card-then-spike", later)],
        # Controls: no earlier send today, so the same alert goes out on every channel.
        [*steady_spender("card-only", later), card_balance("card-only", later)],
        [*steady_spender("spike-yesterday", yesterday), spike("spike-yesterday", yesterday),
         card_balance("spike-yesterday", later)],
    )  # fmt: skip
    decisions, commands = await run_worker(settings, tmp_path / "worker.log", events, 7, 14)

    assert by_user(decisions, commands) == {
        "spike-then-card": [
            ("spending_spike", FIRED, None, SMS_EMAIL),
            ("near_credit_limit", FIRED, None, ["push"]),
        ],
        "card-then-spike": [
            ("near_credit_limit", FIRED, None, ALL_THREE),
            ("spending_spike", SUPPRESSED, SuppressionReason.FREQUENCY_CAP, []),
        ],
        "card-only": [("near_credit_limit", FIRED, None, ALL_THREE)],
        "spike-yesterday": [
            ("spending_spike", FIRED, None, SMS_EMAIL),
            ("near_credit_limit", FIRED, None, ALL_THREE),
        ],
    }
    assert "sms, email at the frequency cap" in detail_of(
        decisions, "spike-then-card", "near_credit_limit"
    )
    assert "sms, email at the frequency cap" in detail_of(
        decisions, "card-then-spike", "spending_spike"
    )
    assert "frequency cap" not in detail_of(decisions, "card-only", "near_credit_limit")


async def test_the_weekly_cap_holds_across_triggers_after_the_day_has_passed(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    # A week of fresh events, so sends on different days of the week are all evaluated.
    settings = make_settings(
        cap_per_channel_day=1,
        cap_per_channel_week=2,
        max_event_age_seconds=7 * 86_400,
        **NO_QUIET_HOURS,
    )
    now = datetime.now(UTC)
    four_days, two_days, hour = (now - timedelta(hours=h) for h in (96, 48, 1))
    events = ordered(
        # Quote reminder (all three), spike (SMS, email) two days later: both under the
        # caps. The card alert another two days on finds SMS and email at two this week.
        [*steady_spender("three-triggers", two_days), quote_abandoned("three-triggers", four_days),
         spike("three-triggers", two_days), card_balance("three-triggers", hour)],
        # Control: one earlier send this week leaves room on every channel.
        [*steady_spender("two-triggers", two_days), spike("two-triggers", two_days),
         card_balance("two-triggers", hour)],
    )  # fmt: skip
    decisions, commands = await run_worker(settings, tmp_path / "worker.log", events, 5, 11)

    assert by_user(decisions, commands) == {
        "three-triggers": [
            ("quote_form_abandoned", FIRED, None, ALL_THREE),
            ("spending_spike", FIRED, None, SMS_EMAIL),
            ("near_credit_limit", FIRED, None, ["push"]),
        ],
        "two-triggers": [
            ("spending_spike", FIRED, None, SMS_EMAIL),
            ("near_credit_limit", FIRED, None, ALL_THREE),
        ],
    }
    assert "sms, email at the frequency cap" in detail_of(
        decisions, "three-triggers", "near_credit_limit"
    )


async def test_the_higher_priority_wins_the_capped_slots_of_one_event(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(cap_per_channel_day=2, cap_per_channel_week=5, **NO_QUIET_HOURS)
    now = datetime.now(UTC)
    before = [now - timedelta(hours=h) for h in (3, 2)]
    debit_at = now - timedelta(minutes=10)
    events = ordered(
        # One slot used by a quote reminder: the $600 debit fires large_transaction (high)
        # and spending_spike (medium); the high one takes the last slots.
        [*steady_spender("contested", before[0]), quote_abandoned("contested", before[1]),
         large_debit("contested", debit_at)],
        # Both slots used before the debit: neither trigger sends, and neither lost to
        # the other, so both are frequency_cap.
        [*steady_spender("full", before[0]), quote_abandoned("full", before[0]),
         card_balance("full", before[1]), large_debit("full", debit_at)],
        # Control: room for both, so both fire, the most important first.
        [*steady_spender("roomy", before[0]), large_debit("roomy", debit_at)],
    )  # fmt: skip
    decisions, commands = await run_worker(settings, tmp_path / "worker.log", events, 9, 17)

    assert by_user(decisions, commands) == {
        "contested": [
            ("quote_form_abandoned", FIRED, None, ALL_THREE),
            ("large_transaction", FIRED, None, ALL_THREE),
            ("spending_spike", SUPPRESSED, SuppressionReason.LOWER_PRIORITY, []),
        ],
        "full": [
            ("quote_form_abandoned", FIRED, None, ALL_THREE),
            ("near_credit_limit", FIRED, None, ALL_THREE),
            ("large_transaction", SUPPRESSED, SuppressionReason.FREQUENCY_CAP, []),
            ("spending_spike", SUPPRESSED, SuppressionReason.FREQUENCY_CAP, []),
        ],
        "roomy": [
            ("large_transaction", FIRED, None, ALL_THREE),
            ("spending_spike", FIRED, None, SMS_EMAIL),
        ],
    }
    # Both decisions of the contested debit name the same event: one event, two triggers.
    contested = [d for d in decisions if d.user_id == "contested"][1:]
    assert {d.source_event_id for d in contested} == {
        f"contested-large-{int(debit_at.timestamp())}"
    }
    assert "slots taken by a higher priority" in detail_of(decisions, "contested", "spending_spike")
    assert "higher priority" not in detail_of(decisions, "full", "spending_spike")


async def test_of_two_equal_priorities_the_second_sends_on_the_channels_left(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(cap_per_channel_day=1, cap_per_channel_week=5, **NO_QUIET_HOURS)
    now = datetime.now(UTC)
    # The debit must be the month's first evaluated event, to judge last month's income:
    # the spending stops before the fresh window, and the debit falls in this month.
    debit_at = max(now - timedelta(minutes=10), month_start(now, 0) + timedelta(seconds=1))
    quiet_since = now - timedelta(hours=48)

    def paid(user: str, drop: Decimal) -> list[Event]:
        return [e for e in income_dropper(user, now, drop) if e.type != "transaction"]

    events = ordered(
        # Three triggers on one debit: income_drop and large_transaction (both high; the
        # core breaks the tie by id) and spending_spike (medium). With one slot a day,
        # income_drop takes SMS and email, large_transaction still has push.
        [*steady_spender("dropped", quiet_since), *paid("dropped", Decimal("0.33")),
         large_debit("dropped", debit_at)],
        # Control: same debit, income steady, so large_transaction has every channel.
        [*steady_spender("steady-pay", quiet_since), *paid("steady-pay", Decimal(0)),
         large_debit("steady-pay", debit_at)],
    )  # fmt: skip
    decisions, commands = await run_worker(settings, tmp_path / "worker.log", events, 5, 6)

    assert by_user(decisions, commands) == {
        "dropped": [
            ("income_drop", FIRED, None, SMS_EMAIL),
            ("large_transaction", FIRED, None, ["push"]),
            ("spending_spike", SUPPRESSED, SuppressionReason.LOWER_PRIORITY, []),
        ],
        "steady-pay": [
            ("large_transaction", FIRED, None, ALL_THREE),
            ("spending_spike", SUPPRESSED, SuppressionReason.LOWER_PRIORITY, []),
        ],
    }
    assert "sms, email at the frequency cap" in detail_of(decisions, "dropped", "large_transaction")
