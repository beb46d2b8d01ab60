"""Kafka client options and topic creation, derived from the settings only."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import faust
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from schemas.settings import Settings
from schemas.topics import ALL_TOPICS, TopicSpec

log = logging.getLogger(__name__)


def faust_credentials(settings: Settings) -> Any:
    """Return Faust's ``broker_credentials`` for the configured security protocol."""
    context = settings.kafka_ssl_context()
    if settings.kafka_security_protocol.startswith("SASL"):
        password = settings.kafka_sasl_password
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password.get_secret_value() if password else None,
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism,
        )
    return context


async def ensure_topics(settings: Settings, specs: Iterable[TopicSpec] = ALL_TOPICS) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=spec.full_name(settings.topic_prefix),
                num_partitions=spec.partitions(settings.partitions),
                replication_factor=settings.replication_factor,
                topic_configs=spec.config(),
            )
            for spec in specs
            if spec.full_name(settings.topic_prefix) not in existing
        ]
        if missing:
            response = await admin.create_topics(missing)
            for name, code, *_ in response.topic_errors:
                error = for_code(code)
                if code != 0 and error is not TopicAlreadyExistsError:  # another process won
                    msg = f"could not create topic {name}: {error.__name__}"
                    raise RuntimeError(msg)
            log.info("created topics", extra={"topics": [t.name for t in missing]})
            await _visible(admin, {t.name for t in missing})
        return [topic.name for topic in missing]
    finally:
        await admin.close()


#: Longest wait for created topics to show in the broker's metadata.
METADATA_WAIT_SECONDS = 30.0


async def _visible(admin: AIOKafkaAdminClient, names: set[str]) -> None:
    """Wait until ``names`` are in the broker's metadata.

    A consumer that subscribes before then is assigned nothing, and only notices at its
    next metadata refresh.
    """
    deadline = asyncio.get_running_loop().time() + METADATA_WAIT_SECONDS
    while not names <= set(await admin.list_topics()):
        if asyncio.get_running_loop().time() > deadline:
            log.warning(
                "created topics are not in the metadata yet", extra={"topics": sorted(names)}
            )
            return
        await asyncio.sleep(0.2)
