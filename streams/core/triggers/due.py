"""When the timer may judge time-based triggers, and which: pure rules, no Faust.

The timer (``streams.runtime.agents.timer``) asks these before each pass: which scheduled
definitions have come round since this worker last ran them, and whether one of its
partitions is still replaying old events (then absences cannot be judged yet).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from schemas.triggers import TriggerDefinition

#: A partition that delivered an old event this recently (worker clock) may still be
#: replaying. A replay is read back to back; a pause this long means it has ended (or
#: only a few late events came), and a quiet partition must not hold the timer forever.
REPLAY_PAUSE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class PartitionRead:
    """What a worker has read from one input partition.

    Attributes:
        newest: ``occurred_at`` of the newest valid event read from it.
        read_at: The worker's clock when it last read one.
    """

    newest: datetime
    read_at: datetime


def due_definitions(
    definitions: Iterable[TriggerDefinition], last_run: Mapping[str, float], now: datetime
) -> list[TriggerDefinition]:
    """Return the scheduled, unpaused definitions whose schedule has come round at ``now``.

    Args:
        definitions: The definitions in force.
        last_run: Trigger id -> clock time (epoch seconds) of the last pass that ran it.
        now: The worker's clock; a clock set back runs every schedule again.
    """
    moment = now.timestamp()
    wanted = []
    for definition in definitions:
        every = definition.evaluate_on.every
        if every is None or definition.status == "paused":
            continue
        last = last_run.get(definition.id)
        if last is None or moment - last >= every or moment < last:
            wanted.append(definition)
    return wanted


def replaying(
    reads: Mapping[int, PartitionRead], partitions: Iterable[int], now: datetime, max_age: float
) -> bool:
    """Return whether one of ``partitions`` still replays events older than ``max_age``.

    Partitions are read side by side, not in step: one may still be days behind in event
    time while another has reached the present, so each is asked.
    """
    return any(
        (now - read.newest).total_seconds() > max_age
        and (now - read.read_at).total_seconds() < REPLAY_PAUSE_SECONDS
        for read in (reads[p] for p in partitions if p in reads)
    )
