"""``nudge demo``: the whole pipeline on synthetic users, and what fired."""

from __future__ import annotations

import argparse
from typing import Any

from schemas.settings import Settings


def register(subcommands: Any) -> None:
    """Add ``demo`` to the ``nudge`` subcommands."""
    demo = subcommands.add_parser("demo", help="run the whole pipeline on synthetic users")
    demo.add_argument("--users", type=int, default=160)
    demo.add_argument("--rate", type=float, default=2000.0)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument(
        "--campaign-users",
        type=int,
        default=1400,
        help="quote seekers in the demo's experiment (0: no experiment phase)",
    )
    demo.add_argument(
        "--alert-users",
        type=int,
        default=500,
        help="card holders the alert recommender is trained on (0: no recommender phase)",
    )
    demo.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run the demo; its exit status says whether what fired is what was expected."""
    from streams.demo.run import run_demo

    return run_demo(
        settings, users=args.users, rate=args.rate, seed=args.seed,
        campaign=args.campaign_users, alert_users=args.alert_users,
    )  # fmt: skip
