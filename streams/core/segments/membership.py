"""Who is in which live segment: judged on the record, on each event and by the timer.

Each segment in force (``streams.core.state.segment_tracks.Segments``) is judged for the
user; a user it now holds for joins (``UserState.segments`` keeps when), a member it no
longer holds for leaves, and so does a member of a segment that was paused or removed.
Each join and leave is a ``SegmentChange`` with the reason in words and an id derived
from its cause: the event's id, or for the timer the user's newest event time (with no
event between, a pass repeated after a crash repeats the ids).

The criteria (``schemas.segments``) are judged at ``at``: the evaluating event's time or
the user's newest, whichever is later (a late event does not make a user look inactive),
or the timer's clock. Feature comparisons use the evaluation's features.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from schemas.ids import derived_id
from schemas.segments import (
    ANY_EVENT,
    Aggregate,
    Count,
    Criterion,
    Seen,
    SegmentAll,
    SegmentAny,
    SegmentChange,
    SegmentChangeKind,
    SegmentDefinition,
    SegmentNot,
    Sequence,
)
from schemas.triggers import Comparison
from streams.core.features.context import FeatureContext
from streams.core.state.record import UserState
from streams.core.state.segment_tracks import Segments
from streams.core.triggers.conditions import compare
from streams.core.units import SECONDS_PER_DAY

#: Comparisons allow this much, so a figure at a decimal edge falls where its value does.
_EPSILON = 1e-9

#: Each measure's daily figures: UTC day -> value, from the record.
_DAILY: dict[str, Callable[[UserState], dict[int, float]]] = {
    "spend": lambda s: {day: cents / 100 for day, cents in s.daily_spend.items()},
    "sessions": lambda s: dict(s.daily_sessions),
    "visits": lambda s: {day: float(v[0]) for day, v in s.visit_days.items()},
    "pages": lambda s: {day: float(v[1]) for day, v in s.visit_days.items()},
    "visit_minutes": lambda s: {day: v[2] / 60 for day, v in s.visit_days.items()},
}


def holds(node: Criterion, ctx: FeatureContext, at: float) -> bool:
    """Return whether a criteria tree holds for the user at ``at`` (epoch seconds)."""
    if isinstance(node, SegmentAll):
        return all(holds(child, ctx, at) for child in node.all)
    if isinstance(node, SegmentAny):
        return any(holds(child, ctx, at) for child in node.any)
    if isinstance(node, SegmentNot):
        return not holds(node.not_, ctx, at)
    if isinstance(node, Comparison):
        return compare(node, ctx, {}, at)
    state = ctx.state
    if isinstance(node, Seen):
        last = state.watermark if node.seen == ANY_EVENT else state.last_seen.get(node.seen, 0.0)
        return last > 0 and at - last <= node.within
    if isinstance(node, Count):
        times = state.event_times.get(node.count, ())
        return sum(1 for t in times if at - node.within < t <= at) >= node.at_least
    if isinstance(node, Sequence):
        done = state.sequences.get(node.key)
        return done is not None and at - done <= node.in_last
    return _aggregate_holds(node, state, at)


def aggregate(node: Aggregate, state: UserState, at: float) -> float:
    """Return the aggregation's figure over its window of UTC days ending with ``at``'s."""
    today = int(at // SECONDS_PER_DAY)
    first = today - node.days + 1
    # The record keeps at most a few dozen days: read those in the window, not each day.
    days = [v for day, v in _DAILY[node.of](state).items() if first <= day <= today]
    if node.aggregate == "sum":
        return float(sum(days))
    if node.aggregate == "average":
        return sum(days) / node.days
    if node.aggregate == "max":
        return float(max(days, default=0.0))
    return float(sum(1 for value in days if value > 0))


def _aggregate_holds(node: Aggregate, state: UserState, at: float) -> bool:
    figure = aggregate(node, state, at)
    value = node.value
    if isinstance(value, list):
        return value[0] - _EPSILON <= figure <= value[1] + _EPSILON
    checks = {
        "gt": figure > value + _EPSILON,
        "gte": figure >= value - _EPSILON,
        "lt": figure < value - _EPSILON,
        "lte": figure <= value + _EPSILON,
    }
    return checks[node.op]


def describe(node: Criterion) -> str:
    """Return a criteria tree in words ("at least 5 page_view within 7d and ...")."""
    if isinstance(node, SegmentAll | SegmentAny):
        children = node.all if isinstance(node, SegmentAll) else node.any
        joiner = " and " if isinstance(node, SegmentAll) else " or "
        parts = [describe(c) for c in children]
        return joiner.join(f"({p})" if " and " in p or " or " in p else p for p in parts)
    if isinstance(node, SegmentNot):
        return f"not ({describe(node.not_)})"
    if isinstance(node, Comparison):
        return f"{node.feature} {node.op} {node.value}"
    if isinstance(node, Seen):
        what = "an event" if node.seen == ANY_EVENT else f"a {node.seen}"
        return f"{what} within {_span(node.within)}"
    if isinstance(node, Count):
        return f"at least {node.at_least} {node.count} within {_span(node.within)}"
    if isinstance(node, Sequence):
        first, then = node.sequence
        return f"{first} then {then} within {_span(node.within)}, in the last {_span(node.in_last)}"
    return f"{node.aggregate} of {node.of} over {node.days}d {node.op} {node.value}"


def _span(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _failing(definition: SegmentDefinition, ctx: FeatureContext, at: float) -> str:
    """Return, in words, the first part of the criteria that no longer holds."""
    root = definition.when
    if isinstance(root, SegmentAll):
        for child in root.all:
            if not holds(child, ctx, at):
                return describe(child)
    return describe(root)


def update_segments(
    ctx: FeatureContext, segments: Segments, *, at: float, cause: str | None = None
) -> list[SegmentChange]:
    """Judge every segment in force for the user; return the joins and leaves.

    Args:
        ctx: The evaluation (an event's, or the timer's); its record is changed in place.
        segments: The segments in force.
        at: The time to judge at (epoch seconds; see the module's docstring).
        cause: The evaluating event's id; ``None`` for the timer.
    """
    state = ctx.state
    members = state.segments
    changes: list[SegmentChange] = []

    def change(segment_id: str, kind: SegmentChangeKind, reason: str, since: int | None) -> None:
        reason_cause = cause or f"timer:{int(state.watermark)}"
        changes.append(
            SegmentChange(
                change_id=derived_id(
                    "segment", ctx.user_id, segment_id, kind.value, reason_cause, str(since)
                ),
                user_id=ctx.user_id,
                segment_id=segment_id,
                change=kind,
                reason=reason[:500],
                occurred_at=datetime.fromtimestamp(at, UTC),
                source_event_id=cause,
                member_since=None if since is None else datetime.fromtimestamp(since, UTC),
            )
        )

    in_force = segments.ids
    for segment_id in [s for s in members if s not in in_force]:
        change(segment_id, SegmentChangeKind.LEFT, "segment removed", members.pop(segment_id))
    for definition in segments.definitions:
        was = definition.id in members
        active = definition.status == "active"
        now_in = active and holds(definition.when, ctx, at)
        if now_in and not was:
            members[definition.id] = int(at)
            change(definition.id, SegmentChangeKind.JOINED, describe(definition.when), None)
        elif was and not now_in:
            reason = f"no longer: {_failing(definition, ctx, at)}" if active else "segment paused"
            change(definition.id, SegmentChangeKind.LEFT, reason, members.pop(definition.id))
    return changes


def member_of_any(state: UserState, segments: list[str]) -> bool:
    """Whether the user is in one of ``segments``.

    A live one (judged on each event and by the timer), or one the producer's
    ``profile_update.segments`` names.
    """
    live = state.segments
    return any(s in live for s in segments) or bool(
        set(state.profile.get("segments", ())) & set(segments)
    )
