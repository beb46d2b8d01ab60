"""Every worker's live copy of a compacted topic of definitions.

``triggers.definitions``, ``templates.definitions``, ``models.active`` and
``models.checkpoints`` are read this way.

Each worker reads the whole topic, without a consumer group, from the beginning and
then follows it: the semantics of a global table. (A Faust GlobalTable over this shared
topic hung the worker's first rebalance in our tests, and faust-streaming warns about
global tables read by several instances, so Nudge reads it with aiokafka directly.)
Workers wait for ``ready`` -- the end of the topic as it was at start -- before their
first batch, so a paused trigger stays paused across restarts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from schemas.settings import Settings
from schemas.topics import TEMPLATES_DEFINITIONS, TRIGGERS_DEFINITIONS, TopicSpec
from streams.core.templates import Catalogues, TemplateOverlay
from streams.core.triggers.overlay import shown_key

log = logging.getLogger(__name__)

#: How long a poll waits for new definitions; bounds how late a change takes effect.
POLL_MILLISECONDS = 250
#: Back-off while the broker cannot be reached: first wait, and the cap.
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0


class DefinitionsFeed:
    """The latest value of every key of ``triggers.definitions``.

    Attributes:
        entries: Trigger id (bytes) -> the latest definition bytes; tombstones remove.
        ready: Set once everything published before the start has been read.
    """

    def __init__(
        self,
        settings: Settings,
        spec: TopicSpec = TRIGGERS_DEFINITIONS,
        noun: str = "trigger definition",
        key_name: str = "trigger",
        on_message: Callable[[bytes | None, bytes | None], object] | None = None,
    ) -> None:
        """Follow ``spec`` (any compacted topic of one partition: ``models.active`` too).

        ``noun``: what one entry is, in the log ("trigger definition changed"), and
        ``key_name`` the log's name for its key. ``on_message``: called with every
        message's key and value as it is read (keyless ones too), for a reader that
        checks each one itself (``models.checkpoints``); it logs what it wants, and this
        feed logs no changes.
        """
        self.settings = settings
        self.spec = spec
        self.noun = noun
        self.key_name = key_name
        self.on_message = on_message
        self.entries: dict[bytes, bytes] = {}
        self.ready = asyncio.Event()

    def items(self) -> list[tuple[bytes, bytes | None]]:
        """Return the entries as ``(key, value)`` pairs."""
        return list(self.entries.items())

    async def run(self) -> None:
        """Read the topic from the beginning and follow it until cancelled.

        A broker that cannot be reached is waited for (with back-off), not a reason to
        stop following: the entries read so far stay in force meanwhile.
        """
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                await self._follow()
            except KafkaError as error:
                log.warning(
                    f"{self.noun}s feed lost the broker; retrying",
                    extra={"topic": self.spec.name, "error": type(error).__name__,
                           "retry_in_seconds": delay},
                )  # fmt: skip
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    async def _follow(self) -> None:
        topic = TopicPartition(self.spec.full_name(self.settings.topic_prefix), 0)
        consumer = AIOKafkaConsumer(
            **self.settings.kafka_client_options(), enable_auto_commit=False, group_id=None
        )
        await consumer.start()
        try:
            consumer.assign([topic])
            await consumer.seek_to_beginning(topic)
            end = (await consumer.end_offsets([topic]))[topic]
            while True:
                batch = await consumer.getmany(topic, timeout_ms=POLL_MILLISECONDS)
                for message in batch.get(topic, []):
                    self._apply(message.key, message.value)
                if not self.ready.is_set() and await consumer.position(topic) >= end:
                    self.ready.set()
                    log.info(f"{self.noun}s loaded", extra={"entries": len(self.entries)})
        finally:
            await consumer.stop()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if self.on_message is not None:
            self.on_message(key, value)
        if key is None:
            return  # definitions are keyed by trigger id; nothing else belongs here
        if value is None:
            self.entries.pop(key, None)
        else:
            self.entries[key] = value
        if self.ready.is_set() and self.on_message is None:
            log.info(f"{self.noun} changed", extra={self.key_name: shown_key(key)})


async def read_definitions(
    settings: Settings, timeout: float = 30.0, spec: TopicSpec = TRIGGERS_DEFINITIONS
) -> dict[bytes, bytes]:
    """Return the current entries of ``spec`` (read once to its end, then stop)."""
    feed = DefinitionsFeed(settings, spec)
    task = asyncio.create_task(feed.run())
    try:
        await asyncio.wait_for(feed.ready.wait(), timeout)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return dict(feed.entries)


async def publish_entries(
    settings: Settings,
    records: list[tuple[bytes, bytes | None]],
    spec: TopicSpec = TRIGGERS_DEFINITIONS,
) -> None:
    """Publish ``(key, value)`` entries on the definitions topic (``None``: a tombstone).

    What ``nudge segments|experiments|funnels|scores... apply`` and the demo publish;
    ``nudge models promote`` publishes on ``models.active`` (``spec``) the same way.
    """
    from streams.runtime.kafka_admin import ensure_topics  # noqa: PLC0415 - tools only

    await ensure_topics(settings, [spec])
    producer = AIOKafkaProducer(**settings.kafka_client_options(), acks="all")
    await producer.start()
    try:
        topic = spec.full_name(settings.topic_prefix)
        for key, value in records:
            await producer.send_and_wait(topic, key=key, value=value)
    finally:
        await producer.stop()


async def templates_in_force(settings: Settings) -> tuple[TemplateOverlay, Catalogues]:
    """Return the message templates every worker renders with now, and their overlay.

    The overlay was given ``templates.definitions`` as it is: ask it for ``refused()``
    or, with ``read_definitions``' entries, ``in_force``.
    """
    from streams.runtime.kafka_admin import ensure_topics  # noqa: PLC0415 - tools only

    await ensure_topics(settings, [TEMPLATES_DEFINITIONS])
    entries = await read_definitions(settings, spec=TEMPLATES_DEFINITIONS)
    overlay = TemplateOverlay.shipped_with()
    return overlay, overlay.catalogues(list(entries.items()))
