"""The AsyncAPI 3.0 document of every topic, built from ``schemas.topics`` and ``schemas.contract``.

One channel per topic: its address (the topic name after the deployment's prefix), its
Kafka layout (partitions, cleanup policy, retention) as ``topics.py`` creates it, and
each kind of message on it with its key, its payload (a reference to the JSON Schema
file written beside the document) and examples built from real model instances. One
operation per process and direction says who sends and who receives it: Nudge's own
(worker, sink, ``nudge`` command) and the others (producers, a risk model, notification
services, apps).

The document is JSON: this module may import pydantic and the standard library only, so
no YAML writer; every AsyncAPI tool reads JSON (YAML 1.2 is a superset of it); the
payloads it references are JSON Schema files; and ``json.dumps`` of dictionaries built
in a fixed order gives the same bytes for the same contract, so a test can compare the
committed copy exactly.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from schemas.contract import COMPONENTS, OUTSIDE, Message, TopicContract, topic_contracts
from schemas.settings import Settings

ASYNCAPI_VERSION = "3.0.0"
#: The Kafka bindings' version (AsyncAPI bindings repository, kafka/).
KAFKA_BINDING_VERSION = "0.5.0"
#: The contract's own version: bump the major when a message changes incompatibly (its
#: ``schema_version`` goes up), the minor when a topic or a message kind is added.
CONTRACT_VERSION = "1.0.0"
FILE_NAME = "asyncapi.json"
#: Payloads are plain JSON Schema, not AsyncAPI's own schema dialect: pydantic writes
#: OpenAPI's ``discriminator`` object, which AsyncAPI's dialect refuses (it wants a
#: property name) and plain JSON Schema ignores.
PAYLOAD_SCHEMA_FORMAT = "application/schema+json;version=draft-07"
PREFIX_PARAMETER = "prefix"


def asyncapi_document() -> dict[str, Any]:
    """Return the AsyncAPI 3.0 document of every topic in ``schemas.topics.ALL_TOPICS``.

    Raises:
        schemas.contract.MissingContract: A topic has no entry in ``schemas.contract``.
    """
    contracts = topic_contracts()
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": _info(),
        "defaultContentType": "application/json",
        "servers": _servers(),
        "channels": {c.spec.name: _channel(c) for c in contracts},
        "operations": {
            name: operation for c in contracts for name, operation in _operations(c).items()
        },
        "components": {"parameters": {PREFIX_PARAMETER: _prefix_parameter()}},
    }


def render(document: dict[str, Any]) -> str:
    """Return ``document`` as the text written to ``asyncapi.json`` (stable bytes)."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _info() -> dict[str, Any]:
    return {
        "title": "Nudge",
        "version": CONTRACT_VERSION,
        "description": (
            "Every Kafka topic Nudge reads or writes: what is on it, how it is keyed and "
            "laid out, and who sends and receives it. Generated from `schemas/` by "
            "`make schemas`; do not edit. Payloads are the JSON Schema files beside this "
            "document; every message carries a `schema_version`. Topic names take "
            "`NUDGE_TOPIC_PREFIX` in front (the `prefix` parameter). Producers in Python "
            'can use `schemas.client` (docs/event-contract.md, "Publishing from Python").'
        ),
        "license": {"name": "Apache-2.0"},
    }


def _servers() -> dict[str, Any]:
    bootstrap = Settings.model_fields["kafka_bootstrap"].default
    return {
        "kafka": {
            "host": "{bootstrap}",
            "protocol": "kafka",
            "description": "The Kafka cluster (TLS and SASL as the deployment's settings say).",
            "variables": {
                "bootstrap": {
                    "default": bootstrap,
                    "description": "NUDGE_KAFKA_BOOTSTRAP: the bootstrap servers",
                }
            },
        }
    }


def _prefix_parameter() -> dict[str, Any]:
    return {
        "description": "NUDGE_TOPIC_PREFIX: put in front of every topic name (empty by default)",
        "default": Settings.model_fields["topic_prefix"].default,
        "examples": ["staging."],
    }


def _channel(contract: TopicContract) -> dict[str, Any]:
    spec = contract.spec
    channel: dict[str, Any] = {
        "address": f"{{{PREFIX_PARAMETER}}}{spec.name}",
        "title": spec.name,
        "summary": contract.summary,
        "description": _channel_description(contract),
        "parameters": {PREFIX_PARAMETER: {"$ref": f"#/components/parameters/{PREFIX_PARAMETER}"}},
        "messages": {m.name: _message(m) for m in contract.messages},
        "bindings": {"kafka": _channel_binding(contract)},
        "x-nudge-key": spec.key.value,
        "x-nudge-compacted": spec.compacted,
    }
    return channel


def _channel_description(contract: TopicContract) -> str:
    spec = contract.spec
    kept = "compacted: the latest message per key is kept" if spec.compacted else (
        "kept forever" if spec.retention_ms < 0 else f"kept {spec.retention_ms // 86_400_000} days"
    )  # fmt: skip
    partitions = (
        "`NUDGE_PARTITIONS` partitions (a user's messages share one)"
        if spec.user_keyed
        else "one partition (every worker reads it whole)"
    )
    lines = [f"Keyed by {spec.key.value}; {kept}; {partitions}."]
    if contract.reserved:
        lines.append(f"Reserved: {contract.reserved}.")
    writers = [*contract.senders, *contract.outside_senders]
    readers = [*contract.receivers, *contract.outside_receivers]
    if writers or readers:
        lines.append(f"Written by {_listed(writers)}; read by {_listed(readers)}.")
    return " ".join(lines)


def _listed(parties: list[str]) -> str:
    return ", ".join(parties) if parties else "nothing yet"


def _channel_binding(contract: TopicContract) -> dict[str, Any]:
    spec = contract.spec
    config = spec.config()
    topic: dict[str, Any] = {"cleanup.policy": config["cleanup.policy"].split(",")}
    if "retention.ms" in config:
        topic["retention.ms"] = int(config["retention.ms"])
    return {
        "partitions": spec.partitions(Settings.model_fields["partitions"].default),
        "topicConfiguration": topic,
        "bindingVersion": KAFKA_BINDING_VERSION,
    }


def _message(message: Message) -> dict[str, Any]:
    built = [(build, build()) for build in message.examples]
    return {
        "name": message.name,
        "title": message.name,
        "summary": message.summary,
        "contentType": "application/json",
        "payload": {
            "schemaFormat": PAYLOAD_SCHEMA_FORMAT,
            "schema": {"$ref": f"./{message.schema_file}"},
        },
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": message.key,
                    "examples": [message.key_of(instance) for _, instance in built],
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "examples": [
            {
                "name": build.__name__.removesuffix("_example"),
                "summary": (build.__doc__ or "").strip().splitlines()[0],
                "payload": example_payload(instance),
            }
            for build, instance in built
        ],
    }


def example_payload(instance: BaseModel) -> Any:
    """Return a message as it travels: the JSON the worker and ``schemas.client`` send."""
    return json.loads(instance.model_dump_json(by_alias=True))


def _operations(contract: TopicContract) -> dict[str, dict[str, Any]]:
    """Return one operation per process that sends or receives the topic."""
    parties = [
        *((who, "send", COMPONENTS[who]) for who in contract.senders),
        *((who, "send", OUTSIDE[who]) for who in contract.outside_senders),
        *((who, "receive", COMPONENTS[who]) for who in contract.receivers),
        *((who, "receive", OUTSIDE[who]) for who in contract.outside_receivers),
    ]
    name = contract.spec.name
    return {
        f"{who}.{action}.{name}": {
            "action": action,
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": f"{action}: {who}",
            "description": f"{who}: {description}.",
            "tags": [{"name": who}, {"name": "nudge" if who in COMPONENTS else "outside"}],
            "messages": [
                {"$ref": f"#/channels/{name}/messages/{m.name}"} for m in contract.messages
            ],
        }
        for who, action, description in parties
    }
