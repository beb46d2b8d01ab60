"""Structured logs: one JSON object per line, quiet at INFO.

Records carry a message and fields passed with ``extra=``; never personal data or secrets
(the intake logs field paths and offsets, not values).

Libraries' warnings and errors that repeat are rate-limited (``RepeatFilter``): while the
broker is away, aiokafka retries without pause and logged about 4,400 errors (two kinds) a
second; now each kind prints once, then once per ``REPEAT_SUMMARY_SECONDS`` with a count.

A request the web server cannot parse (a request line over 8,190 bytes, a bad header) is
said in one warning with the error's name and status (``MalformedRequestFilter``): aiohttp
logs it as an error with a traceback quoting the start of the request line, which for the
query API names a user.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp.http_exceptions import HttpProcessingError

#: Attributes every LogRecord has; anything else came from ``extra=`` and is logged.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
#: Chatty libraries: their INFO is start-up banners and rebalance tables.
#: aiohttp: the workers' web server, whose access log would name each path asked for.
QUIET_LOGGERS = (
    "aiokafka", "faust", "mode", "kafka", "sqlalchemy", "psycopg", "alembic", "aiohttp",
)  # fmt: skip
#: The most these libraries log, even when Nudge logs at DEBUG: their DEBUG prints whole
#: messages and rows (aiokafka's producer every key and value it sends, Faust every value
#: an agent yields, SQLAlchemy every result row), which are personal data.
LIBRARY_MOST_VERBOSE = "INFO"
#: A repeated library warning or error prints at most once per this many seconds, with the
#: count of the ones held back. Ten seconds: an outage still shows as it goes on, a few
#: lines per kind per minute instead of thousands per second.
REPEAT_SUMMARY_SECONDS = 10.0
#: Kinds remembered at most; beyond it the oldest are forgotten (and print again).
REPEAT_KINDS_MAX = 1000


@dataclass(slots=True)
class _Repeats:
    since: float
    """When a record of this kind was last let through (monotonic seconds)."""
    held: int = 0
    """Records of this kind held back since then."""


class RepeatFilter(logging.Filter):
    """Let the first of a kind of library warning through, then one per interval with a count.

    A kind is the logger, the level and the message *template* (``record.msg``, before
    its arguments are filled in), so "Unable connect to node with id %s: %s" is one kind
    whatever the node and error. The record let through after the interval carries
    ``repeated`` (records held back since the last one printed) and ``repeated_seconds``
    (over how long). Records below WARNING, and those of Nudge's own loggers, always pass.

    Args:
        interval: Seconds between two records of one kind; ``REPEAT_SUMMARY_SECONDS``.
        loggers: Logger names (and their children) that are rate-limited.
        clock: Monotonic time in seconds; tests pass their own.
    """

    def __init__(
        self,
        interval: float = REPEAT_SUMMARY_SECONDS,
        loggers: Iterable[str] = QUIET_LOGGERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.interval = interval
        self.loggers = tuple(loggers)
        self.clock = clock
        self._kinds: dict[tuple[str, int, str], _Repeats] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        """Return whether ``record`` is printed; annotate it when it sums up held ones."""
        if record.levelno < logging.WARNING or not self._limited(record.name):
            return True
        kind = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        with self._lock:
            seen = self._kinds.get(kind)
            if seen is None:
                if len(self._kinds) >= REPEAT_KINDS_MAX:
                    del self._kinds[next(iter(self._kinds))]
                self._kinds[kind] = _Repeats(since=now)
                return True
            if now - seen.since < self.interval:
                seen.held += 1
                return False
            if seen.held:
                record.repeated = seen.held
                record.repeated_seconds = round(now - seen.since, 1)
            seen.since, seen.held = now, 0
            return True

    def _limited(self, name: str) -> bool:
        return any(name == logger or name.startswith(f"{logger}.") for logger in self.loggers)


class MalformedRequestFilter(logging.Filter):
    """Say a request aiohttp could not parse as a warning that quotes nothing of it.

    aiohttp's server logs such a request (``HttpProcessingError``: a line too long, a bad
    header, a bad method) as an ERROR whose traceback and message repeat the start of
    the request line: a user id for the query API. The caller got its 400; the worker
    needs only to know that it happened.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite aiohttp's record of a malformed request in place; pass every record."""
        error = record.exc_info[1] if record.exc_info else None
        if record.name.startswith("aiohttp.") and isinstance(error, HttpProcessingError):
            record.msg, record.args = "a malformed http request was refused", ()
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
            record.error = type(error).__name__
            record.status = error.code
        return True


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as JSON with its ``extra`` fields."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def logging_config(level: str) -> dict[str, Any]:
    """Return a ``logging.config.dictConfig`` document for JSON logs at ``level``."""
    library_level = LIBRARY_MOST_VERBOSE if level == "DEBUG" else "WARNING"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "streams.runtime.logs.JsonFormatter"}},
        "filters": {
            "malformed": {"()": "streams.runtime.logs.MalformedRequestFilter"},
            "repeats": {"()": "streams.runtime.logs.RepeatFilter"},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["malformed", "repeats"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {name: {"level": library_level} for name in QUIET_LOGGERS},
    }


def configure_logging(level: str) -> None:
    """Install JSON logging for this process."""
    import logging.config

    logging.config.dictConfig(logging_config(level))
