"""Kafka client options and topic creation, derived from the settings only."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterable
from typing import Any

import faust
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas.settings import Settings
from schemas.topics import ALL_TOPICS, TopicSpec

log = logging.getLogger(__name__)


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """Return the TLS context for SSL and SASL_SSL, ``None`` otherwise."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
    return context


def aiokafka_options(settings: Settings) -> dict[str, Any]:
    """Return the connection keyword arguments for aiokafka clients."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
        "ssl_context": ssl_context(settings),
    }
    if settings.kafka_security_protocol.startswith("SASL"):
        password = settings.kafka_sasl_password
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": password.get_secret_value() if password else None,
        }
    return options


def faust_credentials(settings: Settings) -> Any:
    """Return Faust's ``broker_credentials`` for the configured security protocol."""
    context = ssl_context(settings)
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
    admin = AIOKafkaAdminClient(**aiokafka_options(settings))
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
            for name, code, *_ in getattr(response, "topic_errors", []):
                if code not in (0, 36):  # 36: TOPIC_ALREADY_EXISTS, another process won
                    msg = f"could not create topic {name}: error code {code}"
                    raise RuntimeError(msg)
            log.info("created topics", extra={"topics": [t.name for t in missing]})
        return [topic.name for topic in missing]
    finally:
        await admin.close()
