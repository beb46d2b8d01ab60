"""The work behind ``nudge triggers ...``: validate, apply, list, diff and pause definitions.

``apply`` and ``pause`` publish to the compacted ``triggers.definitions`` topic; every
worker follows it, so a change takes effect on the next batch, without a restart.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer

from schemas.settings import Settings
from schemas.topics import TRIGGERS_DEFINITIONS
from schemas.triggers import TriggerDefinition
from streams.core.rendering import Catalogue, default_catalogue
from streams.core.triggers.catalogue import DefinitionError, load_files, templates_missing
from streams.core.triggers.overlay import DefinitionOverlay
from streams.runtime.definitions_feed import read_definitions, templates_in_force
from streams.runtime.kafka_admin import ensure_topics


def checked(paths: list[Path], catalogue: Catalogue | None = None) -> list[TriggerDefinition]:
    """Load definitions and check their templates exist.

    Args:
        paths: The definition files.
        catalogue: The templates to check against: those in force
            (``checked_live``) or, if ``None``, the shipped ones.

    Raises:
        DefinitionError: With every problem found.
    """
    definitions = load_files(paths)
    missing = templates_missing(definitions, catalogue or default_catalogue())
    if missing:
        where = "shipped or applied" if catalogue is not None else "shipped"
        raise DefinitionError([f"no template {item} ({where})" for item in missing])
    return definitions


def checked_live(settings: Settings, paths: list[Path]) -> list[TriggerDefinition]:
    """Load definitions, then check their templates against those in force.

    The files are parsed first: one that does not parse is refused without the broker.

    Raises:
        DefinitionError: With every problem found.
    """
    load_files(paths)
    return checked(paths, asyncio.run(templates_in_force(settings))[1].triggers)


def validate(paths: list[Path]) -> int:
    """Print whether the files' definitions are valid; return the exit status.

    Offline: templates are checked against the shipped ones (``apply`` and ``diff`` check
    them against those in force, with any applied on ``templates.definitions``).
    """
    try:
        definitions = checked(paths)
    except DefinitionError as error:
        print(error)
        if any("no template" in problem for problem in error.problems):
            print("  (validate knows the shipped templates; apply also those applied live)")
        return 1
    for definition in definitions:
        print(f"ok  {definition.id}")
    return 0


async def effective(
    settings: Settings,
) -> tuple[list[TriggerDefinition], set[str], dict[str, list[str]]]:
    """Return the definitions in force, the ids from the topic, and the refused entries.

    Refused entries map a trigger id to the reasons workers refuse it.
    """
    await ensure_topics(settings, [TRIGGERS_DEFINITIONS])
    entries = await read_definitions(settings)
    templates = (await templates_in_force(settings))[1].triggers
    source = DefinitionOverlay.shipped_with(templates)
    current = source.current(entries.items())
    refused = source.refused()
    from_topic = {key.decode(errors="replace") for key in entries} - set(refused)
    return current, from_topic, refused


async def publish(settings: Settings, definitions: list[TriggerDefinition]) -> None:
    """Publish definitions to the topic, keyed by id."""
    await ensure_topics(settings, [TRIGGERS_DEFINITIONS])
    producer = AIOKafkaProducer(**settings.kafka_client_options(), acks="all")
    await producer.start()
    try:
        topic = TRIGGERS_DEFINITIONS.full_name(settings.topic_prefix)
        for definition in definitions:
            value = definition.model_dump_json(by_alias=True).encode()
            await producer.send_and_wait(topic, key=definition.id.encode(), value=value)
    finally:
        await producer.stop()


def apply(settings: Settings, paths: list[Path]) -> int:
    """Validate files and publish their definitions; return the exit status."""
    try:
        definitions = checked_live(settings, paths)
    except DefinitionError as error:
        print(error)
        return 1
    asyncio.run(publish(settings, definitions))
    for definition in definitions:
        print(f"applied  {definition.id}")
    return 0


def list_definitions(settings: Settings) -> int:
    """Print the definitions in force, then the topic's entries that are refused."""
    definitions, from_topic, refused = asyncio.run(effective(settings))
    print(f"{'id':28} {'status':8} {'priority':9} {'source':8} {'schedule':9} thresholds")
    for d in definitions:
        source = "topic" if d.id in from_topic else "shipped"
        every = d.evaluate_on.every
        schedule = "events" if every is None else f"every {every / 3600:g}h"
        thresholds = ", ".join(f"{k}={v:g}" for k, v in d.thresholds.items())
        print(f"{d.id:28} {d.status:8} {d.priority.value:9} {source:8} {schedule:9} {thresholds}")
    for trigger_id, reasons in sorted(refused.items()):
        # Refused: the line above for this id (if any) is the version still in force.
        print(f"refused  {trigger_id[:64]}: {'; '.join(reasons)}")
    return 0


def diff(settings: Settings, paths: list[Path]) -> int:
    """Print what applying the files would change; return 1 if anything would."""
    try:
        wanted = checked_live(settings, paths)
    except DefinitionError as error:
        print(error)
        return 2
    current = {d.id: d for d in asyncio.run(effective(settings))[0]}
    changed = 0
    for definition in wanted:
        now = current.get(definition.id)
        lines = changes(now, definition)
        changed += bool(lines)
        for line in lines:
            print(line)
    print(f"{changed} of {len(wanted)} definitions would change")
    return 1 if changed else 0


class Definition(Protocol):
    """A definition as data: a trigger's, a segment's."""

    @property
    def id(self) -> str: ...  # noqa: D102 - its id

    def model_dump(self, *, mode: str) -> dict[str, Any]: ...  # noqa: D102 - pydantic's


def changes(old: Definition | None, new: Definition) -> list[str]:
    """Describe field by field how ``new`` differs from ``old``."""
    if old is None:
        return [f"+ {new.id}: new definition"]
    before, after = _flat(old.model_dump(mode="json")), _flat(new.model_dump(mode="json"))
    return [
        f"~ {new.id}: {key}: {json.dumps(before.get(key))} -> {json.dumps(after.get(key))}"
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, child in value.items():
            flat |= _flat(child, f"{prefix}{key}.")
        return flat
    return {prefix.rstrip("."): value}


def pause(settings: Settings, trigger_id: str) -> int:
    """Publish the definition in force with status ``paused``; return the exit status."""
    current = {d.id: d for d in asyncio.run(effective(settings))[0]}
    if trigger_id not in current:
        print(f"no trigger {trigger_id!r}; see nudge triggers list")
        return 1
    paused = current[trigger_id].model_copy(update={"status": "paused"})
    asyncio.run(publish(settings, [paused]))
    print(f"paused  {trigger_id}")
    return 0
