"""``nudge why USER [TRIGGER]``: why did (or didn't) this user get that message?

The last evaluations of the trigger (or of every trigger) for the user, read from
PostgreSQL, each laid out against the trigger's condition in force: the feature values
the worker compared, the thresholds, and the reason when it was suppressed. The same
answer as the API's ``GET /users/{id}/why`` (``schemas.api.WhyView``), without the live
record (so without ``last_fired_at``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import orjson

from schemas.settings import Settings

#: How long ``nudge why`` waits for the definitions topic before it lays decisions out
#: against the shipped definitions.
DEFINITIONS_TIMEOUT_SECONDS = 15.0


def register(subcommands: Any) -> None:
    """Add ``why`` to the ``nudge`` subcommands."""
    why = subcommands.add_parser(
        "why", help="why did (or didn't) a user get a trigger's message: its last evaluations"
    )
    why.add_argument("user_id", metavar="USER")
    why.add_argument("trigger_id", metavar="TRIGGER", nargs="?", help="one trigger (default: all)")
    why.add_argument("--limit", type=int, default=10, help="evaluations to show (default 10)")
    why.add_argument("--json", action="store_true", help="print JSON (the API's WhyView)")
    why.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Print the answer; 1 when the database cannot be read, 2 for an unknown trigger."""
    from sinks.history import History, HistoryUnavailable
    from streams.core.views import render_why, why_view

    definitions = _definitions(settings)
    if args.trigger_id is not None and args.trigger_id not in {d.id for d in definitions}:
        print(f"why: no trigger {args.trigger_id!r} in force", file=sys.stderr)
        return 2
    history = History(settings)
    try:
        decisions = history.decisions(args.user_id, args.trigger_id, max(1, args.limit))
    except HistoryUnavailable as exc:
        print(f"why: {exc}", file=sys.stderr)
        return 1
    finally:
        history.close()
    answer = why_view(args.user_id, args.trigger_id, definitions, decisions)
    if args.json:
        print(orjson.dumps(answer.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode())
    else:
        print(render_why(answer))
    return 0


def _definitions(settings: Settings) -> list[Any]:
    """Return the definitions in force (the shipped ones if the broker cannot be read)."""
    from aiokafka.errors import KafkaError

    from streams.cli.definitions import effective
    from streams.core.triggers.catalogue import default_definitions

    try:
        found = asyncio.run(asyncio.wait_for(effective(settings), DEFINITIONS_TIMEOUT_SECONDS))
    except (KafkaError, OSError, TimeoutError):
        print("why: definitions topic unreadable; laid out against the shipped definitions",
              file=sys.stderr)  # fmt: skip
        return list(default_definitions())
    return list(found[0])
