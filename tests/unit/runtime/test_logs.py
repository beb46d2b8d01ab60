"""Logs never carry message bodies or keys, even at DEBUG."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from streams.runtime.logs import QUIET_LOGGERS, logging_config

#: What the libraries would log at DEBUG (aiokafka's producer logs each key and value sent).
PROBE = """
import logging
from streams.runtime.logs import configure_logging
configure_logging("DEBUG")
logging.getLogger("aiokafka.producer.producer").debug(
    "Sending (key=%s value=%s) to %s", b"user-7", b'{"first_name": "SECRET-BODY"}', "tp"
)
logging.getLogger("faust.agents.agent").debug("%r yielded: %r", "fun", "SECRET-YIELD")
logging.getLogger("sqlalchemy.engine.Engine").debug("Row %r", ("SECRET-ROW",))
logging.getLogger("streams.runtime.agents.ingest").debug("nudge's own debug line")
logging.getLogger("aiokafka.consumer").info("library info still shows")
"""


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING", "ERROR"])
def test_libraries_never_log_below_info(level: str) -> None:
    loggers = logging_config(level)["loggers"]
    assert set(QUIET_LOGGERS) <= set(loggers)
    assert {"aiokafka", "faust", "sqlalchemy"} <= set(QUIET_LOGGERS)
    assert all(loggers[name]["level"] != "DEBUG" for name in QUIET_LOGGERS)


def test_debug_logs_print_no_bodies_keys_or_rows() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    assert "nudge's own debug line" in done.stderr
    assert "library info still shows" in done.stderr
    for secret in ("SECRET-BODY", "user-7", "SECRET-YIELD", "SECRET-ROW"):
        assert secret not in done.stderr


#: What aiohttp's server logs for a request line over its limit, through Nudge's logging.
MALFORMED = """
import logging
from aiohttp.http_exceptions import LineTooLong
from streams.runtime.logs import configure_logging
configure_logging("INFO")
try:
    raise LineTooLong("/users/SECRET-USER-ID/why?trigger=spending_spike", "8190")
except LineTooLong as error:
    logging.getLogger("aiohttp.server").error("Error handling request", exc_info=error)
try:
    raise RuntimeError("a bug in a view")
except RuntimeError as error:
    logging.getLogger("aiohttp.server").error("Error handling request", exc_info=error)
logging.getLogger("aiohttp.access").info('127.0.0.1 "GET /users/SECRET-ACCESS HTTP/1.1" 200')
"""


def test_a_malformed_request_is_one_warning_that_quotes_none_of_it() -> None:
    ran = subprocess.run(
        [sys.executable, "-c", MALFORMED], capture_output=True, text=True, check=True
    )
    entries = [json.loads(line) for line in ran.stderr.splitlines()]
    assert "SECRET" not in ran.stderr
    refused, bug = entries  # the access line is below the library level
    assert refused == {
        "time": refused["time"], "level": "WARNING", "logger": "aiohttp.server",
        "message": "a malformed http request was refused", "error": "LineTooLong", "status": 400,
    }  # fmt: skip
    # Anything else aiohttp's server logs is left as it was: an error with its traceback.
    assert (bug["level"], bug["message"]) == ("ERROR", "Error handling request")
    assert "RuntimeError: a bug in a view" in bug["exception"]
