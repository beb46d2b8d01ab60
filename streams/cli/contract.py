"""``nudge schemas ...``: the contract's tools (AsyncAPI and JSON Schema files for producers)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from schemas.settings import Settings


def register(subcommands: Any) -> None:
    """Add ``schemas`` to the ``nudge`` subcommands."""
    schemas = subcommands.add_parser("schemas", help="contract tools")
    actions = schemas.add_subparsers(dest="action", required=True)
    export = actions.add_parser(
        "export", help="write the AsyncAPI document, JSON Schema files and topics.json"
    )
    export.add_argument("directory", type=Path)
    export.set_defaults(run=run_export)


def run_export(settings: Settings, args: argparse.Namespace) -> int:
    """Write the contract's files (``schemas.export``) and print their paths."""
    from schemas.export import export_schemas

    for path in export_schemas(args.directory):
        print(path)
    return 0
