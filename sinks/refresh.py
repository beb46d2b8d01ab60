"""When the sink reads a gauge's figures from the database again, and how.

Figures derived from a table change only when the table gets new rows, so each gauge is
read at start-up and again after a batch that stored new rows in its table, at most once
every interval: a burst of rows costs one read, and the last row of a burst is counted at
most an interval after it was stored. The read runs in a thread, in the background of the
consuming loop. A failed read (the database away) is logged and tried again after the
interval; the gauge keeps its last values meanwhile. ``sinks.segment_sizes``,
``sinks.user_figures``, ``sinks.experiment_figures`` and ``sinks.recommendation_figures``
are the refreshers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

Figures = TypeVar("Figures")


class Refresh(ABC, Generic[Figures]):
    """Decides when to read a gauge's figures again, reads them and sets the gauge.

    Subclasses name their ``tables`` (whose new rows make the figures stale), say how
    to ``read`` and ``publish``, and give their module's ``REFRESH_SECONDS`` as the
    ``default_interval`` (read when a refresher is made, so tests can shorten it).

    Args:
        engine: The sink's engine.
        interval: Shortest time between two reads, in seconds; ``None``: the default.
        clock: Monotonic seconds (``time.monotonic``; tests pass their own).
    """

    #: The tables whose new rows make the figures stale.
    tables: frozenset[str]
    #: What is read, for the log ("segment sizes").
    what: str

    def __init__(
        self,
        engine: Engine,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._interval = self.default_interval() if interval is None else interval
        self._clock = clock
        self._shown: set[Any] = set()
        """Label values with a series now (a gauge drops the others)."""
        self._stale = True  # nothing read yet: read at start-up
        self._last_read: float | None = None
        self._reading: asyncio.Task[None] | None = None

    @abstractmethod
    def default_interval(self) -> float:
        """Return the shortest time between two reads, in seconds."""

    @abstractmethod
    def read(self, engine: Engine) -> Figures:
        """Return the figures (called in a thread)."""

    @abstractmethod
    def publish(self, figures: Figures) -> None:
        """Set the gauge to ``figures`` (called on the loop)."""

    def changed(self) -> None:
        """Note that new rows were stored in ``tables``: the figures may differ now."""
        self._stale = True

    def due(self) -> bool:
        """Return whether a read should start now: stale, none running, interval passed."""
        if not self._stale or self._reading is not None:
            return False
        return self._last_read is None or self._clock() - self._last_read >= self._interval

    def refresh_if_due(self) -> None:
        """Start a read in the background if one is due; the caller does not wait for it."""
        if self.due():
            self._stale = False
            self._last_read = self._clock()
            self._reading = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            figures = await asyncio.to_thread(self.read, self._engine)
        except SQLAlchemyError as exc:
            self._stale = True  # read again after the interval
            log.warning(
                "gauge figures not read; trying again",
                extra={"figures": self.what, "error": type(exc).__name__},
            )
            return
        finally:
            self._reading = None
        self.publish(figures)

    async def wait(self) -> None:
        """Wait for a read in progress, if any (before the engine is disposed of)."""
        reading = self._reading
        if reading is not None:
            await reading
