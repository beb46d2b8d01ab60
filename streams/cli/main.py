"""The ``nudge`` command line: the one composition root of every process.

One module per command group registers its subcommands and runs them. The command line
and the demo are the only places outside ``sinks`` that reach into it (lazily), so the
stream worker never imports database code and the sink never imports the stream's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from schemas.settings import Settings
from streams.cli import (
    analytics,
    contract,
    database,
    demo,
    experiments,
    funnels,
    models,
    peers,
    processes,
    produce,
    reports,
    segments,
    templates,
    topics,
    triggers,
    users,
    why,
)

#: The command groups, in the order ``nudge --help`` lists them.
GROUPS = (
    processes, produce, contract, database, reports, topics, triggers, templates, analytics,
    segments, experiments, funnels, peers, models, users, why, demo,
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="nudge", description=__doc__.splitlines()[0])
    subcommands = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named on the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    run: Callable[[Settings, argparse.Namespace], int] = args.run
    return run(Settings(), args)


if __name__ == "__main__":
    sys.exit(main())
