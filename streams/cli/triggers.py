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
    simulate = actions.add_parser(
        "simulate", help="replay retained input through the live and the changed definitions"
    )
    simulate.add_argument("files", type=Path, nargs="+")
    simulate.add_argument(
        "--since", default="7d", help="start: a duration before now (7d, 36h) or an ISO time"
    )
    simulate.add_argument("--until", default=None, help="end, the same way (default: now)")
    simulate.add_argument(
        "--warmup", default="0s", help="older history folded first, not counted (e.g. 28d)"
    )
    simulate.add_argument("--json", action="store_true", help="print the report as JSON")
    simulate.add_argument("--examples", type=int, default=3, help="users listed per list")
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
    if args.action == "simulate":
        from streams.cli import simulate

        request = simulate.Request(
            args.files, since=args.since, until=args.until, warmup=args.warmup,
            examples=args.examples,
        )  # fmt: skip
        return simulate.run(settings, request, as_json=args.json)
    if args.action == "pause":
        return definitions.pause(settings, args.trigger_id)
    return definitions.list_definitions(settings)
