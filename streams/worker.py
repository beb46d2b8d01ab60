"""Run the stream worker process."""

from __future__ import annotations

import asyncio
import logging

import faust
from prometheus_client import start_http_server

from schemas.settings import Settings
from streams.app import create_app
from streams.kafka import ensure_topics
from streams.logs import configure_logging, logging_config

log = logging.getLogger(__name__)


def run_worker(settings: Settings) -> None:
    """Create missing topics, serve metrics, and run the Faust worker until stopped.

    SIGTERM and SIGINT stop it cleanly: the current batch finishes and offsets commit.
    """
    configure_logging(settings.log_level)
    asyncio.run(ensure_topics(settings))
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr="0.0.0.0")  # noqa: S104 - scraped from outside
    app = create_app(settings)
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
