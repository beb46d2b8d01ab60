"""Run the stream worker process."""

from __future__ import annotations

import asyncio
import logging
from http.server import ThreadingHTTPServer

import faust

from schemas.settings import SettingError, Settings
from streams.runtime.api import HistoryReader
from streams.runtime.app import create_app
from streams.runtime.health_server import HealthJudge, bind, serve, watch
from streams.runtime.kafka_admin import ensure_topics
from streams.runtime.logs import configure_logging, logging_config

log = logging.getLogger(__name__)


def run_worker(settings: Settings, history: HistoryReader | None = None) -> None:
    """Create missing topics, serve metrics, and run the Faust worker until stopped.

    SIGTERM and SIGINT stop it cleanly: the current batch finishes and offsets commit.
    ``history`` is where the query API reads PostgreSQL, when it is on.
    A worker that stops making progress ends itself (``streams.runtime.health``); one whose
    batch fails ends at once without committing it (``streams.runtime.failstop``).

    Raises:
        SettingError: The metrics port cannot be bound (raised before Kafka is contacted).
    """
    configure_logging(settings.log_level)
    if settings.processing_guarantee == "exactly_once" and not settings.unsafe_exactly_once:
        msg = (
            "NUDGE_PROCESSING_GUARANTEE=exactly_once loses events under faults (make chaos); "
            "use at_least_once, or set NUDGE_UNSAFE_EXACTLY_ONCE=true to test it"
        )
        raise SystemExit(msg)
    # First: a worker whose metrics and health cannot be served must not join the group.
    server = bind_metrics_port(settings)
    asyncio.run(ensure_topics(settings))
    app = create_app(settings, history=history)
    judge = HealthJudge(
        app.nudge_progress,  # type: ignore[attr-defined] # set by create_app
        stall_seconds=settings.stall_seconds,
        tick_interval_seconds=settings.schedule_interval_seconds,
    )
    if server is not None:
        serve(judge, server)
    watch(judge)
    log.info(
        "worker starting",
        extra={"app_id": settings.app_id, "partitions": settings.partitions,
               "guarantee": settings.processing_guarantee, "store": settings.store},
    )  # fmt: skip
    worker = faust.Worker(
        app,
        loglevel=settings.log_level,
        quiet=True,
        logging_config=logging_config(settings.log_level),
        redirect_stdouts=False,
    )
    worker.execute_from_commandline()


def bind_metrics_port(settings: Settings) -> ThreadingHTTPServer | None:
    """Bind ``bind_address``:``metrics_port`` for ``/metrics`` and ``/healthz``; ``None`` if off.

    Raises:
        SettingError: The port cannot be bound (in use, or the address is not this host's).
    """
    if not settings.metrics_port:
        return None
    try:
        return bind(settings.bind_address, settings.metrics_port)
    except OSError as exc:
        raise SettingError.metrics_port(
            settings, "metrics_port", exc, serves="metrics and /healthz"
        ) from exc
