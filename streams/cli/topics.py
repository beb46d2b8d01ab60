"""``nudge topics ...``: Kafka topic tools."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from schemas.settings import Settings


def register(subcommands: Any) -> None:
    """Add ``topics`` to the ``nudge`` subcommands."""
    topics = subcommands.add_parser("topics", help="Kafka topic tools")
    actions = topics.add_subparsers(dest="action", required=True)
    actions.add_parser("create", help="create every topic that does not exist").set_defaults(
        run=run_create
    )


def run_create(settings: Settings, args: argparse.Namespace) -> int:
    """Create the missing topics and say how many."""
    from streams.runtime.kafka_admin import ensure_topics

    created = asyncio.run(ensure_topics(settings))
    print(f"topics: created {len(created)}")
    return 0
