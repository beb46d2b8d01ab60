"""Fail-stop: an unprocessed batch is never acknowledged; a stuck worker ends itself.

A worker that can no longer process ends its process, so that its supervisor starts a
new one.
Faust's ``Stream.take_events`` acknowledges every event of a batch in a ``finally``, so a
batch whose handling raised, or was cancelled (a rebalance restarts agents by cancelling
them), would have its offsets committed unprocessed: lost, with lag 0 and a healthy look.
``withhold`` marks such a batch's messages as acknowledged *without* telling the consumer,
so the ``finally`` skips them and no offset from the first of them on is ever committed;
the batch is read again by whoever next owns the partition.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from typing import Any, NoReturn

log = logging.getLogger(__name__)

#: Exit status of a fail-stop (``EX_SOFTWARE`` of sysexits.h): the process could not go on.
EXIT_FAIL_STOP = 70


def withhold(batch: Iterable[Any]) -> None:
    """Keep Faust from acknowledging ``batch`` (Faust events): nothing of it is committed."""
    for event in batch:
        # Message.ack() does nothing for a message already marked acked, so the
        # consumer never records these offsets as safe to commit.
        event.message.acked = True


def fail_stop(what: str, error: BaseException | None = None, **fields: Any) -> NoReturn:
    """Log why, then end the process at once with ``EXIT_FAIL_STOP``.

    At once, not gracefully: a graceful stop commits offsets, and what failed must be
    read again. Outputs already handed to the producer but not flushed are lost with
    their offsets uncommitted, so they are produced again on the re-read (same ids).
    """
    extra = {"error": type(error).__name__ if error else None, **fields}
    log.critical(f"fail-stop: {what}", extra=extra, exc_info=error is not None)
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stderr.flush()
    os._exit(EXIT_FAIL_STOP)
