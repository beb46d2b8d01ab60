"""``nudge triggers ...``: trigger definitions, hot-reloaded by every worker."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from schemas.settings import Settings


def register(subcommands: Any) -> None:
    """Add ``triggers`` to the ``nudge`` subcommands."""
    triggers = subcommands.add_parser("triggers", help="trigger definitions (hot-reloaded)")
    actions = triggers.add_subparsers(dest="action", required=True)
    for name, text in (
        ("validate", "check definition files (no Kafka needed)"),
        ("apply", "validate and publish definition files to every worker"),
        ("diff", "show what applying the files would change"),
    ):
        actions.add_parser(name, help=text).add_argument("files", type=Path, nargs="+")
    actions.add_parser("list", help="show the definitions in force")
    actions.add_parser("pause", help="pause one trigger").add_argument("trigger_id")
    triggers.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Dispatch ``nudge triggers ACTION``."""
    from streams.cli import definitions

    if args.action == "validate":
        return definitions.validate(args.files)
    if args.action == "apply":
        return definitions.apply(settings, args.files)
    if args.action == "diff":
        return definitions.diff(settings, args.files)
    if args.action == "pause":
        return definitions.pause(settings, args.trigger_id)
    return definitions.list_definitions(settings)
