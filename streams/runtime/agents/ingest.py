"""The ingest stage: behaviour events in; decisions, commands and dead letters out.

The agent reads batches, so each user's state record is written to the changelog once
per batch rather than once per event (a changelog write costs about three times Faust's
whole per-event overhead). Batches are acknowledged only after every output and state
write of the batch is handed to the producer, and Faust flushes the producer before it
commits offsets: a crash replays the batch, and per-event dedup plus deterministic ids
make the replay harmless.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import faust

from schemas.intake import DEAD_LETTER_KEY_BYTES, Rejection, dead_letter, decode_input
from schemas.privacy import ErasureRequest
from schemas.records import RejectionKind
from schemas.settings import Settings
from schemas.topics import (
    ALERTS_PROFILES,
    ALERTS_RECOMMENDATIONS,
    COMMS_COMMANDS,
    DEAD_LETTER_TOPIC,
    EXPERIMENTS_ASSIGNMENTS,
    EXPERIMENTS_CONVERSIONS,
    FUNNELS_STEPS,
    INTERVENTIONS_COMMANDS,
    MODELS_CHECKPOINTS,
    SEGMENTS_CHANGES,
    TEMPLATES_DEFINITIONS,
    TRIGGER_DECISIONS,
    USERS_ANALYTICS,
)
from schemas.triggers import TriggerDefinition
from streams.core.behavior.change import BehaviorPolicy
from streams.core.decisions.due_index import DueIndex
from streams.core.decisions.process import process
from streams.core.decisions.result import Result
from streams.core.decisions.send_policy import SendPolicy
from streams.core.rendering import Catalogue, default_catalogue
from streams.core.risk.messages import intervention_catalogue
from streams.core.risk.policy import InterventionPolicy
from streams.core.state.analytics import (
    EXPERIMENT_PREFIX,
    FUNNEL_PREFIX,
    PATTERNS_KEY,
    PEERS_KEY,
    PERSONALIZATION_KEY,
    SCORES_KEY,
    SEGMENT_PREFIX,
    Analytics,
    analytics_from,
)
from streams.core.state.record import UserState
from streams.core.templates import TemplateOverlay
from streams.core.triggers.catalogue import default_definitions, templates_missing
from streams.core.triggers.due import PartitionRead
from streams.core.triggers.overlay import DefinitionOverlay
from streams.runtime import fetch_batches, metrics
from streams.runtime.definitions_feed import DefinitionsFeed
from streams.runtime.drift_watch import DriftWatch
from streams.runtime.failstop import fail_stop, withhold
from streams.runtime.health import Progress
from streams.runtime.model_checkpoints import ModelCheckpoints, global_models
from streams.runtime.model_feed import ModelFeed, ServedModel
from streams.runtime.outbox import BufferedOutbox, DirectOutbox, Outbox
from streams.runtime.policies import (
    behavior_policy,
    global_control_group,
    intervention_policy,
    send_policy,
    visit_policy,
)
from streams.runtime.user_table import UserTable, user_table

log = logging.getLogger(__name__)

#: Keys of the definitions topic whose entries are one definition each (segments...).
_LISTED = (SEGMENT_PREFIX, EXPERIMENT_PREFIX, FUNNEL_PREFIX)
#: Largest batch; bounds the latency one batch adds and the memory it holds.
BATCH_MAX_EVENTS = 1000
#: Longest wait to fill a batch: the most a quiet stream delays a command.
BATCH_WINDOW_SECONDS = 0.05

#: An output to send: the Faust topic, the Kafka key and the value (``None``: a tombstone).
Output = tuple[Any, bytes | None, bytes | None]
#: Records a batch changed: user key -> (changelog partition, record).
Dirty = dict[bytes, tuple[int, UserState]]


@dataclass(slots=True)
class IngestStage:
    """Everything one batch needs: the table, the output topics and the core's inputs."""

    users: UserTable
    """The ``user_state`` table, written per partition for the configured store."""
    feed: DefinitionsFeed
    """This worker's copy of ``triggers.definitions`` (every worker reads all of it)."""
    decisions: Any
    commands: Any
    interventions: Any
    segment_changes: Any
    """``segments.changes``: each user's joins and leaves of live segments."""
    user_analytics: Any
    """``users.analytics``: each user's scores, pattern and segments, when due."""
    assignments: Any
    """``experiments.assignments``: each user's arm, at their first exposure."""
    conversions: Any
    """``experiments.conversions``: conversions credited to arms."""
    funnel_steps: Any
    """``funnels.steps``: funnel steps reached, completions and drops."""
    alert_profiles: Any
    """``alerts.profiles``: users' recommender features, when they change materially."""
    recommendations: Any
    """``alerts.recommendations``: alerts recommended by the model in force."""
    dead_letters: dict[str, Any]
    """Input topic name -> its dead-letter topic."""
    definitions: DefinitionOverlay
    catalogue: Catalogue
    """The trigger messages in force (``current_catalogue``)."""
    max_event_age_seconds: float
    policy: SendPolicy
    risk_policy: InterventionPolicy
    clock: Callable[[], datetime]
    analytics: Analytics = field(default_factory=Analytics)
    """How visits are cut, scores weighed and users labelled with a pattern: the shipped
    weights and rules, or those applied on the definitions topic (``current_analytics``)."""
    _analytics_source: tuple[Any, ...] = (None, None, None, None, ())
    """The topic's scores, patterns, personalization, peers, segment, experiment and
    funnel entries ``analytics`` was built from."""
    behavior_policy: BehaviorPolicy = field(default_factory=BehaviorPolicy)
    """Behaviour-change thresholds: the timer judges each user's last complete week."""
    outbox: Outbox = field(default_factory=BufferedOutbox)
    """Where outputs and changelog records go on their way to the producer; the table
    writes its changelog through the same one."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held by a batch, and by a timer slice, from loading users to writing them."""
    progress: Progress = field(default_factory=Progress)
    """When batches and timer passes last finished, and lag: what ``/healthz`` judges."""
    reads: dict[int, PartitionRead] = field(default_factory=dict)
    """Input partition -> what this worker has read from it since it started: the timer
    waits with time-based triggers while one of its partitions replays old events."""
    models: ModelFeed | None = None
    """The models in force (``models.active``); ``None``: this stage serves none."""
    learning: ModelCheckpoints | None = None
    """The global online models (``models.checkpoints``): they learn from every applied
    result, and the send-time prior they serve is ``policy``'s; ``None``: none."""
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the definitions, the models promoted and the model checkpoints written
    before the start are in force: the first batch waits for it."""
    due_index: DueIndex = field(default_factory=DueIndex)
    """Users with a held command, by when it falls due: every record stored is noted, so
    the timer loads only the users whose send has come (``streams.runtime.agents.timer``)."""
    drift: DriftWatch = field(default_factory=DriftWatch)
    """The drift detectors on firing rates and anomaly scores (``streams.runtime.drift_watch``)."""
    templates_feed: DefinitionsFeed | None = None
    """This worker's copy of ``templates.definitions``; ``None``: the shipped ones only."""
    templates: TemplateOverlay | None = None
    """The shipped templates overlaid by ``templates_feed``: ``catalogue`` and
    ``intervention_templates`` follow it."""
    intervention_templates: Catalogue | None = None
    """The intervention messages in force; ``None``: the shipped ones."""

    def current_catalogue(self) -> Catalogue:
        """Return the trigger messages in force: the newest version of each (``templates``).

        The intervention messages in force follow too (``intervention_templates``). When
        the trigger messages change, the trigger definitions from the topic are checked
        again against them (one may name a template applied since).
        """
        if self.templates is None or self.templates_feed is None:
            return self.catalogue
        catalogues = self.templates.catalogues(self.templates_feed.items())
        self.intervention_templates = catalogues.interventions
        if catalogues.triggers is not self.catalogue:
            self.catalogue = catalogues.triggers
            self.definitions.use_templates(self.catalogue.known_pairs())
        return self.catalogue

    def current_policy(self) -> SendPolicy:
        """Return the send policy in force: with the send-time prior the checkpoints serve."""
        learning = self.learning
        if learning is not None and learning.hour_prior is not self.policy.hour_prior:
            self.policy = replace(self.policy, hour_prior=learning.hour_prior)
        return self.policy

    def learned(self, partition: int, result: Result) -> None:
        """Teach the global online models what an applied result of ``partition`` led to."""
        if self.learning is not None:
            self.learning.learn(partition, result)

    def current_analytics(self) -> Analytics:
        """Return the analytics in force: rebuilt when their topic entries change.

        An entry that fails validation is refused (logged with the reasons); the shipped
        weights or rules stay in force for it.
        """
        entries = self.feed.entries
        listed = tuple(sorted((k, v) for k, v in entries.items() if k.startswith(_LISTED)))
        source = (
            entries.get(SCORES_KEY), entries.get(PATTERNS_KEY),
            entries.get(PERSONALIZATION_KEY), entries.get(PEERS_KEY), listed,
        )  # fmt: skip
        if source != self._analytics_source:
            # The settings' parts (visits, the global control group) are kept as they are.
            settings = self.analytics
            applied = analytics_from(entries, settings.visits, settings.experiments.global_control)
            for key, problems in applied.refused.items():
                log.warning("analytics data refused", extra={"key": key, "problems": problems})
            self.analytics = applied.analytics
            self._analytics_source = source
            log.info("analytics data in force", extra={"refused": sorted(applied.refused)})
        return self.analytics

    async def run_batch(self, batch: Sequence[Any]) -> None:
        """Process one batch of Faust messages: outputs durable first, then the records.

        A record written to the changelog before the commands it decided would, after a
        crash, mark their events as seen: the replayed events would be dropped as
        duplicates and the commands never sent. So the batch's outputs are flushed to
        the broker before its records are written (dead letters need not be: they change
        no record, and Faust flushes before it commits offsets). The lock keeps the timer
        from interleaving its own load-decide-write of the same users.
        """
        async with self.lock:
            dirty, decided = self.process_batch(batch)
            if decided:
                await self.outbox.deliver()
            self.store_all(dirty)
            await self.outbox.hand_over()  # dead letters and records, in that order
        metrics.BATCH_SIZE.observe(len(batch))

    def handle(self, batch: Sequence[Any]) -> None:
        """Process one batch and write its records at once (no flush between: for tests)."""
        dirty, _ = self.process_batch(batch)
        self.store_all(dirty)

    def process_batch(self, batch: Sequence[Any]) -> tuple[Dirty, bool]:
        """Process a batch of Faust messages (raw key and value bytes); queue its outputs.

        Total intake: every message ends processed or dead-lettered. A message the intake
        refuses is a dead letter with the reason; a valid one whose processing raises (a
        bug) is a ``processing_error`` dead letter, its user's record stays as it was
        before it, and the rest of the batch goes on. Only a failure to hand outputs to
        the producer escapes (see ``ingest``'s fail-stop).

        Returns:
            The records to write, by key, and whether any decision, command or
            intervention was sent.
        """
        now = self.clock()
        self.current_catalogue()  # before the definitions: they are checked against it
        definitions = self.definitions.by_event_type(self.feed.items())
        self.current_analytics()  # the weights and rules this batch is processed with
        self.current_policy()  # and the send-time prior
        dirty: Dirty = {}
        read: dict[int, datetime] = {}  # partition -> newest event of the batch
        outbox: list[Output] = []  # sent after the loop: a send failure is not the event's
        letters = {id(topic) for topic in self.dead_letters.values()}
        for message in batch:
            if message.partition not in self.reads and message.partition not in read:
                # First of this partition since it was assigned (rare, and worth knowing
                # when a restart is questioned: where did reading resume?).
                log.info(
                    "reading a partition",
                    extra={"topic": message.topic, "partition": message.partition,
                           "offset": message.offset},
                )  # fmt: skip
            try:
                outbox.extend(self._handle_one(message, definitions, dirty, read, now))
            except Exception as error:  # noqa: BLE001 - a bug in one event must not take the batch
                outbox.append(self._failed(error, message, now))
        for topic, key, value in outbox:
            self.outbox.send(topic, key, value)
        self._remember_reads(read, now)
        return dirty, any(id(topic) not in letters for topic, _, _ in outbox)

    @property
    def alert_model(self) -> ServedModel | None:
        """The alert recommender in force, if any."""
        return self.models.current if self.models is not None else None

    def store_all(self, dirty: Dirty) -> None:
        """Write the records a batch changed, each once, to the table and its changelog."""
        for key, (partition, state) in dirty.items():
            self.store(key, partition, state)
        metrics.STATE_WRITES.inc(len(dirty))
        users = self.users.count()
        if users is not None:  # free for the memory store; the timer counts RocksDB's
            metrics.USERS_TRACKED.set(users)

    def _handle_one(
        self,
        message: Any,
        definitions: Mapping[str, list[TriggerDefinition]],
        dirty: Dirty,
        read: dict[int, datetime],
        now: datetime,
    ) -> list[Output]:
        """Process one message; return its outputs (or its dead letter) to send."""
        decoded, sanitised = decode_input(message.key, message.value, now=now)
        if sanitised.removed:
            metrics.FIELDS_SANITISED.labels("removed").inc(sanitised.removed)
        if sanitised.truncated:
            metrics.FIELDS_SANITISED.labels("truncated").inc(sanitised.truncated)
        if sanitised.replaced:
            metrics.FIELDS_SANITISED.labels("replaced").inc(sanitised.replaced)
        if isinstance(decoded, Rejection):
            return [self._reject(decoded, message, now)]
        if isinstance(decoded, ErasureRequest):
            return self._erase(decoded, message.partition, dirty)
        key = decoded.user_id.encode()
        held = dirty.get(key)
        state = held[1] if held else self._load(key, message.partition)
        # The record as it was, to put back should processing this event raise. For the
        # memory store the table holds the live object, which ``process`` changes in place.
        before = state.snapshot()
        try:
            result = process(
                state,
                decoded,
                definitions.get(decoded.type, ()),
                self.catalogue,
                now=now,
                max_event_age_seconds=self.max_event_age_seconds,
                policy=self.policy,
                interventions=self.risk_policy,
                intervention_templates=self.intervention_templates,
                analytics=self.analytics,
                alert_model=self.alert_model,
            )
            outputs = self._outputs(key, result, now) if result.applied else []
        except Exception:
            self._restore(key, before, held is not None, dirty)
            raise
        newest = read.get(message.partition)
        if newest is None or decoded.occurred_at > newest:
            read[message.partition] = decoded.occurred_at
        if result.applied:
            state.partition = message.partition  # where the timer writes it back
            dirty[key] = (message.partition, state)
            self.learned(message.partition, result)
        self._count(decoded.type, result)
        self.drift.watch(result)
        return [(topic, key, value) for topic, value in outputs]

    def _erase(self, request: ErasureRequest, partition: int, dirty: Dirty) -> list[Output]:
        """Forget a user at once: record, held sends, due-index entry; no output but tombstones.

        The record is deleted now, not at the end of the batch, so a later event of the
        user in this batch starts a fresh record (written after the tombstone). What an
        earlier event of this batch changed goes too; its outputs still go out (they
        happened; ``nudge users forget`` deletes their rows after the worker is past the
        request). Nothing personal is emitted: a tombstone for the user's key on the
        compacted ``alerts.profiles``, whose latest profile Kafka would otherwise keep
        forever. The log says that a record was erased, never whose.
        """
        key = request.user_id.encode()
        dirty.pop(key, None)
        self.users.delete(key, partition)
        self.due_index.set_due(key, partition, None)  # its held sends are gone with it
        metrics.ERASURES.inc()
        log.info("a user's record was erased", extra={"partition": partition})
        return [(self.alert_profiles, key, None)]

    def _restore(self, key: bytes, before: bytes, was_dirty: bool, dirty: Dirty) -> None:
        """Put a user's record back as it was before an event whose processing raised."""
        restored = UserState.from_snapshot(before)
        if was_dirty:
            dirty[key] = (dirty[key][0], restored)
        else:
            self.users.put_back(key, restored)

    def _failed(self, error: Exception, message: Any, now: datetime) -> Output:
        """Dead-letter a message whose processing raised: type and place, never values."""
        frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
        where = f" at {Path(frame.filename).name}:{frame.lineno} in {frame.name}" if frame else ""
        rejection = Rejection(
            RejectionKind.PROCESSING_ERROR, f"processing raised {type(error).__name__}{where}"
        )
        metrics.PROCESSING_ERRORS.labels(message.topic).inc()
        log.error(
            "processing an event raised; it is dead-lettered and its batch goes on",
            extra={"topic": message.topic, "partition": message.partition,
                   "offset": message.offset, "error": rejection.error},
        )  # fmt: skip
        return self._reject(rejection, message, now, count_invalid=False)

    def _remember_reads(self, newest: dict[int, datetime], now: datetime) -> None:
        """Keep, per partition, the newest event read so far and when one was last read."""
        for partition, latest in newest.items():
            before = self.reads.get(partition)
            latest = max(latest, before.newest) if before else latest
            self.reads[partition] = PartitionRead(latest, now)

    def store(self, key: bytes, partition: int, state: UserState) -> None:
        """Keep a user's record in the table, write it to its changelog partition, index it."""
        self.users.put(key, partition, state)
        self.due_index.note(key, partition, state)

    def load(self, key: bytes, partition: int | None = None) -> UserState | None:
        """Return a user's record, or ``None``; ``partition``: its input partition, if known."""
        return self.users.get(key, partition)

    def _load(self, key: bytes, partition: int | None = None) -> UserState:
        return self.load(key, partition) or UserState()

    def _count(self, event_type: str, result: Result) -> None:
        if not result.applied:
            metrics.EVENTS_DUPLICATE.inc()
            return
        metrics.EVENTS_IN.labels(event_type).inc()
        if not result.evaluated:
            metrics.EVENTS_STALE.inc()
        if result.held:
            metrics.HELD_SENDS.inc(result.held)

    def publish(
        self, key: bytes, result: Result, now: datetime, *, event_latency: bool = True
    ) -> None:
        """Hand a result's decisions and commands to the producer, counting them.

        ``event_latency``: observe event-to-command latency (not for the timer's output,
        whose delay is intended).
        """
        for topic, value in self._outputs(key, result, now, event_latency=event_latency):
            self.outbox.send(topic, key, value)

    def _outputs(
        self, key: bytes, result: Result, now: datetime, *, event_latency: bool = True
    ) -> list[tuple[Any, bytes]]:
        """Serialise a result's outputs as ``(topic, value)`` pairs, counting them.

        Everything is serialised before anything is sent, so an output that cannot be
        serialised leaves none of its event's outputs half sent.
        """
        messages: list[tuple[Any, Any]] = [
            *((self.decisions, decision) for decision in result.decisions),
            *((self.commands, command) for command in result.commands),
            *((self.interventions, intervention) for intervention in result.interventions),
            *((self.segment_changes, change) for change in result.segment_changes),
            *((self.assignments, assigned) for assigned in result.assignments),
            *((self.conversions, converted) for converted in result.conversions),
            *((self.funnel_steps, step) for step in result.funnel_steps),
            *((self.recommendations, each) for each in result.recommendations),
        ]
        if result.alert_profile is not None:
            messages.append((self.alert_profiles, result.alert_profile))
        if result.analytics is not None:
            messages.append((self.user_analytics, result.analytics))
        outputs = [(topic, model.model_dump_json().encode()) for topic, model in messages]
        _count_outputs(result, now, event_latency=event_latency)
        return outputs

    def _reject(
        self, rejection: Rejection, message: Any, now: datetime, *, count_invalid: bool = True
    ) -> Output:
        """Return the dead letter of ``message`` to send, counting and logging it."""
        letter = dead_letter(
            rejection,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            failed_at=now,
        )
        # Keyed like the input (bounded: a huge key must not make the letter too large).
        key = None if message.key is None else message.key[:DEAD_LETTER_KEY_BYTES]
        if count_invalid:
            metrics.EVENTS_INVALID.labels(message.topic, rejection.kind.value).inc()
            log.warning(
                "invalid event sent to the dead-letter topic",
                extra={"partition": message.partition, "offset": message.offset,
                       "kind": rejection.kind.value, "error": rejection.error},
            )  # fmt: skip
        return self.dead_letters[message.topic], key, letter.model_dump_json().encode()


def register_ingest(
    app: faust.App, settings: Settings, clock: Callable[[], datetime]
) -> IngestStage:
    """Declare the ingest stage, its state table and output topics on ``app``.

    Input arrives as whole fetches (``streams.runtime.fetch_batches``) or, with
    ``NUDGE_INGEST_PATH=stream``, through a Faust agent.
    """
    inputs = [spec.full_name(settings.topic_prefix) for spec in DEAD_LETTER_TOPIC]
    fetched = None
    if settings.ingest_path == "fetch":
        fetched = fetch_batches.install(app, frozenset(inputs), BATCH_MAX_EVENTS)
    stage = _build_stage(app, settings, clock, _checked_catalogue())
    for name in stage.dead_letters:  # born at zero, so dashboards and alerts see them
        metrics.PROCESSING_ERRORS.labels(name)
    stage.learning = _learning(app, settings, stage)
    app.task(_follow_definitions(stage))
    source = app.topic(*inputs, partitions=settings.partitions)
    if fetched is None:
        app.agent(source, name="nudge.ingest")(_ingest_agent(app, stage))
    else:
        app.topics.add(source)  # subscribed like an agent's topic; the feed delivers it
        loop = fetch_batches.ingest_loop(
            app, fetched, stage.run_batch, stage.ready, stage.progress.batch_done
        )
        app.task(loop)
    return stage


def _checked_catalogue() -> Catalogue:
    """Return the message templates, refusing to start if a definition names a missing one."""
    catalogue = default_catalogue()
    missing = templates_missing(default_definitions(), catalogue)
    if missing:
        msg = f"trigger definitions name missing templates: {', '.join(missing)}"
        raise ValueError(msg)
    intervention_catalogue()  # raises at start-up if an intervention template is missing
    return catalogue


def _build_stage(
    app: faust.App, settings: Settings, clock: Callable[[], datetime], catalogue: Catalogue
) -> IngestStage:
    prefix = settings.topic_prefix
    # Risk scores and outcomes share the envelope and the user key: one agent keeps one
    # state per user, so a risk decision sees the user's payments and consent.
    # Raw bytes on the changelog: the record serialises itself (UserState.to_bytes).
    table = app.Table(
        "user_state", partitions=settings.partitions, key_type=bytes, value_type=bytes
    )
    outbox = producer_outbox(app, settings)
    return IngestStage(
        users=user_table(table, settings.store, outbox),
        feed=DefinitionsFeed(settings),
        decisions=app.topic(TRIGGER_DECISIONS.full_name(prefix)),
        commands=app.topic(COMMS_COMMANDS.full_name(prefix)),
        interventions=app.topic(INTERVENTIONS_COMMANDS.full_name(prefix)),
        segment_changes=app.topic(SEGMENTS_CHANGES.full_name(prefix)),
        user_analytics=app.topic(USERS_ANALYTICS.full_name(prefix)),
        assignments=app.topic(EXPERIMENTS_ASSIGNMENTS.full_name(prefix)),
        conversions=app.topic(EXPERIMENTS_CONVERSIONS.full_name(prefix)),
        funnel_steps=app.topic(FUNNELS_STEPS.full_name(prefix)),
        alert_profiles=app.topic(ALERTS_PROFILES.full_name(prefix)),
        recommendations=app.topic(ALERTS_RECOMMENDATIONS.full_name(prefix)),
        models=ModelFeed(settings),
        templates_feed=DefinitionsFeed(
            settings, TEMPLATES_DEFINITIONS, noun="message template", key_name="template"
        ),
        templates=TemplateOverlay(catalogue, on_refused=metrics.TEMPLATES_REFUSED.set),
        dead_letters={
            spec.full_name(prefix): app.topic(dlq.full_name(prefix))
            for spec, dlq in DEAD_LETTER_TOPIC.items()
        },
        definitions=DefinitionOverlay.shipped_with(
            catalogue, on_refused=metrics.DEFINITIONS_REFUSED.set
        ),
        catalogue=catalogue,
        max_event_age_seconds=settings.max_event_age_seconds,
        policy=send_policy(settings),
        risk_policy=intervention_policy(settings),
        behavior_policy=behavior_policy(settings),
        analytics=analytics_from(
            {}, visit_policy(settings), global_control_group(settings)
        ).analytics,
        clock=clock,
        outbox=outbox,
        drift=DriftWatch(settings.drift_bucket_events),
    )


def _learning(app: faust.App, settings: Settings, stage: IngestStage) -> ModelCheckpoints:
    """Return the global online models, written with the app's producer under the stage's lock."""
    topic = MODELS_CHECKPOINTS.full_name(settings.topic_prefix)

    async def send(key: bytes, value: bytes) -> None:
        producer = await app.maybe_start_producer()
        await producer.send_and_wait(topic, key, value, None, None, None)

    async def flush() -> None:
        await app.producer.flush()

    return ModelCheckpoints(
        settings, global_models(), lock=stage.lock, clock=stage.clock, send=send, flush=flush
    )


def producer_outbox(app: faust.App, settings: Settings) -> Outbox:
    """Return the outbox the settings ask for (see ``streams.runtime.outbox``)."""
    if settings.producer_path == "direct" and settings.processing_guarantee == "at_least_once":
        return DirectOutbox(app.maybe_start_producer)
    return BufferedOutbox(lambda: app.producer.flush())


def _follow_definitions(stage: IngestStage) -> Callable[[], Awaitable[None]]:
    """Return the task that keeps the definitions, templates, models and checkpoints current.

    It sets ``stage.ready`` once each has loaded what was published before the start.
    """

    async def follow_definitions() -> None:
        feeds = [stage.feed.run()]
        waits = [stage.feed.ready.wait()]
        if stage.templates_feed is not None:
            feeds.append(stage.templates_feed.run())
            waits.append(stage.templates_feed.ready.wait())
        if stage.models is not None:
            feeds.append(stage.models.run())
            waits.append(stage.models.ready.wait())
        if stage.learning is not None:
            feeds.append(stage.learning.run())
            waits.append(stage.learning.ready.wait())
        try:
            await asyncio.gather(*feeds, _set_when(stage.ready, waits))
        except asyncio.CancelledError:
            raise
        except BaseException:
            stage.progress.feed_alive = False  # /healthz says so; the watchdog ends us
            log.exception("the definitions or models feed stopped")
            raise

    return follow_definitions


async def _set_when(event: asyncio.Event, waits: Sequence[Awaitable[Any]]) -> None:
    await asyncio.gather(*waits)
    event.set()


def _ingest_agent(app: faust.App, stage: IngestStage) -> Callable[[Any], Awaitable[None]]:
    """Return the agent: batches through ``run_batch``; fail-stop on anything unfinished."""
    ready = stage.ready

    async def ingest(stream: Any) -> None:  # faust.Stream; StreamT lacks take_events
        async for batch in stream.take_events(BATCH_MAX_EVENTS, within=BATCH_WINDOW_SECONDS):
            try:
                # A paused trigger must not fire while the definitions load. Wait here,
                # not before iterating: Faust does not resume a stream after recovery
                # whose agent has not started iterating it yet. They load in about a
                # second, usually before the first batch arrives.
                if not ready.is_set():
                    await ready.wait()
                await stage.run_batch([event.message for event in batch])
            except asyncio.CancelledError:
                withhold(batch)
                if app.should_stop:
                    raise  # stopping: acked offsets commit, this batch is read again
                # A rebalance restarts the agent by cancelling it, and the restarted agent
                # goes on past this batch; Faust's committer does not always see a gap
                # (not one message long, nor ahead of offset 0), so it could commit past
                # the unprocessed batch. End the process instead: it is read again.
                fail_stop("a rebalance cancelled an unprocessed batch", events=len(batch))
            except BaseException as error:
                withhold(batch)
                fail_stop("the ingest agent could not finish a batch", error, events=len(batch))
            stage.progress.batch_done()

    return ingest


def _count_outputs(result: Result, now: datetime, *, event_latency: bool) -> None:
    """Count a result's outputs in the worker's metrics."""
    for decision in result.decisions:
        reason = decision.reason.value if decision.reason else ""
        metrics.DECISIONS.labels(decision.trigger_id, decision.outcome.value, reason).inc()
    for command in result.commands:
        metrics.COMMANDS.labels(command.trigger_id, command.channel.value).inc()
        if event_latency:
            latency = (now - command.created_at).total_seconds()
            metrics.DECISION_LATENCY.labels(command.trigger_id).observe(max(latency, 0.0))
    for intervention in result.interventions:
        metrics.INTERVENTIONS.labels(
            intervention.intervention_type.value, intervention.risk_level
        ).inc()
    for change in result.segment_changes:
        metrics.SEGMENT_CHANGES.labels(change.segment_id, change.change.value).inc()
    for assigned in result.assignments:
        metrics.EXPERIMENT_ASSIGNMENTS.labels(assigned.experiment_id, assigned.variant).inc()
    for converted in result.conversions:
        metrics.EXPERIMENT_CONVERSIONS.labels(
            converted.experiment_id, converted.variant, converted.metric
        ).inc()
    for step in result.funnel_steps:
        metrics.FUNNEL_STEPS.labels(step.funnel_id, str(step.step), step.kind).inc()
    _count_alerts(result)


def _count_alerts(result: Result) -> None:
    if result.alert_profile is not None:
        metrics.ALERT_PROFILES.inc()
    for each in result.recommendations:
        metrics.ALERT_RECOMMENDATIONS.labels(each.alert_type.value).inc()
