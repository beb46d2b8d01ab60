"""``nudge worker`` and ``nudge sink``: the two long-running processes."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from schemas.settings import SettingError, Settings

#: Exit status when a setting cannot be used (a port in use): as argparse's for a bad
#: command line, the way the program was started is wrong, not the program.
SETTING_ERROR_STATUS = 2


def register(subcommands: Any) -> None:
    """Add ``worker`` and ``sink`` to the ``nudge`` subcommands."""
    subcommands.add_parser("worker", help="run a stream worker (Faust)").set_defaults(
        run=run_worker
    )
    subcommands.add_parser("sink", help="run a sink: output topics -> PostgreSQL").set_defaults(
        run=run_sink
    )


def run_worker(settings: Settings, args: argparse.Namespace) -> int:
    """Run a stream worker until stopped; a setting it cannot use is one line."""
    from streams.runtime.worker import run_worker as run

    history = None
    if settings.api_callers() and settings.web_port:
        from sinks.history import History  # the query API reads history from PostgreSQL

        history = History(settings)
    return _reporting_settings("worker", lambda: run(settings, history))


def run_sink(settings: Settings, args: argparse.Namespace) -> int:
    """Serve the sink's metrics, create missing topics, then consume until stopped."""

    def run() -> None:
        from sinks.worker import main as run_sink_process
        from sinks.worker import serve_metrics
        from streams.runtime.kafka_admin import ensure_topics
        from streams.runtime.logs import configure_logging

        configure_logging(settings.log_level)
        serve_metrics(settings)  # first: a sink that cannot be scraped must not start consuming
        asyncio.run(ensure_topics(settings))
        run_sink_process(settings)

    return _reporting_settings("sink", run)


def _reporting_settings(command: str, run: Any) -> int:
    try:
        run()
    except SettingError as exc:
        print(f"nudge {command}: {exc}", file=sys.stderr)
        return SETTING_ERROR_STATUS
    return 0
