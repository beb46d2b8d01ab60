"""The compact per-user state record and its codec (compact JSON for the changelog).

One record per user, kept in one Faust table: one changelog write per user per batch, not
one per metric. ``streams.core.state.fold`` folds events into it; money is kept in integer
cents so sums are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.core.state.risk_memory import RiskMemory

#: Fields written as they are, and only when set (not empty, not zero).
_KEPT_WHEN_SET = (
    "quote_times", "goal_milestones", "applications", "episodes", "pending", "engaged_at",
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
        recent_ids: The last ``DEDUP_WINDOW`` event ids, oldest first.
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
    """

    first_day: int | None = None
    spend_since: int | None = None
    income_since: int | None = None
    watermark: float = 0.0
    daily_spend: dict[int, int] = field(default_factory=dict)
    monthly_income: dict[int, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    last_seen: dict[str, float] = field(default_factory=dict)
    recent_ids: list[str] = field(default_factory=list)
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

    def has_seen(self, event_id: str) -> bool:
        """Return whether ``event_id`` is among the recently applied events."""
        return event_id in self.recent_ids

    def to_bytes(self) -> bytes:
        """Serialise for the changelog (compact JSON; int keys become pairs).

        The signal fields (sessions, page views, quotes, goals, stress) are written only
        when set: most users never send those events, and ``from_bytes`` defaults them.
        """
        record: dict[str, Any] = {
            "v": 1,
            "first_day": self.first_day,
            "spend_since": self.spend_since,
            "income_since": self.income_since,
            "watermark": self.watermark,
            "daily_spend": list(self.daily_spend.items()),
            "monthly_income": list(self.monthly_income.items()),
            "counts": self.counts,
            "last_seen": self.last_seen,
            "recent_ids": self.recent_ids,
            "last_fired": self.last_fired,
            "evaluated": self.evaluated,
            "profile": self.profile,
            "sends": self.sends,
        }
        self._add_set_fields(record)
        return orjson.dumps(record)

    def _add_set_fields(self, record: dict[str, Any]) -> None:
        """Add the fields most users never set, only when set (``from_bytes`` defaults them)."""
        if self.daily_sessions:
            record["daily_sessions"] = list(self.daily_sessions.items())
        if self.hourly_page_views:
            record["hourly_page_views"] = list(self.hourly_page_views.items())
        for name in _KEPT_WHEN_SET:
            if value := getattr(self, name):
                record[name] = value
        if self.stress_level is not None:
            record["stress_level"], record["stress_at"] = self.stress_level, self.stress_at
        if self.partition >= 0:
            record["partition"] = self.partition
        if self.risk is not None:
            record["risk"] = self.risk.to_dict()

    @classmethod
    def from_bytes(cls, raw: bytes) -> UserState:
        """Rebuild a record written by ``to_bytes`` (also by a version without later fields)."""
        data = orjson.loads(raw)
        return cls(
            first_day=data["first_day"],
            spend_since=data["spend_since"],
            income_since=data["income_since"],
            watermark=data["watermark"],
            daily_spend={int(k): int(v) for k, v in data["daily_spend"]},
            monthly_income={int(k): int(v) for k, v in data["monthly_income"]},
            counts=data["counts"],
            last_seen=data["last_seen"],
            recent_ids=data["recent_ids"],
            last_fired=data["last_fired"],
            evaluated=data["evaluated"],
            profile=data["profile"],
            sends=data.get("sends", {}),
            daily_sessions={int(k): int(v) for k, v in data.get("daily_sessions", ())},
            hourly_page_views={int(k): int(v) for k, v in data.get("hourly_page_views", ())},
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
