"""``nudge peers refresh|show``: the peer distributions workers compare users with.

``refresh`` computes them from PostgreSQL (``sinks.peers``) and publishes them on the
definitions topic (``analytics:peers``), where every worker picks them up on its next
batch: run it on a schedule (hourly or daily: distributions move slowly). ``show`` prints
the groups and a few cut points of what is in force.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from schemas.settings import Settings


def register(subcommands: Any) -> None:
    """Add ``peers`` to the ``nudge`` subcommands."""
    parser = subcommands.add_parser("peers", help="peer distributions (percentile features)")
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("refresh", help="compute them from the database and publish them")
    actions.add_parser("show", help="print what is in force")
    parser.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Dispatch ``nudge peers ACTION``."""
    if args.action == "refresh":
        from sinks.peers import peer_distributions
        from streams.cli.analytics import publish_entries
        from streams.core.state.analytics import PEERS_KEY

        found = peer_distributions(settings, datetime.now(UTC))
        entry = (PEERS_KEY, found.model_dump_json().encode())
        asyncio.run(publish_entries(settings, [entry]))
        groups = ", ".join(f"{g} ({p.users})" for g, p in found.groups.items()) or "none"
        print(f"published peer distributions: {groups}")
        return 0
    return asyncio.run(_show(settings))


async def _show(settings: Settings) -> int:
    from streams.cli.analytics import in_force

    applied, _ = await in_force(settings)
    peers = applied.analytics.peers
    if peers is None:
        print("no peer distributions yet: run nudge peers refresh")
        return 0
    print(f"computed at {peers.computed_at.isoformat()}")
    for group, found in peers.groups.items():
        medians = {m: points[50] for m, points in found.metrics.items()}
        print(f"{group:28} {found.users:>7} users  medians {json.dumps(medians)}")
    return 0
