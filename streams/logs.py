"""Structured logs: one JSON object per line, quiet at INFO.

Records carry a message and fields passed with ``extra=``; never personal data or secrets
(the intake logs field paths and offsets, not values).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

#: Attributes every LogRecord has; anything else came from ``extra=`` and is logged.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
#: Chatty libraries: their INFO is start-up banners and rebalance tables.
QUIET_LOGGERS = ("aiokafka", "faust", "mode", "kafka", "sqlalchemy", "psycopg", "alembic")
#: The most these libraries log, even when Nudge logs at DEBUG: their DEBUG prints whole
#: messages and rows (aiokafka's producer every key and value it sends, Faust every value
#: an agent yields, SQLAlchemy every result row), which are personal data.
LIBRARY_MOST_VERBOSE = "INFO"


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
        "formatters": {"json": {"()": "streams.logs.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
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
