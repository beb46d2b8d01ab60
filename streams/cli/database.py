"""``nudge db ...``: database tools."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from schemas.settings import Settings


def register(subcommands: Any) -> None:
    """Add ``db`` to the ``nudge`` subcommands."""
    db = subcommands.add_parser("db", help="database tools")
    actions = db.add_subparsers(dest="action", required=True)
    actions.add_parser("upgrade", help="apply Alembic migrations up to head").set_defaults(
        run=run_upgrade
    )
    purge = actions.add_parser(
        "purge", help="delete rows older than each table's retention (NUDGE_RETENTION_DAYS)"
    )
    purge.add_argument(
        "--dry-run", action="store_true", help="count the rows that would go; delete nothing"
    )
    purge.set_defaults(run=run_purge)


def run_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    """Apply the migrations up to head."""
    from sinks.migrate import upgrade

    upgrade(settings)
    print("database: migrated to head")
    return 0


def run_purge(settings: Settings, args: argparse.Namespace) -> int:
    """Delete (or count, with ``--dry-run``) rows older than their table's retention."""
    from sinks.retention import purge, retention_days
    from sinks.writer import create_sink_engine

    days = retention_days(settings)
    engine = create_sink_engine(settings)
    try:
        purged = purge(engine, days, datetime.now(UTC), dry_run=args.dry_run)
    finally:
        engine.dispose()
    verb = "would delete" if args.dry_run else "deleted"
    for table, count in sorted(purged.items()):
        print(f"{table}: {verb} {count} rows older than {days[table]} days")
    kept = sorted(table for table, n in days.items() if n == 0)
    print(f"kept whole: {', '.join(kept) or 'none'}")
    return 0
