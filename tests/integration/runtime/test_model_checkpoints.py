"""A worker SIGKILLed while it learns: the global prior resumes, per-user models lose nothing.

A stream of users who spend (the anomaly model learns every debit), get emails (a test
trigger sends one on every page view: the send-time models count its hour) and open some
of them is published in slices while a worker with ``NUDGE_MODEL_CHECKPOINT_SECONDS=1``
processes it. Half-way, once it has checkpointed, the worker is SIGKILLed; the stream goes
on, and a second worker starts.

- The restarted worker serves the prior the checkpoints on the topic add up to, before it
  learns anything more (its "model checkpoints restored" log).
- Every user's record (``anomaly`` and ``send_hours`` included) equals the events folded
  one by one through the pure core: the replay after the kill lost and doubled nothing.
- The global prior (sends and opens per hour, summed over the final checkpoints) never
  exceeds the reference's, hour by hour: nothing was counted twice. What it lacks is what
  the killed worker learned after its last checkpoint from events whose records it had
  written (they are not replayed): at most what the events published before the kill
  taught beyond that checkpoint. The test measures it.

Outcomes go to ``behavior.events`` with the page views (one topic keeps each user's order,
so the reference folds them as the worker does; an open read before its send would credit
nothing). ``comms.outcomes`` takes the same path in the worker: ``test_learned_models.py``
sends them there.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from models.online.prior import HOURS, HourCounts
from schemas.events import Event
from schemas.intake import Rejection, decode_event
from schemas.learning import SEND_TIME_PRIOR
from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS
from streams.bench.core_pass import CorePass
from streams.bench.final_state import changelog_topic, differing_users, read_final_states
from streams.cli.definitions import publish as publish_definitions
from streams.core.state.record import UserState
from streams.core.triggers.overlay import DefinitionOverlay
from tests.integration.harness import (
    NudgeProcess,
    caught_up,
    free_port,
    publish,
    scrape,
    wait_for_assignment,
    wait_until,
)
from tests.integration.learning import PING, opened, page_view, prior_of, read_checkpoints
from tests.integration.scenarios import ordered
from tests.unit.factories import card_debit

pytestmark = pytest.mark.integration

USERS = 40
#: Messages per slice, and the pause between slices: the stream lasts about 6 s, so the
#: worker is killed while it is still arriving.
SLICE, PAUSE_SECONDS = 24, 0.15


def user_stream(user: str, now: datetime, rng: random.Random) -> list[Event]:
    """Twelve debits at a grocer (one in three users then pays abroad), eight page views
    at hours of the last 30, and opens of the emails sent in the evening."""
    events = [
        card_debit(user, now - timedelta(days=d, hours=rng.randint(2, 4)),
                   f"{rng.randint(15, 30)}.00", merchant="Corner Grocer")
        for d in range(12, 0, -1)
    ]  # fmt: skip
    if rng.random() < 1 / 3:
        abroad = {"merchant": "Hotel Lutetia", "category": "travel", "country": "FR"}
        events.append(card_debit(user, now - timedelta(hours=1), "45.00", **abroad))
    for n, back in enumerate(sorted(rng.sample(range(2, 30), 8), reverse=True)):
        at = now - timedelta(hours=back, minutes=rng.randint(0, 50))
        cause = f"{user}-view-{n}"
        events.append(page_view(user, at, cause))
        if at.hour in (18, 19, 20) or rng.random() < 0.1:
            events.append(opened(user, at + timedelta(minutes=5), cause))
    return events


async def learning_stream(settings: Settings) -> tuple[list[tuple[bytes, bytes]], CorePass]:
    """Publish ``PING``; return the users' stream and the core the worker runs it with."""
    now = datetime.now(UTC)
    rng = random.Random(15)
    events = ordered(*(user_stream(f"learner-{n:02}", now, rng) for n in range(USERS)))
    await publish_definitions(settings, [PING])
    core = CorePass.from_settings(settings)
    entries: list[tuple[bytes, bytes | None]] = [
        (PING.id.encode(), PING.model_dump_json(by_alias=True).encode())
    ]
    core = CorePass(
        DefinitionOverlay.shipped_with(core.catalogue).by_event_type(entries), core.catalogue,
        core.policy, core.risk_policy, core.max_event_age_seconds, core.analytics,
    )  # fmt: skip
    return [(e.user_id.encode(), e.model_dump_json().encode()) for e in events], core


def reference(
    messages: list[tuple[bytes, bytes]], core: CorePass, now: datetime
) -> tuple[dict[bytes, UserState], HourCounts]:
    """Fold messages one by one through the pure core: every record, and the prior's counts."""
    states: dict[bytes, UserState] = {}
    counts = HourCounts()
    for key, value in messages:
        event, _ = decode_event(key, value, now=now)
        assert not isinstance(event, Rejection)
        state = states.setdefault(event.user_id.encode(), UserState())
        result = core.step(state, event, now)
        for hour in result.sent_hours:
            counts.add(hour, sends=1)
        for hour in result.opened_hours:
            counts.add(hour, opens=1)
    return states, counts


class Publisher:
    """Publishes messages a slice at a time; ``published`` is how many so far."""

    def __init__(self, settings: Settings, messages: list[tuple[bytes, bytes]]) -> None:
        self.settings, self.messages, self.published = settings, messages, 0

    async def run(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, acks="all")
        await producer.start()
        topic = BEHAVIOR_EVENTS.full_name(self.settings.topic_prefix)
        try:
            for start in range(0, len(self.messages), SLICE):
                for key, value in self.messages[start : start + SLICE]:
                    await producer.send(topic, key=key, value=value)
                await producer.flush()
                self.published = min(start + SLICE, len(self.messages))
                await asyncio.sleep(PAUSE_SECONDS)
        finally:
            await producer.stop()


def restored_entry(worker: NudgeProcess) -> dict | None:
    return next(
        (e for e in worker.log_entries() if e.get("message") == "model checkpoints restored"),
        None,
    )


async def test_a_killed_worker_resumes_the_prior_from_its_checkpoints_and_doubles_nothing(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    port = free_port()
    settings = make_settings(
        model_checkpoint_seconds=1.0, metrics_port=port, schedule_interval_seconds=3600.0,
        cap_per_channel_day=100, cap_per_channel_week=500,
    )  # fmt: skip
    messages, core = await learning_stream(settings)
    first = NudgeProcess(settings, "worker", tmp_path / "first.log").start()
    second = NudgeProcess(settings, "worker", tmp_path / "second.log")
    try:
        await wait_for_assignment(first)
        await wait_until(lambda: restored_entry(first) is not None, "the first worker's feed")
        publisher = Publisher(settings, messages)
        publishing = asyncio.create_task(publisher.run())

        async def checkpointed_half_way() -> bool:
            if publisher.published < len(messages) // 2:
                return False
            store = await read_checkpoints(settings)
            return len(store.of_model(SEND_TIME_PRIOR)) == settings.partitions

        await wait_until(checkpointed_half_way, "both partitions checkpointed half-way through")
        first.kill()
        published_at_kill = publisher.published
        at_kill = prior_of(await read_checkpoints(settings))

        started = time.monotonic()
        second.start()
        await wait_until(lambda: restored_entry(second) is not None, "the restarted worker's feed")
        restored_after = time.monotonic() - started
        restored = restored_entry(second)
        assert restored is not None
        await publishing
        await caught_up(settings, BEHAVIOR_EVENTS)

        # The gauge follows the checkpoints the worker reads, its own included.
        async def gauge_is_the_topics() -> bool:
            gauge = scrape(port).get("nudge_send_time_prior_sends")
            return gauge == sum(prior_of(await read_checkpoints(settings)).sends)

        await wait_until(gauge_is_the_topics, "the served prior's gauge to match the topic")
        assert second.stop() == 0, second.log_text()[-3000:]
    finally:
        first.kill()
        second.stop()

    # Restored: what the topic held when the first worker died, before learning more.
    assert (restored["prior_sends"], restored["prior_opens"]) == (
        sum(at_kill.sends), sum(at_kill.opens),
    )  # fmt: skip
    assert restored["models"]["send_time_prior"]["partitions"] == [0, 1]
    assert published_at_kill < len(messages)  # killed mid-stream
    print(  # measured, for the report (pytest -s)
        json.dumps({"restore_seconds": restored["seconds"],
                    "start_to_restored_seconds": round(restored_after, 1)})
    )  # fmt: skip

    await assert_nothing_lost_or_doubled(settings, messages, core, at_kill, published_at_kill)


async def assert_nothing_lost_or_doubled(
    settings: Settings,
    messages: list[tuple[bytes, bytes]],
    core: CorePass,
    at_kill: HourCounts,
    published_at_kill: int,
) -> None:
    """Compare the worker's records and final checkpoints with the sequential fold."""
    # Per-user models: exactly the sequential fold, despite the kill and the replay.
    states = await read_final_states(settings, changelog_topic(settings.app_id))
    expected, learned = reference(messages, core, datetime.now(UTC))
    assert differing_users(states, expected) == []
    for user, state in expected.items():
        assert states[user].anomaly == state.anomaly
        assert states[user].send_hours == state.send_hours
    assert sum(s.anomaly is not None and s.anomaly[0] >= 12 for s in states.values()) == USERS

    # The global prior: nothing doubled, and no more lost than the kill could cost.
    final = prior_of(await read_checkpoints(settings))
    for hour in range(HOURS):
        assert at_kill.sends[hour] <= final.sends[hour] <= learned.sends[hour]
        assert at_kill.opens[hour] <= final.opens[hour] <= learned.opens[hour]
    _, taught_before_kill = reference(messages[:published_at_kill], core, datetime.now(UTC))
    lost_sends = sum(learned.sends) - sum(final.sends)
    lost_opens = sum(learned.opens) - sum(final.opens)
    assert lost_sends <= sum(taught_before_kill.sends) - sum(at_kill.sends)
    assert lost_opens <= sum(taught_before_kill.opens) - sum(at_kill.opens)
    print(  # measured, for the report (pytest -s)
        json.dumps({
            "messages": len(messages), "published_at_kill": published_at_kill,
            "sends": sum(learned.sends), "opens": sum(learned.opens),
            "sends_at_kill": sum(at_kill.sends), "lost_sends": lost_sends,
            "lost_opens": lost_opens,
        })
    )  # fmt: skip


async def test_handing_partitions_over_and_stopping_cleanly_lose_nothing(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """No interval checkpoint (an hour): only a rebalance and the shutdowns write them.

    A second worker joining revokes the first's partitions: it checkpoints them on the
    way. Each worker checkpoints what it learned since when it stops. The final
    checkpoints then add up to exactly what the sequential fold counts.
    """
    settings = make_settings(
        model_checkpoint_seconds=3600.0, schedule_interval_seconds=3600.0,
        cap_per_channel_day=100, cap_per_channel_week=500,
    )  # fmt: skip
    messages, core = await learning_stream(settings)
    # Half the users before the second worker joins, the other half after.
    before = [m for m in messages if int(m[0].decode().rsplit("-", 1)[1]) < USERS // 2]
    after = [m for m in messages if m not in before]
    first = NudgeProcess(settings, "worker", tmp_path / "first.log").start()
    second = NudgeProcess(settings, "worker", tmp_path / "second.log")
    try:
        await publish(settings, BEHAVIOR_EVENTS, before)
        await caught_up(settings, BEHAVIOR_EVENTS)
        second.start()
        await wait_until(lambda: written(first, "revoked") > 0, "the first worker's hand-over")
        await wait_for_assignment(second)
        await publish(settings, BEHAVIOR_EVENTS, after)
        await caught_up(settings, BEHAVIOR_EVENTS)
        assert second.stop() == 0 and first.stop() == 0
    finally:
        first.stop()
        second.stop()

    _, learned = reference(messages, core, datetime.now(UTC))
    final = prior_of(await read_checkpoints(settings))
    assert (final.sends, final.opens) == (learned.sends, learned.opens)
    assert written(first, "shutdown") + written(second, "shutdown") > 0


def written(worker: NudgeProcess, why: str) -> int:
    """Return the checkpoints ``worker`` logged it wrote for ``why``."""
    return sum(
        e["checkpoints"]
        for e in worker.log_entries()
        if e.get("message") == "model checkpoints written" and e.get("why") == why
    )
