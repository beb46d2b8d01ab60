"""What the record keeps for the segments in force: event times to count, sequences done.

Most segment criteria read what the record keeps anyway (last-seen times, daily spend,
visits). Two need more, and only while a segment in force asks for them:

- a frequency criterion (``{count: page_view, at_least: 5, within: 7d}``) needs the times
  of the newest events of its type: the record keeps the newest ``at_least`` (the most
  any criterion asks of that type) within the longest window asked
  (``UserState.event_times``); ``at_least`` of them within the window is exactly "at
  least that many events in it";
- a sequence criterion (``{sequence: [A, B], within: 2d}``) needs to know when B last
  followed A within the time allowed: noted when a B arrives and the latest A before it
  is close enough (``UserState.sequences``, by ``Sequence.key``).

Both start when the segment is applied: a frequency counts the events since (the record
did not keep their times before), a sequence the Bs since. What no segment in force asks
for any more is dropped at the user's next event.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import cache

from schemas.segments import Count, SegmentDefinition, Sequence, leaves, validate_segments
from streams.core.state.record import UserState
from streams.core.state.shipped import shipped


@dataclass(frozen=True, slots=True)
class Segments:
    """The segment definitions in force, and what they need the record to keep.

    Attributes:
        definitions: The definitions, in the order they were given.
        counted: Event type -> (the most events a criterion counts, the longest window
            in seconds) over the frequency criteria of every definition.
        sequences: ``Sequence.key`` -> the sequence criterion.
    """

    definitions: tuple[SegmentDefinition, ...] = ()
    counted: dict[str, tuple[int, float]] = field(default_factory=dict)
    sequences: dict[str, Sequence] = field(default_factory=dict)
    ids: frozenset[str] = frozenset()
    """The ids of the segments in force."""

    @classmethod
    def of(cls, definitions: tuple[SegmentDefinition, ...]) -> Segments:
        """Return the definitions with what their criteria need kept."""
        counted: dict[str, tuple[int, float]] = {}
        sequences: dict[str, Sequence] = {}
        for definition in definitions:
            for _, leaf in leaves(definition.when):
                if isinstance(leaf, Count):
                    most, longest = counted.get(leaf.count, (0, 0.0))
                    counted[leaf.count] = (max(most, leaf.at_least), max(longest, leaf.within))
                elif isinstance(leaf, Sequence):
                    sequences[leaf.key] = leaf
        return cls(definitions, counted, sequences, frozenset(d.id for d in definitions))


@cache
def default_segments() -> Segments:
    """Return the shipped segments (``streams/catalogue/segments.yaml``), validated."""
    return Segments.of(shipped("segments.yaml", validate_segments))


def track_event(state: UserState, event_type: str, at: float, segments: Segments) -> None:
    """Note an event applied to ``state`` in what the segments in force count.

    Args:
        state: The user's record, with the event already folded in (``last_seen``).
        event_type: The event's type.
        at: Its ``occurred_at`` (epoch seconds).
        segments: The segments in force.
    """
    for kind in [k for k in state.event_times if k not in segments.counted]:
        del state.event_times[kind]
    for key in [k for k in state.sequences if k not in segments.sequences]:
        del state.sequences[key]
    kept = segments.counted.get(event_type)
    if kept is not None:
        most, longest = kept
        times = state.event_times.setdefault(event_type, [])
        bisect.insort(times, int(at))
        horizon = state.watermark - longest
        del times[: max(len(times) - most, bisect.bisect_left(times, horizon))]
        if not times:
            del state.event_times[event_type]
    for key, sequence in segments.sequences.items():
        first, then = sequence.sequence
        if event_type != then:
            continue
        began = state.last_seen.get(first)
        if began is not None and 0 <= at - began <= sequence.within:
            state.sequences[key] = max(state.sequences.get(key, 0), int(at))
