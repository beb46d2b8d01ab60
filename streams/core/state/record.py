"""The compact per-user state record and its codec (compact JSON for the changelog).

One record per user, kept in one Faust table: one changelog write per user per batch, not
one per metric. ``streams.core.state.fold`` folds events into it; money is kept in integer
cents so sums are exact.

Version 2 of the encoding (``"v": 2``) kept a typical user under 1 KiB after 200 events
(version 1 reached ~10 KB): event ids as 9-byte fingerprints within a window of event time
(``streams.core.state.dedup``), bucket maps as runs of varints (``int_maps``), counts and
last-seen times under one key per event type (``types``), and no field that holds its
default. Version 3 (``"v": 3``) adds the weekly activity counts (``activity_weeks``, ~40
bytes, and ``activity_since`` for records from before them) and pays for them by leaving
out what the rest of the record gives: the watermark when it is the latest last-seen time
(it always is, for records built by ``fold``), and the first day of spending when it is
the first day of all. A version-2 record is read with ``activity_since`` unknown.
``from_bytes`` reads all three versions; what a record means (every field but how the
dedup ids are held) is the same in each.
"""

from __future__ import annotations

import base64
import operator
import pickle
from dataclasses import dataclass, field, fields
from typing import Any

import orjson

from streams.core.state.activity_weeks import pack_weeks, unpack_weeks
from streams.core.state.dedup import (
    decode_seen,
    encode_seen,
    fingerprint,
    seen_from_ids,
    watermark_hour,
)
from streams.core.state.int_maps import pack_int_map, put_varints, read_varints, unpack_int_map
from streams.core.state.risk_memory import RiskMemory
from streams.core.state.visits import (
    pack_open_visits,
    pack_visits,
    unpack_open_visits,
    unpack_visits,
)

#: The encoding ``to_bytes`` writes; ``from_bytes`` also reads versions 1 and 2.
RECORD_VERSION = 3

#: Maps keyed by day, hour or month number: written as runs (``int_maps``).
_INT_MAPS = ("daily_spend", "monthly_income", "daily_sessions", "hourly_page_views")

#: Fields written as they are, and only when they differ from their default (in version
#: 3, ``watermark`` and ``spend_since`` only when the rest of the record does not give them).
_PLAIN = (
    "first_day", "spend_since", "income_since", "watermark", "last_fired", "evaluated",
    "profile", "sends", "quote_times", "goal_milestones", "stress_level", "stress_at",
    "applications", "episodes", "pending", "partition", "engaged_at", "deposits",
    "activity_since", "scores", "pattern", "segments", "sequences", "personalization",
    "experiments", "funnels", "funnel_drop", "alerts", "anomaly", "send_hours", "goal_progress",
)  # fmt: skip


@dataclass(slots=True)
class UserState:
    """Everything Nudge remembers about one user.

    Attributes:
        first_day: UTC day number of the first event seen.
        spend_since: UTC day of the first debit. Spending baselines only count full
            windows from it, so a new customer has no baseline rather than a low one.
        income_since: Month of the first income deposit; income baselines only count
            the full months after it.
        watermark: Latest ``occurred_at`` seen (epoch seconds).
        daily_spend: UTC day number -> debit total in cents.
        monthly_income: Month number -> income in cents.
        counts: Events seen by type.
        last_seen: Event type -> latest ``occurred_at`` (epoch seconds).
        seen: Fingerprints of the event ids recently applied -> the watermark's hour
            when each was applied (``streams.core.state.dedup``), oldest first.
        last_fired: Trigger id -> ``occurred_at`` (epoch seconds) of its last firing.
        evaluated: Trigger id -> the last period (e.g. month number) it was evaluated for,
            for triggers that judge a closed period once.
        profile: Name, time zone, consent per channel, tier.
        sends: Channel -> send times (epoch seconds, by ``send_at``) of the last
            ``SEND_LEDGER_SECONDS``: the frequency caps count them.
        daily_sessions: UTC day number -> app sessions ended that day.
        hourly_page_views: UTC hour number -> page views in that hour.
        quote_times: ``occurred_at`` of the latest ``QUOTE_TIMES_KEPT`` quote requests,
            oldest first.
        goal_milestones: Savings goal id -> highest milestone (25, 50, 75, 100) reached,
            for the ``GOALS_KEPT`` most recently progressed goals, oldest first.
        stress_level: Latest stress level reported (0 to 1), or ``None``.
        stress_at: ``occurred_at`` of that report (epoch seconds); 0 when none.
        applications: Application id -> ``[started_at, product]`` of the
            ``APPLICATIONS_KEPT`` latest started and not completed, oldest first.
        episodes: Time-based trigger id -> the episode it last judged (a birthday, the
            last session before a lapse...): one decision per episode, however often
            the schedule looks.
        pending: Commands held for a later ``send_at`` (quiet hours, delays), as JSON
            objects, earliest first; the scheduler sends them when due.
        partition: Input partition this user's events arrive on (-1 until one does);
            the scheduler writes the record back to the same changelog partition.
        risk: Risk scores, payments and the last intervention
            (``streams.core.risk``), for users who have any.
        engaged_at: Latest time the user engaged with a message (opened, clicked,
            replied, converted, accepted an offer); 0 when never.
        deposits: The last ``DEPOSITS_KEPT`` income deposits in cents, in arrival order:
            whether the user is paid regularly, and how much (``usual_deposit``).
        activity_weeks: Activity (``transactions``, ``sessions``...) -> UTC week number ->
            events that week, for the newest weeks (``streams.core.state.activity_weeks``):
            behaviour change is judged on them (``streams.core.behavior``).
        activity_since: The first week whose activity counts are whole: 0 when every
            week since the user's first day is (counting began with the user), a week
            number for a record written before counting began (the week after its first
            event since), ``None`` until one is known (a record from before, not yet
            given an event).
        visits: The open visits (sessions) one by one: ``[start, end, pages, session
            id fingerprint]`` (``streams.core.state.visits``).
        visit_days: UTC day number -> ``[visits, pages, seconds]`` of the visits that
            started that day, for the last ``VISIT_DAYS_KEPT`` days.
        visit_sources: The sources (web, app, email...) the user's visits came from, a
            bit each.
        scores: ``[at, engagement, interest, intent]``: the behaviour scores' points
            faded to ``at`` (``streams.core.state.scores``); empty until one scores.
        pattern: The user's pattern label (``schemas.patterns``), ``None`` until a fresh
            event or the timer gives one.
        segments: Segment id -> when the user joined it (epoch seconds), for the live
            segments the user is in (``streams.core.segments``).
        event_times: Event type -> ``occurred_at`` of its newest events (epoch seconds,
            oldest first), for the types the segments in force count
            (``streams.core.state.segment_tracks``).
        sequences: Sequence criterion key -> when it last completed (epoch seconds).
        personalization: The id of the personalization rule that applies to the user
            (``schemas.personalization``), ``None`` when none does.
        experiments: Experiment id -> ``[variant, first exposed at, converted metrics
            (a bit each), command fingerprints (only with outcome metrics)]``
            (``streams.core.experiments``).
        funnels: Funnel id -> ``[steps reached, entered at, last step at]`` for the runs
            in progress (``streams.core.funnels``).
        funnel_drop: The last drop-out, ``[funnel id, step, at]``; ``None`` when none.
        alerts: The alert recommender's running figures, the alerts on, what was last
            published and served (``streams.core.state.alert_stats``); ``None`` until the
            first debit, balance with a credit limit, or alert action.
        anomaly: The debit anomaly model's figures (``models.online.anomaly``): the
            user's amounts, hours, new-merchant, new-category and abroad rates, home
            country, and the latest debit's score; ``None`` until the first debit.
        send_hours: Sends and opens per local hour, and the last sends to credit outcomes
            to (``models.online.send_time``); ``None`` until the first send.
        goal_progress: Savings goal id -> its progress figures (``models.online.goals``),
            for the ``GOALS_KEPT`` most recently progressed goals, oldest first.
    """

    first_day: int | None = None
    spend_since: int | None = None
    income_since: int | None = None
    watermark: float = 0.0
    daily_spend: dict[int, int] = field(default_factory=dict)
    monthly_income: dict[int, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    last_seen: dict[str, float] = field(default_factory=dict)
    seen: dict[int, int] = field(default_factory=dict)
    last_fired: dict[str, float] = field(default_factory=dict)
    evaluated: dict[str, int] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)
    sends: dict[str, list[float]] = field(default_factory=dict)
    daily_sessions: dict[int, int] = field(default_factory=dict)
    hourly_page_views: dict[int, int] = field(default_factory=dict)
    quote_times: list[float] = field(default_factory=list)
    goal_milestones: dict[str, int] = field(default_factory=dict)
    stress_level: float | None = None
    stress_at: float = 0.0
    applications: dict[str, list[Any]] = field(default_factory=dict)
    episodes: dict[str, str] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)
    partition: int = -1
    risk: RiskMemory | None = None
    engaged_at: float = 0.0
    deposits: list[int] = field(default_factory=list)
    activity_weeks: dict[str, dict[int, int]] = field(default_factory=dict)
    activity_since: int | None = None
    visits: list[list[int]] = field(default_factory=list)
    visit_days: dict[int, list[int]] = field(default_factory=dict)
    visit_sources: int = 0
    scores: list[float] = field(default_factory=list)
    pattern: str | None = None
    segments: dict[str, int] = field(default_factory=dict)
    event_times: dict[str, list[int]] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)
    personalization: str | None = None
    experiments: dict[str, list[Any]] = field(default_factory=dict)
    funnels: dict[str, list[int]] = field(default_factory=dict)
    funnel_drop: list[Any] | None = None
    alerts: list[Any] | None = None
    anomaly: list[Any] | None = None
    send_hours: list[Any] | None = None
    goal_progress: dict[str, list[Any]] = field(default_factory=dict)

    def has_seen(self, event_id: str) -> bool:
        """Return whether ``event_id`` is among the events this record remembers applying."""
        return fingerprint(event_id) in self.seen

    def snapshot(self) -> bytes:
        """Return a copy of the record to put back should processing an event raise.

        In-process only, never stored or sent: ``pickle`` of the field values in order,
        about five times cheaper than ``to_bytes`` (which packs the record for the
        changelog), and twice cheaper than pickling the object (the dataclass's
        ``__getstate__`` is Python).
        """
        return pickle.dumps(_field_values(self), pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def from_snapshot(raw: bytes) -> UserState:
        """Return the record ``snapshot`` copied (bytes this process made, nothing else)."""
        values = pickle.loads(raw)  # noqa: S301 - our own bytes, never read from outside
        return UserState(*values)

    def to_bytes(self) -> bytes:
        """Serialise for the changelog: compact JSON, version ``RECORD_VERSION``.

        Fields at their default are left out (``from_bytes`` restores them): most users
        never send most event types. So are the watermark when it is the latest last-seen
        time, and ``spend_since`` when it is ``first_day`` (``null`` is then written for a
        user who has not spent yet).
        """
        record = self._plain_fields()
        if types := _pack_types(self.counts, self.last_seen):
            record["types"] = types
        for name in _INT_MAPS:
            if buckets := getattr(self, name):
                record[name] = pack_int_map(buckets)
        if self.seen:
            record["seen"] = encode_seen(self.seen)
        if self.activity_weeks:
            record["weeks"] = pack_weeks(self.activity_weeks)
        if self.visit_days or self.visit_sources:
            record["vdays"] = pack_visits(self)
        if self.visits:
            record["visits"] = pack_open_visits(self.visits, self.watermark)
        if self.event_times:
            record["etimes"] = pack_event_times(self.event_times, self.watermark)
        if self.risk is not None:
            record["risk"] = self.risk.to_dict()
        return orjson.dumps(record)

    def _plain_fields(self) -> dict[str, Any]:
        """Return the version and the ``_PLAIN`` fields ``to_bytes`` writes."""
        record: dict[str, Any] = {"v": RECORD_VERSION}
        for name in _PLAIN:
            value = getattr(self, name)
            if value != getattr(_EMPTY, name):
                record[name] = value
        if self.watermark == max(self.last_seen.values(), default=0.0):
            record.pop("watermark", None)
        if self.spend_since == self.first_day:
            record.pop("spend_since", None)
        elif self.spend_since is None:
            record["spend_since"] = None
        if self.activity_since == 0:
            record.pop("activity_since", None)
        elif self.activity_since is None and self.first_day is not None:
            record["activity_since"] = None
        return record

    @classmethod
    def from_bytes(cls, raw: bytes) -> UserState:
        """Rebuild a record written by ``to_bytes``, by version 2, or by version 1.

        Raises:
            ValueError: A version this code does not know (written by a newer one).
        """
        data = orjson.loads(raw)
        version = data.get("v", 1)
        if version == 1:
            return _from_v1(data)
        if version not in (2, RECORD_VERSION):
            msg = f"user record version {version!r}; this worker reads 1 to {RECORD_VERSION}"
            raise ValueError(msg)
        state = cls(**{name: data[name] for name in _PLAIN if name in data})
        state.counts, state.last_seen = _unpack_types(data.get("types", {}))
        for name in _INT_MAPS:
            setattr(state, name, unpack_int_map(data.get(name, [])))
        state.seen = decode_seen(data.get("seen", []))
        state.activity_weeks = unpack_weeks(data.get("weeks", []))
        unpack_visits(data.get("vdays", []), state)
        if "risk" in data:
            state.risk = RiskMemory.from_dict(data["risk"])
        if version == RECORD_VERSION:
            if "watermark" not in data:
                state.watermark = max(state.last_seen.values(), default=0.0)
            if "spend_since" not in data:
                state.spend_since = state.first_day
            if "activity_since" not in data and state.first_day is not None:
                state.activity_since = 0
        state.visits = unpack_open_visits(data.get("visits", []), state.watermark)
        state.event_times = unpack_event_times(data.get("etimes", {}), state.watermark)
        return state


def _pack_types(counts: dict[str, int], last_seen: dict[str, float]) -> dict[str, list[Any]]:
    """Return event type -> ``[count, last seen]``: each type's name written once."""
    return {kind: [counts.get(kind), last_seen.get(kind)] for kind in {**counts, **last_seen}}


def _unpack_types(types: dict[str, list[Any]]) -> tuple[dict[str, int], dict[str, float]]:
    """Split ``_pack_types``' map back into counts and last-seen times."""
    counts = {kind: count for kind, (count, _) in types.items() if count is not None}
    last_seen = {kind: at for kind, (_, at) in types.items() if at is not None}
    return counts, last_seen


#: A record with every field at its default: what ``to_bytes`` leaves out.
_EMPTY = UserState()


def _from_v1(data: dict[str, Any]) -> UserState:
    """Rebuild a version-1 record: every base field present, ids as text, maps as pairs.

    Its ids (the user's last 256) are kept as if applied at the watermark's hour: each is
    recognised for one more window of the user's event time.
    """
    return UserState(
        first_day=data["first_day"],
        spend_since=data["spend_since"],
        income_since=data["income_since"],
        watermark=data["watermark"],
        daily_spend=unpack_int_map(data["daily_spend"]),
        monthly_income=unpack_int_map(data["monthly_income"]),
        counts=data["counts"],
        last_seen=data["last_seen"],
        seen=seen_from_ids(data["recent_ids"], watermark_hour(data["watermark"])),
        last_fired=data["last_fired"],
        evaluated=data["evaluated"],
        profile=data["profile"],
        sends=data.get("sends", {}),
        daily_sessions=unpack_int_map(data.get("daily_sessions", [])),
        hourly_page_views=unpack_int_map(data.get("hourly_page_views", [])),
        quote_times=data.get("quote_times", []),
        goal_milestones=data.get("goal_milestones", {}),
        stress_level=data.get("stress_level"),
        stress_at=data.get("stress_at", 0.0),
        applications=data.get("applications", {}),
        episodes=data.get("episodes", {}),
        pending=data.get("pending", []),
        partition=data.get("partition", -1),
        risk=RiskMemory.from_dict(data["risk"]) if "risk" in data else None,
        engaged_at=data.get("engaged_at", 0.0),
    )


#: Every field's value, in declaration order (what ``UserState(*values)`` takes back).
_field_values = operator.attrgetter(*(each.name for each in fields(UserState)))


def pack_event_times(times: dict[str, list[int]], watermark: float) -> dict[str, str]:
    """Pack each type's event times (oldest first) as base64 varints, newest first.

    The first number is how long before the watermark the newest was, each next one the
    gap to the one before it: a week of times costs a few bytes each, not ten digits.
    """
    packed: dict[str, str] = {}
    for kind, moments in times.items():
        out = bytearray()
        gaps = []
        later = int(watermark)
        for moment in reversed(moments):
            gaps.append(max(later - moment, 0))
            later = moment
        put_varints(out, gaps)
        packed[kind] = base64.b64encode(out).decode()
    return packed


def unpack_event_times(packed: dict[str, str], watermark: float) -> dict[str, list[int]]:
    """Undo :func:`pack_event_times`."""
    times: dict[str, list[int]] = {}
    for kind, text in packed.items():
        moment = int(watermark)
        newest_first = []
        for gap in read_varints(text, f"event times of {kind}"):
            moment -= gap
            newest_first.append(moment)
        times[kind] = newest_first[::-1]
    return times
