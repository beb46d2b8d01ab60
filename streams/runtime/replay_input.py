"""What ``nudge triggers simulate`` reads: the definitions in force and the input, by time.

The input topics are read with a consumer of no group (it commits nothing and creates no
group) from a broker time to their end offsets as they were when it started; the
definitions as every worker reads them. The replay itself is pure
(``streams.core.replay``); this module only reads, and produces nothing.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.intake import FUTURE_TOLERANCE
from schemas.settings import Settings
from schemas.topics import DEAD_LETTER_TOPIC, TRIGGERS_DEFINITIONS, TopicSpec
from schemas.triggers import TriggerDefinition
from streams.core.rendering import default_catalogue
from streams.core.replay import CoreSetup, InputMessage, Simulation, TimerPolicy, Window, simulate
from streams.core.state.analytics import analytics_from
from streams.core.templates import Catalogues
from streams.core.triggers.catalogue import DefinitionError, templates_missing
from streams.core.triggers.overlay import DefinitionOverlay
from streams.runtime.definitions_feed import read_definitions, templates_in_force
from streams.runtime.kafka_admin import ensure_topics
from streams.runtime.policies import (
    behavior_policy,
    global_control_group,
    intervention_policy,
    send_policy,
    visit_policy,
)

#: The topics the worker reads events from: the replay reads the same.
INPUT_TOPICS: tuple[TopicSpec, ...] = tuple(DEAD_LETTER_TOPIC)
#: Most records one fetch returns.
FETCH_RECORDS = 10_000
#: Longest the reader waits with no record arriving before it gives up (seconds).
STALL_SECONDS = 30.0


async def simulate_files(
    settings: Settings, files: list[TriggerDefinition], window: Window
) -> tuple[Simulation, dict[str, float]]:
    """Read the live definitions and the inputs; replay them live and with ``files`` applied.

    Returns:
        The simulation, and how long reading and replaying took (``read_seconds``,
        ``replay_seconds``) with the replay's pace (``events_per_second``: events
        processed, both runs, per second).

    Raises:
        DefinitionError: ``files`` name a template that is not in force (nothing is read).
    """
    began = time.perf_counter()
    templates = (await templates_in_force(settings))[1]
    if missing := templates_missing(files, templates.triggers):
        raise DefinitionError([f"no template {item} (shipped or applied)" for item in missing])
    entries, live = await definitions_in_force(settings, templates)
    overlay = DefinitionOverlay.shipped_with(templates.triggers)
    published = [(d.id.encode(), d.model_dump_json(by_alias=True).encode()) for d in files]
    candidate = overlay.current([*entries.items(), *published])
    since = window.folded_from - FUTURE_TOLERANCE  # an event may be dated a little ahead
    messages = await read_inputs(settings, since)
    read = time.perf_counter()
    setup = core_setup(settings, entries, templates)
    simulation = await asyncio.to_thread(simulate, messages, live, candidate, setup, window)
    done = time.perf_counter()
    processed = simulation.live.events + simulation.candidate.events
    return simulation, {
        "read_seconds": round(read - began, 3),
        "replay_seconds": round(done - read, 3),
        "events_per_second": round(processed / max(done - read, 1e-9)),
    }


async def definitions_in_force(
    settings: Settings, templates: Catalogues | None = None
) -> tuple[dict[bytes, bytes], list[TriggerDefinition]]:
    """Return the definitions topic's entries and the trigger definitions they put in force.

    ``templates``: those in force (read from ``templates.definitions`` if ``None``).
    """
    if templates is None:
        templates = (await templates_in_force(settings))[1]
    await ensure_topics(settings, [TRIGGERS_DEFINITIONS])
    entries = await read_definitions(settings)
    overlay = DefinitionOverlay.shipped_with(templates.triggers)
    return entries, overlay.current(entries.items())


def core_setup(
    settings: Settings, entries: dict[bytes, bytes], templates: Catalogues | None = None
) -> CoreSetup:
    """Return what the worker with ``settings`` and the topics' entries passes the core.

    ``entries``: the definitions topic's; ``templates``: the message templates in force
    (the shipped ones if ``None``).
    """
    return CoreSetup(
        catalogue=default_catalogue() if templates is None else templates.triggers,
        intervention_templates=None if templates is None else templates.interventions,
        policy=send_policy(settings),
        interventions=intervention_policy(settings),
        analytics=analytics_from(
            entries, visit_policy(settings), global_control_group(settings)
        ).analytics,
        max_event_age_seconds=settings.max_event_age_seconds,
        timer=TimerPolicy(
            interval_seconds=settings.schedule_interval_seconds,
            behavior=behavior_policy(settings) if settings.behavior_change else None,
            segments_every_seconds=settings.segments_every_seconds,
        ),
    )


async def read_inputs(
    settings: Settings, since: datetime, specs: tuple[TopicSpec, ...] = INPUT_TOPICS
) -> list[InputMessage]:
    """Return the input topics' messages from broker time ``since`` to their ends as of now.

    A consumer without a group: it commits nothing and creates no group. Topics that do
    not exist are left out.

    Raises:
        TimeoutError: No record arrived for ``STALL_SECONDS`` while some were still due.
    """
    consumer = AIOKafkaConsumer(
        **settings.kafka_client_options(), group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        # The whole cluster's metadata, once (what ``consumer.topics()`` fetches; its
        # partitions are not kept for ``partitions_for_topic`` without a subscription).
        cluster = await consumer._client.fetch_all_metadata()
        names = [spec.full_name(settings.topic_prefix) for spec in specs]
        partitions = [
            TopicPartition(name, number)
            for name in names
            for number in sorted(cluster.partitions_for_topic(name) or ())
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.offsets_for_times(
            {tp: int(since.timestamp() * 1000) for tp in partitions}
        )
        due: dict[TopicPartition, int] = {}
        for tp in partitions:
            found = starts.get(tp)
            first = ends[tp] if found is None else found.offset
            if first < ends[tp]:
                consumer.seek(tp, first)
                due[tp] = ends[tp]
        return await _read_to_ends(consumer, due)
    finally:
        await consumer.stop()


async def _read_to_ends(
    consumer: AIOKafkaConsumer, due: dict[TopicPartition, int]
) -> list[InputMessage]:
    messages: list[InputMessage] = []
    last_progress = time.monotonic()
    while due:
        batch = await consumer.getmany(*due, timeout_ms=500, max_records=FETCH_RECORDS)
        for tp, records in batch.items():
            end = due.get(tp)
            if end is None:
                continue
            messages.extend(
                InputMessage(
                    topic=tp.topic,
                    partition=tp.partition,
                    offset=r.offset,
                    key=r.key,
                    value=r.value,
                    timestamp=datetime.fromtimestamp(r.timestamp / 1000, UTC),
                )  # fmt: skip
                for r in records
                if r.offset < end
            )
            last_progress = time.monotonic()
        for tp in list(due):
            if await consumer.position(tp) >= due[tp]:
                del due[tp]
        if due and time.monotonic() - last_progress > STALL_SECONDS:
            msg = f"no input arrived for {STALL_SECONDS:.0f} s before the end offsets"
            raise TimeoutError(msg)
    return messages
