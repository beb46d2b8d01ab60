"""The worker's metrics and health endpoint, and the watchdog that acts on its verdict.

Both run in threads of their own, so they answer (and act) even when the event loop is
blocked: that is one of the failures they exist to catch.
"""

from __future__ import annotations

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from streams.runtime.failstop import fail_stop
from streams.runtime.health import SAMPLE_SECONDS, Progress, problems

log = logging.getLogger(__name__)


class HealthJudge:
    """Judges a worker's ``Progress`` with its settings."""

    def __init__(
        self, progress: Progress, *, stall_seconds: float, tick_interval_seconds: float
    ) -> None:
        self.progress = progress
        self.stall_seconds = stall_seconds
        self.tick_interval_seconds = tick_interval_seconds

    def problems(self) -> list[str]:
        """Return why the worker is unhealthy; nothing before its first sample."""
        if self.progress.sampled_at is None and (
            self.progress.clock() - self.progress.started <= self.stall_seconds
        ):
            return []  # still starting: joining the group, recovering tables
        return problems(
            self.progress,
            stall_seconds=self.stall_seconds,
            tick_interval_seconds=self.tick_interval_seconds,
        )


def bind(host: str, port: int) -> ThreadingHTTPServer:
    """Bind ``host:port`` for ``serve``; nothing is answered until then.

    A worker binds first, before it reaches Kafka: one that cannot have its port stops
    at once, and a port in use is the bind's own ``OSError``, not a guess made earlier.
    """
    server = ThreadingHTTPServer((host, port), BaseHTTPRequestHandler)
    server.daemon_threads = True
    return server


def serve(judge: HealthJudge, server: ThreadingHTTPServer) -> None:
    """Serve ``/metrics`` and ``/healthz`` on a ``bind`` result from a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            if self.path.startswith("/metrics"):
                self._answer(200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY))
            elif self.path.startswith("/healthz"):
                found = judge.problems()
                body = orjson.dumps({"healthy": not found, "problems": found})
                self._answer(503 if found else 200, "application/json", body)
            else:
                self._answer(404, "text/plain", b"not found\n")

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base name
            pass  # scrapes and probes every few seconds: not worth a log line

    server.RequestHandlerClass = Handler
    threading.Thread(target=server.serve_forever, name="nudge-http", daemon=True).start()


def watch(judge: HealthJudge) -> threading.Thread:
    """End the process (fail-stop) as soon as the worker is judged unhealthy."""

    def loop() -> None:
        while True:
            time.sleep(SAMPLE_SECONDS)
            found = judge.problems()
            if found:
                fail_stop("the worker stopped making progress", problems=found)

    thread = threading.Thread(target=loop, name="nudge-watchdog", daemon=True)
    thread.start()
    return thread
