"""The ``nudge`` command line: the one composition root of every process.

It is the only module that reaches into ``sinks`` (lazily), so the stream worker never
imports database code and the sink never imports the stream's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from schemas.settings import SettingError, Settings

#: Exit status when a setting cannot be used (a port in use): as argparse's for a bad
#: command line, the way the program was started is wrong, not the program.
SETTING_ERROR_STATUS = 2


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="nudge", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("worker", help="run a stream worker (Faust)")
    commands.add_parser("sink", help="run a sink: output topics -> PostgreSQL")
    produce = commands.add_parser("produce", help="publish a synthetic population's events")
    produce.add_argument("--users", type=int, default=500, help="users to simulate")
    produce.add_argument("--rate", type=float, default=2000.0, help="events/s; 0 = unlimited")
    produce.add_argument("--seed", type=int, default=7)
    produce.add_argument("--history-days", type=int, default=100)
    produce.add_argument("--invalid-share", type=float, default=0.0, help="malformed share")
    produce.add_argument(
        "--story-share", type=float, default=0.0, help="share of users living a story"
    )
    schemas = commands.add_parser("schemas", help="contract tools")
    schemas_commands = schemas.add_subparsers(dest="action", required=True)
    export = schemas_commands.add_parser("export", help="write JSON Schema files")
    export.add_argument("directory", type=Path)
    db = commands.add_parser("db", help="database tools")
    db_commands = db.add_subparsers(dest="action", required=True)
    db_commands.add_parser("upgrade", help="apply Alembic migrations up to head")
    report = commands.add_parser("report", help="effectiveness reports from the database")
    report_commands = report.add_subparsers(dest="action", required=True)
    for name, text in (
        ("effectiveness", "per trigger, template and channel: sends, engagement, conversion"),
        ("interventions", "per intervention type: responses and prevented defaults"),
    ):
        one = report_commands.add_parser(name, help=text)
        one.add_argument("--days", type=int, choices=(7, 30, 90), default=30, help="window")
        one.add_argument("--json", action="store_true", help="print JSON, not tables")
    topics = commands.add_parser("topics", help="Kafka topic tools")
    topics_commands = topics.add_subparsers(dest="action", required=True)
    topics_commands.add_parser("create", help="create every topic that does not exist")
    triggers = commands.add_parser("triggers", help="trigger definitions (hot-reloaded)")
    triggers_commands = triggers.add_subparsers(dest="action", required=True)
    for name, text in (
        ("validate", "check definition files (no Kafka needed)"),
        ("apply", "validate and publish definition files to every worker"),
        ("diff", "show what applying the files would change"),
    ):
        triggers_commands.add_parser(name, help=text).add_argument("files", type=Path, nargs="+")
    triggers_commands.add_parser("list", help="show the definitions in force")
    triggers_commands.add_parser("pause", help="pause one trigger").add_argument("trigger_id")
    demo = commands.add_parser("demo", help="run the whole pipeline on synthetic users")
    demo.add_argument("--users", type=int, default=150)
    demo.add_argument("--rate", type=float, default=2000.0)
    demo.add_argument("--seed", type=int, default=7)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named on the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    settings = Settings()
    if args.command in ("worker", "sink"):
        return run_process_command(settings, args.command)
    elif args.command == "produce":
        from streams.simulation.population import Mix
        from streams.simulation.simulated_publisher import produce

        report = asyncio.run(
            produce(settings, users=args.users, rate=args.rate, seed=args.seed,
                    history_days=args.history_days, invalid_share=args.invalid_share,
                    mix=Mix(story_share=args.story_share))
        )  # fmt: skip
        print(f"sent {report.events_sent} events ({report.invalid_sent} malformed) "
              f"for {report.users} users in {report.seconds:.1f} s")  # fmt: skip
    elif args.command == "schemas":
        from schemas.export import export_schemas

        for path in export_schemas(args.directory):
            print(path)
    elif args.command == "db":
        from sinks.migrate import upgrade

        upgrade(settings)
        print("database: migrated to head")
    elif args.command == "report":
        return run_report_command(settings, args)
    elif args.command == "topics":
        from streams.runtime.kafka_admin import ensure_topics

        created = asyncio.run(ensure_topics(settings))
        print(f"topics: created {len(created)}")
    elif args.command == "triggers":
        return run_triggers_command(settings, args)
    elif args.command == "demo":
        from streams.demo.run import run_demo

        return run_demo(settings, users=args.users, rate=args.rate, seed=args.seed)
    return 0


def run_process_command(settings: Settings, command: str) -> int:
    """Run ``nudge worker`` or ``nudge sink`` until stopped; a setting it cannot use is one line."""
    try:
        if command == "worker":
            from streams.runtime.worker import run_worker

            run_worker(settings)
        else:
            run_sink(settings)
    except SettingError as exc:
        print(f"nudge {command}: {exc}", file=sys.stderr)
        return SETTING_ERROR_STATUS
    return 0


def run_sink(settings: Settings) -> None:
    """Serve the sink's metrics, create missing topics, then consume until stopped."""
    from sinks.worker import main as run_sink_process
    from sinks.worker import serve_metrics
    from streams.runtime.kafka_admin import ensure_topics
    from streams.runtime.logs import configure_logging

    configure_logging(settings.log_level)
    serve_metrics(settings)  # first: a sink that cannot be scraped must not start consuming
    asyncio.run(ensure_topics(settings))
    run_sink_process(settings)


def run_report_command(settings: Settings, args: argparse.Namespace) -> int:
    """Dispatch ``nudge report ACTION``: print it, or say why it cannot be made."""
    from sinks.reports import build as report

    try:
        made = report.build(settings, args.action, args.days)
    except report.ReportError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    print(report.render_json(made) if args.json else report.render_text(made))
    return 0


def run_triggers_command(settings: Settings, args: argparse.Namespace) -> int:
    """Dispatch ``nudge triggers ACTION``."""
    from streams.cli import triggers as commands

    if args.action == "validate":
        return commands.validate(args.files)
    if args.action == "apply":
        return commands.apply(settings, args.files)
    if args.action == "diff":
        return commands.diff(settings, args.files)
    if args.action == "pause":
        return commands.pause(settings, args.trigger_id)
    return commands.list_definitions(settings)


if __name__ == "__main__":
    sys.exit(main())
