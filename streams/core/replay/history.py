"""Input messages to the time-ordered events a replay processes.

Each message is decoded exactly as the worker decodes it (``schemas.intake.decode_event``),
with the message's broker timestamp as the processing clock (the earliest moment the
worker could have read it): what the worker would have dead-lettered is counted by kind
and left out. The valid events are kept when their ``occurred_at`` falls in the window
(or its warm-up) and put in event-time order; ties keep topic, partition and offset
order, so the same messages always replay the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.events import Event
from schemas.intake import Rejection, decode_event


@dataclass(frozen=True, slots=True)
class InputMessage:
    """One message of an input topic, as read from the broker.

    Attributes:
        topic: Its topic's full name.
        partition: Its partition.
        offset: Its offset.
        key: The Kafka key (the user id).
        value: The Kafka value (one JSON event).
        timestamp: The broker's timestamp (aware): the processing clock it is decoded with.
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class Window:
    """The stretch of event time a replay reports on.

    Attributes:
        start: Decisions from here on are counted (aware).
        end: Events from here on are left out; the timer runs up to here.
        warmup_seconds: Events this long before ``start`` are processed first, their
            decisions not counted: baselines, cooldowns and caps start warm.
    """

    start: datetime
    end: datetime
    warmup_seconds: float = 0.0

    @property
    def folded_from(self) -> datetime:
        """The oldest event time processed: ``start`` less the warm-up."""
        return self.start - timedelta(seconds=self.warmup_seconds)

    def counts(self, at: datetime) -> bool:
        """Return whether a decision or command made at ``at`` is reported."""
        return self.start <= at < self.end


@dataclass(slots=True)
class History:
    """The events to replay, in order, and what was left out.

    Attributes:
        events: Valid events from ``folded_from`` to ``end``, in event-time order.
        messages: Messages read.
        dead_letters: Messages the worker would have dead-lettered, by rejection kind.
        outside: Valid events dated before ``folded_from`` or from ``end`` on.
        warmup: How many of ``events`` are warm-up (before ``start``).
    """

    events: list[Event] = field(default_factory=list)
    messages: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    outside: int = 0
    warmup: int = 0


def take_in(messages: Iterable[InputMessage], window: Window) -> History:
    """Decode ``messages`` as the worker does; return the window's events in event-time order."""
    history = History()
    kept: list[tuple[datetime, str, int, int, Event]] = []
    oldest = window.folded_from
    for message in messages:
        history.messages += 1
        decoded, _ = decode_event(message.key, message.value, now=message.timestamp)
        if isinstance(decoded, Rejection):
            history.dead_letters[decoded.kind.value] += 1
            continue
        at = decoded.occurred_at
        if not oldest <= at < window.end:
            history.outside += 1
            continue
        kept.append((at, message.topic, message.partition, message.offset, decoded))
    kept.sort(key=lambda item: item[:4])
    history.events = [item[4] for item in kept]
    history.warmup = sum(1 for item in kept if item[0] < window.start)
    return history
