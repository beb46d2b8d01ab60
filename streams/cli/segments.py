"""``nudge segments ...``: live segment definitions, hot-reloaded by every worker.

``validate FILE`` checks a YAML file of ``segments: [...]`` (no Kafka needed); ``apply
FILE`` validates it and publishes each segment on the definitions topic under
``segment:<id>``, where every worker picks it up on its next batch; ``list`` prints the
segments in force (shipped or applied) and any the workers refuse; ``diff FILE`` shows
what applying would change; ``remove ID`` takes an applied segment off the topic (its
members leave at their next evaluation; a shipped one of the same id comes back).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from schemas.segments import SegmentDefinition, validate_segments
from schemas.settings import Settings
from streams.cli.analytics import in_force, publish_entries
from streams.cli.listed import add_actions, entry, print_refused, read_file


def register(subcommands: Any) -> None:
    """Add ``segments`` to the ``nudge`` subcommands."""
    add_actions(
        subcommands, "segments", "live segment definitions (hot-reloaded)",
        file_actions={
            "validate": "check a segments file (no Kafka needed)",
            "apply": "validate and publish a segments file to every worker",
            "diff": "show what applying the file would change",
        },
        one=("remove", "take an applied segment off", "segment_id"),
        run=run,
    )  # fmt: skip


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Dispatch ``nudge segments ACTION``."""
    if args.action == "list":
        return asyncio.run(_list(settings))
    if args.action == "remove":
        from streams.core.state.analytics import segment_key

        asyncio.run(publish_entries(settings, [(segment_key(args.segment_id), None)]))
        print(f"removed segment {args.segment_id} from the topic")
        return 0
    found = read_file(args.file, validate_segments, "segments")
    if isinstance(found, int):
        return found
    if args.action == "validate":
        print(f"ok  {args.file}: {len(found)} segments")
        return 0
    if args.action == "diff":
        return asyncio.run(_diff(settings, found))
    return asyncio.run(_apply(settings, found, args.file))


async def _apply(settings: Settings, found: tuple[SegmentDefinition, ...], path: Path) -> int:
    from schemas.segments import MAX_SEGMENTS_IN_FORCE
    from streams.core.state.analytics import segment_key

    applied, _ = await in_force(settings)
    ids = {d.id for d in applied.analytics.segments.definitions} | {d.id for d in found}
    if len(ids) > MAX_SEGMENTS_IN_FORCE:
        print(f"{path}: {len(ids)} segments would be in force; at most {MAX_SEGMENTS_IN_FORCE}")
        return 1
    await publish_entries(settings, [entry(segment_key(d.id), d) for d in found])
    print(f"applied {len(found)} segments from {path}; workers use them from their next batch")
    return 0


async def _diff(settings: Settings, found: tuple[SegmentDefinition, ...]) -> int:
    from streams.cli.definitions import changes

    applied, _ = await in_force(settings)
    current = {d.id: d for d in applied.analytics.segments.definitions}
    changed = 0
    for definition in found:
        lines = changes(current.get(definition.id), definition)
        changed += bool(lines)
        for line in lines:
            print(line)
    print(f"{changed} of {len(found)} segments would change")
    return 1 if changed else 0


async def _list(settings: Settings) -> int:
    from streams.core.segments.membership import describe
    from streams.core.state.analytics import segment_key

    applied, entries = await in_force(settings)
    for d in applied.analytics.segments.definitions:
        source = "applied" if segment_key(d.id) in entries else "shipped"
        print(f"{d.id:28} {d.status:7} {source:8} {describe(d.when)}")
    print_refused(applied.refused, b"segment:")
    return 0
