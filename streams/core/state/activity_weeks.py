"""Weekly counts of each tracked activity: what behaviour change is judged on.

A user's record keeps, per activity (``schemas.records.Activity``: transactions,
sessions, page views, feature use, logins), the number of events in each UTC week (Monday
to Sunday, by ``occurred_at``) over the ``WEEKS_KEPT`` newest weeks any activity was seen
in: the week in progress, the week judged, the four weeks of its baseline, and one week of
allowed lateness (``streams.core.behavior`` judges a week only once a grace period after
it ended has passed, so the week in progress may be two after the judged one). An event
older than that window is not counted.

Encoding (version 3 of the record, key ``weeks``): ``[newest week, base64 varints]``, one
varint per activity (in ``Activity`` order) and week (oldest first), LEB128 of the count
plus one (0: none), trailing zero bytes left out: a user who never logs in and never uses
a feature pays nothing for them. A typical user takes about 40 bytes.
"""

from __future__ import annotations

import base64
from typing import Any

from schemas.records import Activity
from streams.core.state.int_maps import put_varints, read_varints

#: Weeks kept per activity (see the module's docstring).
WEEKS_KEPT = 7

#: Event type -> the activity it counts towards.
ACTIVITY_OF_EVENT: dict[str, str] = {
    "transaction": Activity.TRANSACTIONS.value,
    "app_session": Activity.SESSIONS.value,
    "page_view": Activity.PAGE_VIEWS.value,
    "feature_used": Activity.FEATURE_USE.value,
    "login": Activity.LOGINS.value,
}

#: The order activities are written in: never reorder, only append (records hold it).
_ORDER: tuple[str, ...] = tuple(activity.value for activity in Activity)

#: 1970-01-01 (day 0) was a Thursday: day 4 is the first Monday.
_MONDAY_OFFSET = 3


def week_of_day(day: int) -> int:
    """Return the week number (Monday-based, UTC) of the day number ``day``."""
    return (day + _MONDAY_OFFSET) // 7


def first_day_of_week(week: int) -> int:
    """Return the day number of the Monday that starts ``week``."""
    return week * 7 - _MONDAY_OFFSET


def count_activity(weeks: dict[str, dict[int, int]], activity: str, week: int) -> None:
    """Count one event of ``activity`` in ``week``; keep only the ``WEEKS_KEPT`` newest weeks.

    ``weeks`` is changed in place. An event older than the window is not counted; a new
    newest week drops the weeks that fall out of the window, for every activity.
    """
    bucket = weeks.get(activity)
    if bucket is not None and week in bucket:
        bucket[week] += 1
        return
    newest = max((max(counts) for counts in weeks.values()), default=week)
    if week <= newest - WEEKS_KEPT:
        return
    if bucket is None:
        bucket = weeks[activity] = {}
    bucket[week] = 1
    if week > newest:
        _drop_before(weeks, week - WEEKS_KEPT + 1)


def _drop_before(weeks: dict[str, dict[int, int]], first: int) -> None:
    for activity in list(weeks):
        counts = weeks[activity]
        for old in [week for week in counts if week < first]:
            del counts[old]
        if not counts:
            del weeks[activity]


def pack_weeks(weeks: dict[str, dict[int, int]]) -> list[Any]:
    """Return ``weeks`` as ``[newest week, base64 varints]`` (``[]`` when empty)."""
    if not weeks:
        return []
    newest = max(max(counts) for counts in weeks.values())
    first = newest - WEEKS_KEPT + 1
    packed = bytearray()
    span = range(first, newest + 1)
    for activity in _ORDER:
        counts = weeks.get(activity)
        if counts is None:
            packed += bytes(WEEKS_KEPT)  # none: a zero per week
            continue
        get = counts.get
        put_varints(packed, [0 if (count := get(week)) is None else count + 1 for week in span])
    return [newest, base64.b64encode(bytes(packed.rstrip(b"\x00"))).decode("ascii")]


def unpack_weeks(packed: list[Any]) -> dict[str, dict[int, int]]:
    """Rebuild ``pack_weeks``' map.

    Raises:
        ValueError: Text that is not base64, or holds more values than activities.
    """
    if not packed:
        return {}
    newest, codes = int(packed[0]), read_varints(packed[1], "weekly activity")
    if len(codes) > len(_ORDER) * WEEKS_KEPT:
        msg = f"weekly activity holds {len(codes)} values, more than {len(_ORDER)} activities"
        raise ValueError(msg)
    first = newest - WEEKS_KEPT + 1
    weeks: dict[str, dict[int, int]] = {}
    for index, code in enumerate(codes):
        if code:
            activity = _ORDER[index // WEEKS_KEPT]
            weeks.setdefault(activity, {})[first + index % WEEKS_KEPT] = code - 1
    return weeks
