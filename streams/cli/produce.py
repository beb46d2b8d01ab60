"""``nudge produce``: publish a synthetic population's events (a simulation, for trying Nudge)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from schemas.settings import Settings


def register(subcommands: Any) -> None:
    """Add ``produce`` to the ``nudge`` subcommands."""
    produce = subcommands.add_parser("produce", help="publish a synthetic population's events")
    produce.add_argument("--users", type=int, default=500, help="users to simulate")
    produce.add_argument("--rate", type=float, default=2000.0, help="events/s; 0 = unlimited")
    produce.add_argument("--seed", type=int, default=7)
    produce.add_argument("--history-days", type=int, default=100)
    produce.add_argument("--invalid-share", type=float, default=0.0, help="malformed share")
    produce.add_argument(
        "--story-share", type=float, default=0.0, help="share of users living a story"
    )
    produce.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Publish the population and say how much was sent."""
    from streams.simulation.population import Mix
    from streams.simulation.simulated_publisher import produce

    report = asyncio.run(
        produce(settings, users=args.users, rate=args.rate, seed=args.seed,
                history_days=args.history_days, invalid_share=args.invalid_share,
                mix=Mix(story_share=args.story_share))
    )  # fmt: skip
    print(f"sent {report.events_sent} events ({report.invalid_sent} malformed) "
          f"for {report.users} users in {report.seconds:.1f} s")  # fmt: skip
    return 0
