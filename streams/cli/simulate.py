"""The work behind ``nudge triggers simulate``: a rule change replayed on retained history.

Reads the definitions in force from ``triggers.definitions`` (as ``list`` and ``diff``
do), overlays the files as ``apply`` would publish them, reads the input topics from the
broker by time (``offsets_for_times``) with a consumer of no group (nothing committed, no
group created) up to their end offsets as they were when it started, and replays them
twice through the pure core (``streams.core.replay``): live, then candidate. It produces
to no topic and touches no database.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.intake import FUTURE_TOLERANCE
from schemas.settings import Settings
from schemas.topics import DEAD_LETTER_TOPIC, TRIGGERS_DEFINITIONS, TopicSpec
from schemas.triggers import TriggerDefinition, parse_duration
from streams.core.rendering import default_catalogue
from streams.core.replay import (
    CoreSetup,
    InputMessage,
    Simulation,
    TimerPolicy,
    TriggerComparison,
    Window,
    simulate,
)
from streams.core.replay.comparison import STATE_NOTE
from streams.core.replay.replay import TriggerTally
from streams.core.state.analytics import analytics_from
from streams.core.triggers.catalogue import DefinitionError
from streams.core.triggers.overlay import DefinitionOverlay
from streams.runtime.definitions_feed import read_definitions
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


@dataclass(frozen=True, slots=True)
class Request:
    """What ``nudge triggers simulate`` was asked.

    Attributes:
        files: The candidate definition files.
        since: Start of the reported window: a duration before now (``7d``) or a time.
        until: Its end, the same way; ``None``: now.
        warmup: Older history folded first, not counted (a duration).
        examples: Users listed per list.
    """

    files: list[Path]
    since: str = "7d"
    until: str | None = None
    warmup: str = "0s"
    examples: int = 3


def run(settings: Settings, request: Request, *, as_json: bool = False) -> int:
    """Simulate the files' definitions against the live ones; print; return the exit status.

    2 when a file is invalid (nothing is read then), else 0.
    """
    from streams.cli.definitions import checked  # noqa: PLC0415 - one module, no cycle

    try:
        files = checked(request.files)
    except DefinitionError as error:
        print(error)
        return 2
    try:
        window = window_of(request, datetime.now(UTC))
    except ValueError as error:
        print(f"simulate: {error}")
        return 2
    simulation, timing = asyncio.run(simulate_files(settings, files, window))
    report = simulation.to_json(request.examples)
    if as_json:
        print(json.dumps({**report, "timing": timing}, indent=2))
    else:
        print(render(simulation, request.examples, timing))
    return 0


def window_of(request: Request, now: datetime) -> Window:
    """Return the window a request names, at ``now``.

    Raises:
        ValueError: A time or duration that cannot be read, or an empty window.
    """
    start = moment(request.since, now)
    end = moment(request.until, now) if request.until is not None else now
    if end <= start:
        msg = f"--until ({end.isoformat()}) is not after --since ({start.isoformat()})"
        raise ValueError(msg)
    return Window(start, end, parse_duration(request.warmup))


def moment(text: str, now: datetime) -> datetime:
    """Return ``text`` as a time: a duration before ``now`` (``7d``), or ISO-8601 (UTC if naive).

    Raises:
        ValueError: Neither.
    """
    try:
        return now - timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        msg = f"{text!r} is neither a duration (7d, 36h) nor an ISO-8601 time"
        raise ValueError(msg) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def simulate_files(
    settings: Settings, files: list[TriggerDefinition], window: Window
) -> tuple[Simulation, dict[str, float]]:
    """Read the live definitions and the inputs; replay them live and with ``files`` applied.

    Returns:
        The simulation, and how long reading and replaying took (``read_seconds``,
        ``replay_seconds``) with the replay's pace (``events_per_second``: events
        processed, both runs, per second).
    """
    began = time.perf_counter()
    await ensure_topics(settings, [TRIGGERS_DEFINITIONS])
    entries = await read_definitions(settings)
    overlay = DefinitionOverlay.shipped_with(default_catalogue())
    live = overlay.current(entries.items())
    published = [(d.id.encode(), d.model_dump_json(by_alias=True).encode()) for d in files]
    candidate = overlay.current([*entries.items(), *published])
    since = window.folded_from - FUTURE_TOLERANCE  # an event may be dated a little ahead
    messages = await read_inputs(settings, since)
    read = time.perf_counter()
    simulation = await asyncio.to_thread(
        simulate, messages, live, candidate, core_setup(settings, entries), window
    )
    done = time.perf_counter()
    processed = simulation.live.events + simulation.candidate.events
    return simulation, {
        "read_seconds": round(read - began, 3),
        "replay_seconds": round(done - read, 3),
        "events_per_second": round(processed / max(done - read, 1e-9)),
    }


def core_setup(settings: Settings, entries: dict[bytes, bytes]) -> CoreSetup:
    """Return what the worker with ``settings`` and the topic's ``entries`` passes the core."""
    return CoreSetup(
        catalogue=default_catalogue(),
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


def render(simulation: Simulation, examples: int, timing: dict[str, float]) -> str:
    """Return the report as text: the window, then each trigger that did anything."""
    window, history = simulation.window, simulation.history
    letters = sum(history.dead_letters.values())
    lines = [
        f"simulated {window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC"
        + (f" (warm-up from {window.folded_from:%Y-%m-%d %H:%M})" if window.warmup_seconds else ""),
        f"  {len(history.events) - history.warmup} events counted, {history.warmup} warm-up, "
        f"{history.outside} outside the window, {letters} dead letters skipped; "
        f"{timing['events_per_second']:.0f} events/s",
        f"  {STATE_NOTE}",
        f"  changed: {', '.join(simulation.changed) or 'nothing'}",
        "",
    ]
    same: list[str] = []
    for compared in simulation.triggers:
        if compared.changed or compared.differs:
            lines += _block(compared, examples)
        elif compared.live.fired_users or compared.live.suppressed:
            same.append(f"{compared.trigger_id} {len(compared.live.fired_users)}")
    if same:
        lines.append(f"the same under both (users fired): {', '.join(same)}")
    return "\n".join(lines)


def _block(compared: TriggerComparison, examples: int) -> list[str]:
    live, candidate = compared.live, compared.candidate
    mark = "*" if compared.changed else " "
    note = "changed" if compared.changed else "not changed, moved by the others"
    return [
        f"{mark} {compared.trigger_id} ({note})",
        f"    users       {len(live.fired_users)} -> {len(candidate.fired_users)}"
        f"   gained {_listed(compared.gained, examples)}   lost {_listed(compared.lost, examples)}",
        f"    firings     {live.firings} -> {candidate.firings}",
        f"    sends       {_pairs(live, candidate, 'sends')}",
        f"    suppressed  {_pairs(live, candidate, 'suppressed')}",
        "",
    ]


def _listed(users: list[str], examples: int) -> str:
    shown = ", ".join(users[:examples])
    more = f", +{len(users) - examples} more" if len(users) > examples else ""
    return f"{len(users)}" + (f" ({shown}{more})" if users and examples > 0 else "")


def _pairs(live: TriggerTally, candidate: TriggerTally, name: str) -> str:
    before: Any = getattr(live, name)
    after: Any = getattr(candidate, name)
    keys = sorted(before.keys() | after.keys())
    return ", ".join(f"{key} {before[key]} -> {after[key]}" for key in keys) or "none"
