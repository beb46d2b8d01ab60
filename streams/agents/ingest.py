"""The ingest stage: behaviour events in; decisions, commands and dead letters out.

The agent reads batches, so each user's state record is written to the changelog once
per batch rather than once per event (a changelog write costs about three times Faust's
whole per-event overhead). Batches are acknowledged only after every output and state
write of the batch is handed to the producer, and Faust flushes the producer before it
commits offsets: a crash replays the batch, and per-event dedup plus deterministic ids
make the replay harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import faust

from schemas.intake import Rejection, dead_letter, decode_event
from schemas.settings import Settings
from schemas.topics import (
    BEHAVIOR_EVENTS,
    BEHAVIOR_EVENTS_DLQ,
    COMMS_COMMANDS,
    COMMS_OUTCOMES,
    COMMS_OUTCOMES_DLQ,
    INTERVENTIONS_COMMANDS,
    RISK_SCORES,
    RISK_SCORES_DLQ,
    TRIGGER_DECISIONS,
)
from streams import metrics
from streams.decisions import Result, process
from streams.definition_source import DefinitionSource
from streams.definitions import default_definitions, templates_missing
from streams.definitions_feed import DefinitionsFeed
from streams.rendering import Catalogue, default_catalogue
from streams.risk import InterventionPolicy, intervention_catalogue
from streams.schedules import PartitionRead
from streams.state import UserState
from streams.suppression import SendPolicy

log = logging.getLogger(__name__)

#: Largest batch; bounds the latency one batch adds and the memory it holds.
BATCH_MAX_EVENTS = 1000
#: Longest wait to fill a batch: the most a quiet stream delays a command.
BATCH_WINDOW_SECONDS = 0.05


@dataclass(slots=True)
class IngestStage:
    """Everything one batch needs: the table, the output topics and the core's inputs."""

    table: Any
    feed: DefinitionsFeed
    """This worker's copy of ``triggers.definitions`` (every worker reads all of it)."""
    decisions: Any
    commands: Any
    interventions: Any
    dead_letters: dict[str, Any]
    """Input topic name -> its dead-letter topic."""
    definitions: DefinitionSource
    catalogue: Catalogue
    max_event_age_seconds: float
    policy: SendPolicy
    risk_policy: InterventionPolicy
    clock: Callable[[], datetime]
    keep_objects: bool
    """Memory store: keep live records, not bytes, between batches (no decode per batch)."""
    reads: dict[int, PartitionRead] = field(default_factory=dict)
    """Input partition -> what this worker has read from it since it started: the timer
    waits with time-based triggers while one of its partitions replays old events."""

    def handle(self, batch: Sequence[Any]) -> None:
        """Process one batch of Faust events (raw key and value bytes)."""
        now = self.clock()
        definitions = self.definitions.by_event_type(self.feed.items())
        dirty: dict[bytes, tuple[int, UserState]] = {}
        read: dict[int, datetime] = {}  # partition -> newest event of the batch
        for event in batch:
            message = event.message
            decoded, sanitised = decode_event(message.key, message.value, now=now)
            if sanitised.removed:
                metrics.FIELDS_SANITISED.labels("removed").inc(sanitised.removed)
            if sanitised.truncated:
                metrics.FIELDS_SANITISED.labels("truncated").inc(sanitised.truncated)
            if isinstance(decoded, Rejection):
                self._reject(decoded, message, now)
                continue
            newest = read.get(message.partition)
            if newest is None or decoded.occurred_at > newest:
                read[message.partition] = decoded.occurred_at
            key = decoded.user_id.encode()
            held = dirty.get(key)
            state = held[1] if held else self._load(key)
            result = process(
                state,
                decoded,
                definitions.get(decoded.type, ()),
                self.catalogue,
                now=now,
                max_event_age_seconds=self.max_event_age_seconds,
                policy=self.policy,
                interventions=self.risk_policy,
            )
            if result.applied:
                state.partition = message.partition  # where the timer writes it back
                dirty[key] = (message.partition, state)
            self._emit(key, decoded.type, result, now)
        for key, (partition, state) in dirty.items():
            self.store(key, partition, state)
        self._remember_reads(read, now)
        metrics.STATE_WRITES.inc(len(dirty))
        if self.keep_objects:  # len() is free for the memory store, a scan for RocksDB
            metrics.USERS_TRACKED.set(len(self.table.data))
        metrics.BATCH_SIZE.observe(len(batch))

    def _remember_reads(self, newest: dict[int, datetime], now: datetime) -> None:
        """Keep, per partition, the newest event read so far and when one was last read."""
        for partition, latest in newest.items():
            before = self.reads.get(partition)
            latest = max(latest, before.newest) if before else latest
            self.reads[partition] = PartitionRead(latest, now)

    def store(self, key: bytes, partition: int, state: UserState) -> None:
        """Keep a user's record in the table and write it to its changelog partition."""
        encoded = state.to_bytes()
        self.table.data[key] = state if self.keep_objects else encoded
        self.table.send_changelog(partition, key, encoded)

    def load(self, key: bytes) -> UserState | None:
        """Return a user's record, or ``None`` when the table has none."""
        stored = self.table.data.get(key)
        if stored is None:
            return None
        if isinstance(stored, UserState):
            return stored
        return UserState.from_bytes(stored)  # recovered from the changelog, or RocksDB

    def _load(self, key: bytes) -> UserState:
        return self.load(key) or UserState()

    def _emit(self, key: bytes, event_type: str, result: Result, now: datetime) -> None:
        if not result.applied:
            metrics.EVENTS_DUPLICATE.inc()
            return
        metrics.EVENTS_IN.labels(event_type).inc()
        if not result.evaluated:
            metrics.EVENTS_STALE.inc()
        if result.held:
            metrics.HELD_SENDS.inc(result.held)
        self.publish(key, result, now)

    def publish(
        self, key: bytes, result: Result, now: datetime, *, event_latency: bool = True
    ) -> None:
        """Hand a result's decisions and commands to the producer, counting them.

        ``event_latency``: observe event-to-command latency (not for the timer's output,
        whose delay is intended).
        """
        for decision in result.decisions:
            self.decisions.send_soon(key=key, value=decision.model_dump_json().encode())
            reason = decision.reason.value if decision.reason else ""
            metrics.DECISIONS.labels(decision.trigger_id, decision.outcome.value, reason).inc()
        for command in result.commands:
            self.commands.send_soon(key=key, value=command.model_dump_json().encode())
            metrics.COMMANDS.labels(command.trigger_id, command.channel.value).inc()
            if event_latency:
                latency = (now - command.created_at).total_seconds()
                metrics.DECISION_LATENCY.labels(command.trigger_id).observe(max(latency, 0.0))
        for intervention in result.interventions:
            self.interventions.send_soon(key=key, value=intervention.model_dump_json().encode())
            metrics.INTERVENTIONS.labels(
                intervention.intervention_type.value, intervention.risk_level
            ).inc()

    def _reject(self, rejection: Rejection, message: Any, now: datetime) -> None:
        letter = dead_letter(
            rejection,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            failed_at=now,
        )
        dead_letters = self.dead_letters[message.topic]
        dead_letters.send_soon(key=message.key, value=letter.model_dump_json().encode())
        metrics.EVENTS_INVALID.labels(message.topic, rejection.kind.value).inc()
        log.warning(
            "invalid event sent to the dead-letter topic",
            extra={"partition": message.partition, "offset": message.offset,
                   "kind": rejection.kind.value, "error": rejection.error},
        )  # fmt: skip


def register_ingest(
    app: faust.App, settings: Settings, clock: Callable[[], datetime]
) -> IngestStage:
    """Declare the ingest agent, its state table and output topics on ``app``."""
    catalogue = default_catalogue()
    missing = templates_missing(default_definitions(), catalogue)
    if missing:
        msg = f"trigger definitions name missing templates: {', '.join(missing)}"
        raise ValueError(msg)
    intervention_catalogue()  # raises at start-up if an intervention template is missing
    prefix = settings.topic_prefix
    # Risk scores and outcomes share the envelope and the user key: one agent keeps one
    # state per user, so a risk decision sees the user's payments and consent.
    inputs = {
        BEHAVIOR_EVENTS: BEHAVIOR_EVENTS_DLQ,
        RISK_SCORES: RISK_SCORES_DLQ,
        COMMS_OUTCOMES: COMMS_OUTCOMES_DLQ,
    }
    source = app.topic(*(spec.full_name(prefix) for spec in inputs), partitions=settings.partitions)
    # Raw bytes on the changelog: the record serialises itself (UserState.to_bytes).
    table = app.Table(
        "user_state", partitions=settings.partitions, key_type=bytes, value_type=bytes
    )
    feed = DefinitionsFeed(settings)
    app.task(feed.run)
    stage = IngestStage(
        table=table,
        feed=feed,
        decisions=app.topic(TRIGGER_DECISIONS.full_name(prefix)),
        commands=app.topic(COMMS_COMMANDS.full_name(prefix)),
        interventions=app.topic(INTERVENTIONS_COMMANDS.full_name(prefix)),
        dead_letters={
            spec.full_name(prefix): app.topic(dlq.full_name(prefix)) for spec, dlq in inputs.items()
        },
        definitions=DefinitionSource.shipped_with(catalogue),
        catalogue=catalogue,
        max_event_age_seconds=settings.max_event_age_seconds,
        policy=SendPolicy(
            cap_per_channel_day=settings.cap_per_channel_day,
            cap_per_channel_week=settings.cap_per_channel_week,
            quiet_start=settings.quiet_hours_start,
            quiet_end=settings.quiet_hours_end,
        ),
        risk_policy=intervention_policy(settings),
        clock=clock,
        keep_objects=settings.store.startswith("memory"),
    )

    async def ingest(stream: Any) -> None:  # faust.Stream; StreamT lacks take_events
        async for batch in stream.take_events(BATCH_MAX_EVENTS, within=BATCH_WINDOW_SECONDS):
            # A paused trigger must not fire while the definitions load. Wait here, not
            # before iterating: Faust does not resume a stream after recovery whose agent
            # has not started iterating it yet. Nothing in the batch is acked until handled.
            await feed.ready.wait()
            stage.handle(batch)

    app.agent(source, name="nudge.ingest")(ingest)
    return stage


def intervention_policy(settings: Settings) -> InterventionPolicy:
    """Return the risk-intervention thresholds the settings give."""
    return InterventionPolicy(
        critical=settings.risk_critical,
        high=settings.risk_high,
        medium=settings.risk_medium,
        low=settings.risk_low,
        trend_high=settings.risk_high,
        trend_change=settings.risk_trend_change,
        jump=settings.risk_trend_jump,
        cooloff=timedelta(days=settings.risk_cooloff_days),
        missed_payment_window=timedelta(days=settings.risk_missed_payment_days),
    )
