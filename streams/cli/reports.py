"""``nudge report ...``: effectiveness reports read from PostgreSQL."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from schemas.settings import Settings


def register(subcommands: Any) -> None:
    """Add ``report`` to the ``nudge`` subcommands."""
    report = subcommands.add_parser("report", help="effectiveness reports from the database")
    actions = report.add_subparsers(dest="action", required=True)
    for name, text in (
        ("effectiveness", "per trigger, template and channel: sends, engagement, conversion"),
        ("interventions", "per intervention type: responses and prevented defaults"),
        ("behavior", "behaviour changes per activity and direction: changes, users, size"),
        ("segments", "per segment: members now, joins and leaves (per UTC day too)"),
        ("users", "active users per pattern and per score band, from their latest snapshot"),
        ("personalization", "per personalization rule: users matched, sent, engaged, converted"),
    ):
        one = actions.add_parser(name, help=text)
        one.add_argument("--days", type=int, choices=(7, 30, 90), default=30, help="window")
        one.add_argument("--json", action="store_true", help="print JSON, not tables")
        if name == "users":
            one.add_argument(
                "--pattern",
                metavar="P",
                help="only users with pattern P (none: without one), and list up to 10",
            )
        one.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Print the report, or say why it cannot be made."""
    from sinks.reports import build as report

    try:
        made = report.build(settings, args.action, args.days, getattr(args, "pattern", None))
    except report.ReportError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    print(report.render_json(made) if args.json else report.render_text(made))
    return 0
