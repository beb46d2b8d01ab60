"""The work behind ``nudge triggers simulate``: a rule change replayed on retained history.

Reads the definitions in force from ``triggers.definitions`` (as ``list`` and ``diff``
do), overlays the files as ``apply`` would publish them, reads the input topics from the
broker by time (``offsets_for_times``) with a consumer of no group (nothing committed, no
group created) up to their end offsets as they were when it started, and replays them
twice through the pure core (``streams.core.replay``): live, then candidate. It produces
to no topic and touches no database.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from schemas.settings import Settings
from schemas.triggers import parse_duration
from streams.core.replay import Window
from streams.core.replay.report import render
from streams.core.triggers.catalogue import DefinitionError, load_files
from streams.runtime.replay_input import simulate_files


@dataclass(frozen=True, slots=True)
class Request:
    """What ``nudge triggers simulate`` was asked.

    Attributes:
        files: The candidate definition files.
        since: Start of the reported window: a duration before now (``7d``) or a time.
        until: Its end, the same way; ``None``: now.
        warmup: Older history folded first, not counted (a duration).
        examples: Users listed per list.
    """

    files: list[Path]
    since: str = "7d"
    until: str | None = None
    warmup: str = "0s"
    examples: int = 3


def run(settings: Settings, request: Request, *, as_json: bool = False) -> int:
    """Simulate the files' definitions against the live ones; print; return the exit status.

    2 when a file is invalid (no input is read then: a file that does not parse is refused
    before the broker is asked anything; a template it names must be in force), else 0.
    """
    try:
        files = load_files(request.files)
    except DefinitionError as error:
        print(error)
        return 2
    try:
        window = window_of(request, datetime.now(UTC))
    except ValueError as error:
        print(f"simulate: {error}")
        return 2
    try:
        simulation, timing = asyncio.run(simulate_files(settings, files, window))
    except DefinitionError as error:
        print(error)
        return 2
    report = simulation.to_json(request.examples)
    if as_json:
        print(json.dumps({**report, "timing": timing}, indent=2))
    else:
        print(render(simulation, request.examples, timing))
    return 0


def window_of(request: Request, now: datetime) -> Window:
    """Return the window a request names, at ``now``.

    Raises:
        ValueError: A time or duration that cannot be read, or an empty window.
    """
    start = moment(request.since, now)
    end = moment(request.until, now) if request.until is not None else now
    if end <= start:
        msg = f"--until ({end.isoformat()}) is not after --since ({start.isoformat()})"
        raise ValueError(msg)
    return Window(start, end, parse_duration(request.warmup))


def moment(text: str, now: datetime) -> datetime:
    """Return ``text`` as a time: a duration before ``now`` (``7d``), or ISO-8601 (UTC if naive).

    Raises:
        ValueError: Neither.
    """
    try:
        return now - timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        msg = f"{text!r} is neither a duration (7d, 36h) nor an ISO-8601 time"
        raise ValueError(msg) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
