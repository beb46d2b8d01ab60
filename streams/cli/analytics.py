"""``nudge scores|patterns|personalization ...``: the analytics data, hot-reloaded.

``validate FILE`` checks a YAML file (no Kafka needed); ``apply FILE`` validates it and
publishes it on the definitions topic, where every worker picks it up on its next batch;
``show`` prints what is in force; ``reset`` brings back the shipped file (a tombstone).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from schemas.patterns import validate_patterns
from schemas.personalization import validate_personalization
from schemas.scores import validate_scores
from schemas.settings import Settings
from streams.cli.listed import read_file
from streams.runtime.definitions_feed import publish_entries

__all__ = ["GROUPS", "in_force", "publish_entries", "register", "run"]

#: Command group -> (what it holds, topic key, validator).
GROUPS: dict[str, tuple[str, bytes, Callable[[Any], Any]]] = {
    "scores": ("behaviour score weights", b"analytics:scores", validate_scores),
    "patterns": ("pattern rules", b"analytics:patterns", validate_patterns),
    "personalization": (
        "personalization rules",
        b"analytics:personalization",
        validate_personalization,
    ),
}


def register(subcommands: Any) -> None:
    """Add ``scores``, ``patterns`` and ``personalization`` to the ``nudge`` subcommands."""
    for group, (what, _, _) in GROUPS.items():
        parser = subcommands.add_parser(group, help=f"{what} (hot-reloaded)")
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("validate", help="check a file (no Kafka needed)").add_argument(
            "file", type=Path
        )
        actions.add_parser(
            "apply", help="validate and publish a file to every worker"
        ).add_argument("file", type=Path)
        actions.add_parser("show", help="print what is in force")
        actions.add_parser("reset", help="bring back the shipped file")
        parser.set_defaults(run=run, group=group)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Dispatch ``nudge scores|patterns|personalization ACTION``."""
    what, key, validate = GROUPS[args.group]
    if args.action in ("validate", "apply"):
        found = read_file(args.file, validate, what)
        if isinstance(found, int):
            return found
        if args.action == "validate":
            print(f"ok  {args.file}")
            return 0
        asyncio.run(
            _publish(
                settings,
                key,
                json.dumps(
                    found.model_dump(mode="json", by_alias=True, exclude_none=True)
                ).encode(),
            )
        )
        print(f"applied {what} from {args.file}; workers use them from their next batch")
        return 0
    if args.action == "reset":
        asyncio.run(_publish(settings, key, None))
        print(f"reset {what}: the shipped file is in force again")
        return 0
    return asyncio.run(_show(settings, what, key))


def _plain(model: Any) -> Any:
    """Return a validated model as the document it validates from again."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def _publish(settings: Settings, key: bytes, value: bytes | None) -> None:
    await publish_entries(settings, [(key, value)])


async def in_force(settings: Settings) -> tuple[Any, dict[bytes, bytes]]:
    """Return what the workers apply (``analytics_from``) and the topic's entries."""
    from schemas.topics import TRIGGERS_DEFINITIONS
    from streams.core.state.analytics import analytics_from
    from streams.core.state.visits import VisitPolicy
    from streams.runtime.definitions_feed import read_definitions
    from streams.runtime.kafka_admin import ensure_topics
    from streams.runtime.policies import global_control_group

    await ensure_topics(settings, [TRIGGERS_DEFINITIONS])
    entries = await read_definitions(settings)
    return analytics_from(entries, VisitPolicy(), global_control_group(settings)), entries


async def _show(settings: Settings, what: str, key: bytes) -> int:
    applied, entries = await in_force(settings)
    name = key.decode()
    source = "applied" if key in entries and name not in applied.refused else "shipped"
    models = {
        "scores": applied.analytics.scores,
        "patterns": applied.analytics.patterns,
        "personalization": applied.analytics.personalization,
    }
    model = models[name.rpartition(":")[2]]
    print(f"# {what} in force ({source})")
    print(
        yaml.safe_dump(
            model.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=False
        )
    )
    for problem in applied.refused.get(name, []):
        print(f"# refused on the topic: {problem}")
    return 0
