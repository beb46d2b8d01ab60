"""Sessions ("visits") of a user's web, app and email activity, in event time.

A visit groups a user's activity events (``VISIT_EVENTS``): it ends after ``gap`` seconds
without activity (30 minutes by default), or, when the producer gives a ``session_id``,
holds exactly the events of that id. Events are placed by ``occurred_at``, not arrival:
an event arriving late joins the visit it belongs to, and one that bridges two visits
merges them, as long as those visits are still *open*: they ended less than
``lateness`` before the user's newest event. Later than that, an event no open visit
takes is not sessionised (its own fold still counts it); the visits it could have joined
are summed up already.

The record keeps the open visits one by one (``UserState.visits``: start, end, pages,
session id fingerprint) and every visit in daily totals by its start day
(``UserState.visit_days``: visits, pages, seconds): visits for ``VISIT_DAYS_KEPT`` days,
pages and seconds for the last ``DETAIL_DAYS`` of them only (0 before), plus the sources
seen (a bit per ``schemas.events.Source``). The features of
``streams.core.features.sessions`` read them. Totals change with each event as the visit
it joins grows, so they are exact at any moment.

Encoding (version 3 of the record, key ``vdays``): ``[newest day, base64 varints,
sources]``: for the ``DETAIL_DAYS`` newest days, oldest first, visits + 1 (0 for a day
without any) then pages and seconds; then the visits + 1 of the days before, newest
first. The open visits are written relative to the watermark. A typical user (a visit a
day) takes about 120 bytes for all of it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from schemas.events import Source
from streams.core.state.int_maps import put_varint, read_varints

#: Days of daily visit counts kept: 30 days and today.
VISIT_DAYS_KEPT = 31
#: Newest days whose pages and seconds are kept too: a week and today.
DETAIL_DAYS = 8

#: Event types that are activity in a visit (web, app, email); money, signals and
#: back-office events are not.
VISIT_EVENTS = frozenset(
    {
        "page_view", "search_query", "video_play", "download", "scroll_depth",
        "click_outbound", "form_start", "form_submit", "form_abandon", "quote_request",
        "application_start", "application_complete", "app_session", "feature_used", "login",
        "email_open", "email_click", "email_reply", "social_share",
        "recommendation_interaction",
    }
)  # fmt: skip

#: A bit per source, in ``Source``'s order: never reorder, only append (records hold it).
SOURCE_BITS: dict[str, int] = {source.value: 1 << i for i, source in enumerate(Source)}

_DAY = 86_400

#: A visit: [start, end] (epoch seconds), pages viewed, session id fingerprint (0: none).
Visit = list[int]


class VisitState(Protocol):
    """The part of a user's record visits live in (``UserState`` has it)."""

    watermark: float
    visits: list[Visit]
    visit_days: dict[int, list[int]]
    visit_sources: int


@dataclass(frozen=True, slots=True)
class VisitPolicy:
    """How activity is cut into visits (settings ``NUDGE_SESSION_*``).

    Attributes:
        gap: Seconds without activity that end a visit (without a session id).
        lateness: How long after a visit ended a late event may still join it (seconds).
    """

    gap: float = 1800.0
    lateness: float = 6 * 3600.0


def session_fingerprint(session_id: str) -> int:
    """Return a 16-bit fingerprint of a producer's session id (never 0).

    It tells apart the few visits open at once (two ids alike: 1 in 65,535).
    """
    digest = hashlib.blake2b(session_id.encode(), digest_size=2).digest()
    return int.from_bytes(digest, "big") or 1


def note_visit(
    state: VisitState,
    *,
    start: float,
    end: float,
    pages: int,
    session_id: str | None,
    source: str,
    policy: VisitPolicy,
) -> bool:
    """Fold one activity event, spanning [start, end] (epoch seconds), into the visits.

    ``state`` is the ``UserState`` (its ``visits``, ``visit_days``, ``visit_sources`` and
    ``watermark``, already moved to this event); changed in place.

    Returns:
        Whether the event is a *return visit*: it began a visit on a day without one,
        after a visit on an earlier day (the behaviour scores count them).
    """
    state.visit_sources |= SOURCE_BITS.get(source, 0)
    low, high = int(start), int(end)
    sid = session_fingerprint(session_id) if session_id else 0
    visits: list[Visit] = state.visits
    gap = int(policy.gap)
    if sid:
        joined = [v for v in visits if v[3] == sid]
    else:
        joined = [v for v in visits if v[0] - gap <= high and low <= v[1] + gap and not v[3]]
    horizon = int(state.watermark - policy.lateness)
    if not joined and high < horizon - gap:
        return False  # too late: the visit it belonged to is summed up already
    days = state.visit_days
    day = low // _DAY
    returned = not joined and day not in days and any(d < day for d in days)
    for visit in joined:
        _count(days, visit, -1)
        visits.remove(visit)
    merged = [
        min([low, *(v[0] for v in joined)]),
        max([high, *(v[1] for v in joined)]),
        pages + sum(v[2] for v in joined),
        sid,
    ]
    _count(days, merged, +1)
    visits.append(merged)
    visits.sort()
    # Closed visits are summed up already: only the open ones are kept one by one.
    state.visits = [v for v in visits if v[1] >= horizon - gap]
    newest = max(days)
    for day in [d for d in days if d <= newest - DETAIL_DAYS]:
        if day <= newest - VISIT_DAYS_KEPT:
            del days[day]
        else:
            days[day][1:] = [0, 0]  # beyond the detail days: the visits only
    return returned


def _count(days: dict[int, list[int]], visit: Visit, sign: int) -> None:
    """Add (``sign`` 1) or take back (-1) one visit's part of the daily totals."""
    day = visit[0] // _DAY
    totals = days.setdefault(day, [0, 0, 0])
    totals[0] += sign
    totals[1] += sign * visit[2]
    totals[2] += sign * (visit[1] - visit[0])
    if totals[0] <= 0:
        del days[day]


def pack_visits(state: VisitState) -> list[Any]:
    """Return the daily totals and the sources as ``[newest day, base64, sources]``."""
    days = state.visit_days
    if not days:
        return [] if not state.visit_sources else [0, "", state.visit_sources]
    newest = max(days)
    packed = bytearray()
    for day in range(newest - DETAIL_DAYS + 1, newest + 1):
        totals = days.get(day)
        if totals is None:
            packed.append(0)
            continue
        put_varint(packed, totals[0] + 1)
        put_varint(packed, totals[1])
        put_varint(packed, totals[2])
    oldest = min(days)
    for day in range(newest - DETAIL_DAYS, oldest - 1, -1):
        totals = days.get(day)
        put_varint(packed, 0 if totals is None else totals[0] + 1)
    return [newest, base64.b64encode(bytes(packed)).decode("ascii"), state.visit_sources]


def unpack_visits(packed: list[Any], state: VisitState) -> None:
    """Set ``state``'s daily totals and sources from ``pack_visits``' list.

    Raises:
        ValueError: Text that is not base64, ends inside a number or inside a day.
    """
    if not packed:
        return
    newest, numbers = int(packed[0]), read_varints(packed[1], "daily visits")
    state.visit_sources = int(packed[2])
    days: dict[int, list[int]] = {}
    index = 0
    for day in range(newest - DETAIL_DAYS + 1, newest + 1):
        if index >= len(numbers):
            break
        code = numbers[index]
        index += 1
        if code:
            if index + 1 >= len(numbers):
                msg = "daily visits end inside a day"
                raise ValueError(msg)
            days[day] = [code - 1, numbers[index], numbers[index + 1]]
            index += 2
    for offset, code in enumerate(numbers[index:]):
        if code:
            days[newest - DETAIL_DAYS - offset] = [code - 1, 0, 0]
    state.visit_days = days


def pack_open_visits(visits: list[Visit], watermark: float) -> list[list[int]]:
    """Return the open visits with their times relative to the watermark (shorter)."""
    base = int(watermark)
    return [[v[0] - base, v[1] - base, v[2], v[3]] for v in visits]


def unpack_open_visits(packed: list[list[int]], watermark: float) -> list[Visit]:
    """Rebuild ``pack_open_visits``' list."""
    base = int(watermark)
    return [[v[0] + base, v[1] + base, v[2], v[3]] for v in packed]
