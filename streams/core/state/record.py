"""The compact per-user state record and how one event folds into it.

One record per user, kept in one Faust table: one changelog write per user per batch, not
one per metric. Buckets are keyed by event time (``occurred_at``), so replaying the same
events gives the same state. Money is kept in integer cents so sums are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from schemas.events import (
    ApplicationComplete,
    ApplicationStart,
    AppSession,
    CommsOutcome,
    Event,
    GoalModification,
    HealthSignal,
    IncomeDeposit,
    PageView,
    Payment,
    ProfileUpdate,
    QuoteRequest,
    RiskScore,
    SavingsProgress,
    Transaction,
)
from streams.core.risk.intervention import RiskMemory, note_payment, note_risk_score

SECONDS_PER_DAY = 86_400

#: How many recent event ids a user's record remembers to drop duplicates. Redeliveries
#: after a crash or rebalance come from the last uncommitted seconds, so a user's last
#: few hundred events cover them with room to spare.
DEDUP_WINDOW = 256

#: Days of daily spend kept: five 7-day windows (this week and four for the baseline)
#: plus a week of allowed lateness.
DAILY_BUCKETS_KEPT = 42

#: Months of income kept: the month just closed, three for the baseline, and the current.
MONTHLY_BUCKETS_KEPT = 6

#: Days of app-session counts kept: this week, the four weeks of the usual-use baseline,
#: and a week of allowed lateness.
SESSION_DAYS_KEPT = 42

#: Hours of page-view counts kept: one 24-hour window plus six hours of allowed lateness.
PAGE_VIEW_HOURS_KEPT = 30

#: Quote requests whose times are kept: enough to count "a second one within a week".
QUOTE_TIMES_KEPT = 3

#: Savings goals whose highest milestone is kept; the least recently progressed goal is
#: forgotten first (it would at worst be congratulated on a milestone again).
GOALS_KEPT = 5

#: Started applications remembered until completed; the oldest is forgotten first.
APPLICATIONS_KEPT = 3

#: Savings milestones are every 25 % of a goal's target, up to 100 %.
MILESTONE_STEP = 25

SECONDS_PER_HOUR = 3_600


def day_number(moment: datetime) -> int:
    """Return the UTC day of ``moment`` as days since 1970-01-01."""
    return int(moment.timestamp() // SECONDS_PER_DAY)


def month_number(moment: datetime) -> int:
    """Return the UTC calendar month of ``moment`` as ``year * 12 + month - 1``."""
    utc = moment.astimezone(UTC)
    return utc.year * 12 + utc.month - 1


def hour_number(moment: datetime) -> int:
    """Return the UTC hour of ``moment`` as hours since 1970-01-01 00:00."""
    return int(moment.timestamp() // SECONDS_PER_HOUR)


def days_since(moment: float, at: datetime) -> float:
    """Return the days (fractional) from ``moment`` (epoch seconds) to ``at``."""
    return (at.timestamp() - moment) / SECONDS_PER_DAY


def to_cents(amount: Decimal) -> int:
    """Convert an amount to integer cents, rounding half to even."""
    return int((amount * 100).to_integral_value())


def savings_milestone(saved: Decimal, target: Decimal) -> int:
    """Return the highest milestone (0, 25, 50, 75 or 100 %) ``saved`` reaches of ``target``.

    Exact (decimal) arithmetic, so 25 % of the target is the 25 milestone, not 24.99...
    A target of zero has no milestones.
    """
    if target <= 0:
        return 0
    reached = int(saved * 100 / target // MILESTONE_STEP) * MILESTONE_STEP
    return min(reached, 100)


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
        if self.daily_sessions:
            record["daily_sessions"] = list(self.daily_sessions.items())
        if self.hourly_page_views:
            record["hourly_page_views"] = list(self.hourly_page_views.items())
        if self.quote_times:
            record["quote_times"] = self.quote_times
        if self.goal_milestones:
            record["goal_milestones"] = self.goal_milestones
        if self.stress_level is not None:
            record["stress_level"], record["stress_at"] = self.stress_level, self.stress_at
        for name in ("applications", "episodes", "pending"):
            if getattr(self, name):
                record[name] = getattr(self, name)
        if self.partition >= 0:
            record["partition"] = self.partition
        if self.risk is not None:
            record["risk"] = self.risk.to_dict()
        if self.engaged_at:
            record["engaged_at"] = self.engaged_at
        return orjson.dumps(record)

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


def apply_event(state: UserState, event: Event) -> bool:
    """Fold one event into the user's state, at most once per ``event_id``.

    Args:
        state: The user's record, changed in place.
        event: A validated event of this user.

    Returns:
        False if the event was already applied (a duplicate), True otherwise.
    """
    if state.has_seen(event.event_id):
        return False
    state.recent_ids.append(event.event_id)
    if len(state.recent_ids) > DEDUP_WINDOW:
        del state.recent_ids[0]

    occurred = event.occurred_at.timestamp()
    day = day_number(event.occurred_at)
    if state.first_day is None or day < state.first_day:
        state.first_day = day
    state.watermark = max(state.watermark, occurred)
    kind = event.type
    state.counts[kind] = state.counts.get(kind, 0) + 1
    state.last_seen[kind] = max(state.last_seen.get(kind, 0.0), occurred)

    payload = event.payload
    if isinstance(payload, Transaction) and payload.direction == "debit":
        if _add_bucket(state.daily_spend, day, to_cents(payload.amount), DAILY_BUCKETS_KEPT):
            state.spend_since = day if state.spend_since is None else min(state.spend_since, day)
    elif isinstance(payload, IncomeDeposit):
        month = month_number(event.occurred_at)
        cents = to_cents(payload.amount)
        if _add_bucket(state.monthly_income, month, cents, MONTHLY_BUCKETS_KEPT):
            since = state.income_since
            state.income_since = month if since is None else min(since, month)
    elif isinstance(payload, ProfileUpdate):
        _apply_profile(state.profile, payload)
    elif isinstance(payload, CommsOutcome):
        _apply_outcome(state, payload, occurred)
    elif isinstance(payload, RiskScore | Payment):
        state.risk = state.risk or RiskMemory()
        if isinstance(payload, Payment):
            note_payment(state.risk, event.occurred_at, payload)
        else:
            note_risk_score(state.risk, event.occurred_at, payload.score, payload.top_drivers)
    else:
        _apply_signal(state, event)
    return True


#: Outcomes that show the user engaged with a message.
ENGAGED_OUTCOMES = frozenset(
    {"opened", "clicked", "replied", "converted", "accepted_offer", "engaged"}
)


def _apply_outcome(state: UserState, outcome: CommsOutcome, occurred: float) -> None:
    if outcome.outcome == "opted_out" and outcome.channel:
        # An opt-out reported by the notification service stops that channel at once.
        consent = dict(state.profile.get("consent", {}))
        consent[outcome.channel.value] = False
        state.profile["consent"] = consent
    elif outcome.outcome in ENGAGED_OUTCOMES:
        state.engaged_at = max(state.engaged_at, occurred)


def _apply_signal(state: UserState, event: Event) -> None:
    """Fold the events that keep a few numbers for the life, engagement and lead triggers."""
    payload, at = event.payload, event.occurred_at
    if isinstance(payload, PageView):
        _add_bucket(state.hourly_page_views, hour_number(at), 1, PAGE_VIEW_HOURS_KEPT)
    elif isinstance(payload, AppSession):
        _add_bucket(state.daily_sessions, day_number(at), 1, SESSION_DAYS_KEPT)
    elif isinstance(payload, QuoteRequest):
        state.quote_times = sorted([*state.quote_times, at.timestamp()])[-QUOTE_TIMES_KEPT:]
    elif isinstance(payload, HealthSignal):
        # The latest report by event time wins: a late, older report does not replace it.
        if payload.stress_level is not None and at.timestamp() >= state.stress_at:
            state.stress_level, state.stress_at = payload.stress_level, at.timestamp()
    elif isinstance(payload, SavingsProgress):
        # Every progressed goal is kept, at 0 too: an open goal is one below 100.
        reached = savings_milestone(payload.saved, payload.target)
        _keep_goal(
            state, payload.goal_id, max(reached, state.goal_milestones.get(payload.goal_id, 0))
        )
    elif isinstance(payload, GoalModification):
        # A new target starts the goal's milestones over; an abandoned goal is forgotten.
        if payload.action == "abandoned":
            state.goal_milestones.pop(payload.goal_id, None)
        elif payload.action == "completed":
            _keep_goal(state, payload.goal_id, 100)
        elif payload.target is not None:
            _keep_goal(state, payload.goal_id, 0)
    elif isinstance(payload, ApplicationStart):
        started = state.applications.pop(payload.application_id, None)
        first = min(started[0], at.timestamp()) if started else at.timestamp()
        state.applications[payload.application_id] = [first, payload.product]
        for application in list(state.applications)[:-APPLICATIONS_KEPT]:
            del state.applications[application]
    elif isinstance(payload, ApplicationComplete):
        state.applications.pop(payload.application_id, None)


def _keep_goal(state: UserState, goal_id: str, milestone: int) -> None:
    """Set a goal's milestone, making it the most recent; forget the oldest past the bound."""
    milestones = state.goal_milestones
    milestones.pop(goal_id, None)
    milestones[goal_id] = milestone
    for goal in list(milestones)[:-GOALS_KEPT]:
        del milestones[goal]


#: How far back the send ledger reaches: the longest frequency-cap window (a week).
SEND_LEDGER_SECONDS = 7 * SECONDS_PER_DAY


def record_send(state: UserState, channel: str, at: float, *, decided_at: float) -> None:
    """Add a send on ``channel`` at ``at`` (epoch seconds) and forget those past a week.

    "Past" counts from ``decided_at``, the evaluation's time, not from ``at``: a send held
    for later (quiet hours, a delay) must not erase the sends the caps still count now.
    """
    oldest = min(at, decided_at) - SEND_LEDGER_SECONDS
    times = [t for t in state.sends.get(channel, []) if t > oldest]
    times.append(at)
    state.sends[channel] = sorted(times)


def sends_within(state: UserState, channel: str, at: float, window: float) -> int:
    """Count sends on ``channel`` in the ``window`` seconds up to ``at`` (either side)."""
    return sum(1 for t in state.sends.get(channel, []) if abs(at - t) < window)


def _add_bucket(buckets: dict[int, int], key: int, cents: int, kept: int) -> bool:
    """Add to a bucket and drop buckets too old to matter; False if ``key`` is one of those."""
    newest = max(buckets, default=key)
    if key <= newest - kept:
        return False  # later than the allowed lateness: no window looks at that bucket
    buckets[key] = buckets.get(key, 0) + cents
    if key > newest:
        for old in [k for k in buckets if k <= key - kept]:
            del buckets[old]
    return True


def _apply_profile(profile: dict[str, Any], update: ProfileUpdate) -> None:
    # Null means "not given", not "clear": serialisers write every field, most as null,
    # and a name change must not wipe the time zone set by an earlier update.
    changed = update.model_dump(
        exclude_unset=True, exclude_none=True, exclude={"type", "consent"}, mode="json"
    )
    profile.update(changed)
    if update.consent:
        consent = dict(profile.get("consent", {}))
        consent.update({str(channel): allowed for channel, allowed in update.consent.items()})
        profile["consent"] = consent
