"""``nudge db ...``: database tools."""

from __future__ import annotations

import argparse
from typing import Any

from schemas.settings import Settings


def register(subcommands: Any) -> None:
    """Add ``db`` to the ``nudge`` subcommands."""
    db = subcommands.add_parser("db", help="database tools")
    actions = db.add_subparsers(dest="action", required=True)
    actions.add_parser("upgrade", help="apply Alembic migrations up to head").set_defaults(
        run=run_upgrade
    )


def run_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    """Apply the migrations up to head."""
    from sinks.migrate import upgrade

    upgrade(settings)
    print("database: migrated to head")
    return 0
