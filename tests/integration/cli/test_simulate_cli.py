"""``nudge triggers simulate`` against the real broker: a known history published, the
report equal to the direct replay of the same events, and nothing written anywhere."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.settings import Settings
from schemas.topics import ALL_TOPICS, BEHAVIOR_EVENTS, TRIGGERS_DEFINITIONS
from schemas.triggers import TriggerDefinition
from streams.cli.definitions import publish as publish_definitions
from streams.cli.main import main
from streams.runtime.replay_input import core_setup
from tests.integration.harness import publish
from tests.paths import CATALOGUE_FILE
from tests.unit.core.replay.history_fixture import (
    MODERATE,
    WINDOW,
    Direct,
    direct_replay,
    history_messages,
    live_definitions,
)

pytestmark = pytest.mark.integration


def shadowed_large_transaction() -> TriggerDefinition:
    """The live change already on the topic: ``large_transaction`` in shadow."""
    [large] = [d for d in live_definitions() if d.id == "large_transaction"]
    return large.model_copy(update={"status": "shadow"})


def candidate_file(tmp_path: Path) -> Path:
    """The operator's file: ``spending_spike`` with ``spike_percent`` 20 -> 5."""
    documents = yaml.safe_load(CATALOGUE_FILE.read_text("utf-8"))
    spike = next(d for d in documents if d["id"] == "spending_spike")
    spike["thresholds"]["spike_percent"] = 5
    path = tmp_path / "lower_spike.yaml"
    path.write_text(yaml.safe_dump([spike]), "utf-8")
    return path


def expected(direct: Direct, trigger_id: str) -> dict[str, Any]:
    """The report's entry for one run of one trigger, from the direct replay."""
    return {
        "users": len({u for t, u in direct.fired if t == trigger_id}),
        "firings": direct.firings[trigger_id],
        "sends": {c: n for (t, c), n in sorted(direct.sends.items()) if t == trigger_id},
        "suppressed": {r: n for (t, r), n in sorted(direct.suppressed.items()) if t == trigger_id},
    }


def users(direct: Direct, trigger_id: str) -> set[str]:
    return {u for t, u in direct.fired if t == trigger_id}


async def groups_and_ends(settings: Settings) -> tuple[set[str], dict[str, int]]:
    """The broker's consumer groups, and how many messages each of our topics holds."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        groups = {group for group, _ in await admin.list_consumer_groups()}
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        ends: dict[str, int] = {}
        for spec in ALL_TOPICS:
            name = spec.full_name(settings.topic_prefix)
            found = cluster.partitions_for_topic(name) or set()
            assert found, f"{name} was created by the publishing"
            offsets = await consumer.end_offsets([TopicPartition(name, p) for p in found])
            ends[spec.name] = sum(offsets.values())
    finally:
        await consumer.stop()
    return groups, ends


def test_simulate_reports_what_a_direct_replay_gives_and_writes_nothing(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Ten-minute ticks keep the direct replay quick; quiet hours hold and release sends.
    settings = make_settings(
        schedule_interval_seconds=600.0, quiet_hours_start=21, quiet_hours_end=8
    )
    messages = history_messages()
    asyncio.run(publish(settings, BEHAVIOR_EVENTS, [(m.key, m.value or b"") for m in messages]))
    shadow = shadowed_large_transaction()
    asyncio.run(publish_definitions(settings, [shadow]))
    groups_before, ends_before = asyncio.run(groups_and_ends(settings))

    for name, value in {
        "NUDGE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "NUDGE_TOPIC_PREFIX": settings.topic_prefix,
        "NUDGE_SCHEDULE_INTERVAL_SECONDS": "600",
        "NUDGE_QUIET_HOURS_START": "21",
        "NUDGE_QUIET_HOURS_END": "8",
        # As the direct replay's settings (the history carries no consent events).
        "NUDGE_CATEGORY_CONSENT": settings.category_consent,
        # Nothing may be read from it: an address that cannot answer.
        "NUDGE_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none",
    }.items():
        monkeypatch.setenv(name, value)
    status = main([
        "triggers", "simulate", str(candidate_file(tmp_path)),
        "--since", WINDOW.start.isoformat(), "--until", WINDOW.end.isoformat(),
        "--warmup", "28d", "--json", "--examples", "1000",
    ])  # fmt: skip
    assert status == 0
    report = json.loads(capsys.readouterr().out)

    live = [shadow if d.id == shadow.id else d for d in live_definitions()]
    candidate = [
        d.model_copy(update={"thresholds": {**d.thresholds, "spike_percent": 5.0}})
        if d.id == "spending_spike"
        else d
        for d in live
    ]
    entries = {shadow.id.encode(): shadow.model_dump_json(by_alias=True).encode()}
    setup = core_setup(settings, entries)
    direct_live = direct_replay(messages, live, setup, WINDOW)
    direct_candidate = direct_replay(messages, candidate, setup, WINDOW)

    assert report["changed"] == ["spending_spike"]
    assert report["input"]["messages"] == len(messages)
    assert sum(report["input"]["dead_letters"].values()) == 5
    assert set(report["triggers"]) == {d.id for d in live}
    for trigger_id, entry in report["triggers"].items():
        assert entry["live"] == expected(direct_live, trigger_id), trigger_id
        assert entry["candidate"] == expected(direct_candidate, trigger_id), trigger_id
        before, after = users(direct_live, trigger_id), users(direct_candidate, trigger_id)
        assert entry["gained_examples"] == sorted(after - before), trigger_id
        assert entry["lost_examples"] == sorted(before - after), trigger_id
    spike = report["triggers"]["spending_spike"]
    assert set(MODERATE) <= set(spike["gained_examples"])
    # The shadow on the topic was read: large_transaction records shadow decisions only.
    large = report["triggers"]["large_transaction"]
    assert large["live"]["users"] == 0 and large["live"]["suppressed"]["shadow"] > 0

    groups_after, ends_after = asyncio.run(groups_and_ends(settings))
    assert ends_after == ends_before  # produced to no topic, ours or the outputs
    assert all(n == 0 for name, n in ends_after.items() if name not in {
        BEHAVIOR_EVENTS.name, TRIGGERS_DEFINITIONS.name})  # fmt: skip
    new_groups = groups_after - groups_before
    assert not {g for g in new_groups if settings.app_id in g or settings.topic_prefix in g}
    assert asyncio.run(committed_to_our_topics(settings, new_groups)) == set()


async def committed_to_our_topics(settings: Settings, groups: set[str]) -> set[str]:
    """Return the groups among ``groups`` that committed an offset on one of our topics."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        ours = set()
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group)
            if any(tp.topic.startswith(settings.topic_prefix) for tp in offsets):
                ours.add(group)
        return ours
    finally:
        await admin.close()
