"""``nudge funnels ...``: funnel definitions, hot-reloaded by every worker.

``validate FILE`` checks a YAML file of ``funnels: [...]`` (no Kafka needed); ``apply
FILE`` publishes each funnel on the definitions topic under ``funnel:<id>``; ``list``
prints the funnels in force (shipped or applied); ``remove ID`` takes an applied funnel
off the topic (runs in progress are forgotten; a shipped one of the same id comes back).
``nudge report funnel ID`` shows conversion and drop-off per step.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from schemas.funnels import validate_funnels
from schemas.settings import Settings
from streams.cli.analytics import in_force, publish_entries
from streams.cli.listed import add_actions, entry, print_refused, read_file

_KEY = b"funnel:"


def register(subcommands: Any) -> None:
    """Add ``funnels`` to the ``nudge`` subcommands."""
    add_actions(
        subcommands, "funnels", "funnel definitions (hot-reloaded)",
        file_actions={
            "validate": "check a funnels file (no Kafka needed)",
            "apply": "validate and publish a funnels file to every worker",
        },
        one=("remove", "take an applied funnel off", "funnel_id"),
        run=run,
    )  # fmt: skip


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Dispatch ``nudge funnels ACTION``."""
    if args.action == "list":
        return asyncio.run(_list(settings))
    if args.action == "remove":
        asyncio.run(publish_entries(settings, [(_KEY + args.funnel_id.encode(), None)]))
        print(f"removed funnel {args.funnel_id} from the topic")
        return 0
    found = read_file(args.file, validate_funnels, "funnels")
    if isinstance(found, int):
        return found
    if args.action == "validate":
        print(f"ok  {args.file}: {len(found)} funnels")
        return 0
    asyncio.run(publish_entries(settings, [entry(_KEY + d.id.encode(), d) for d in found]))
    print(f"applied {len(found)} funnels from {args.file}; workers use them from their next batch")
    return 0


async def _list(settings: Settings) -> int:
    applied, entries = await in_force(settings)
    for d in applied.analytics.funnels.definitions:
        source = "applied" if _KEY + d.id.encode() in entries else "shipped"
        steps = " > ".join(step.label for step in d.steps)
        print(f"{d.id:28} {d.status:7} {source:8} within {d.within / 86_400:g}d: {steps}")
    print_refused(applied.refused, _KEY)
    return 0
