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

from schemas.events import CommsOutcome, Event, IncomeDeposit, ProfileUpdate, Transaction

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


def day_number(moment: datetime) -> int:
    """Return the UTC day of ``moment`` as days since 1970-01-01."""
    return int(moment.timestamp() // SECONDS_PER_DAY)


def month_number(moment: datetime) -> int:
    """Return the UTC calendar month of ``moment`` as ``year * 12 + month - 1``."""
    utc = moment.astimezone(UTC)
    return utc.year * 12 + utc.month - 1


def to_cents(amount: Decimal) -> int:
    """Convert an amount to integer cents, rounding half to even."""
    return int((amount * 100).to_integral_value())


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

    def has_seen(self, event_id: str) -> bool:
        """Return whether ``event_id`` is among the recently applied events."""
        return event_id in self.recent_ids

    def to_bytes(self) -> bytes:
        """Serialise for the changelog (compact JSON; int keys become pairs)."""
        return orjson.dumps(
            {
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
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> UserState:
        """Rebuild a record written by ``to_bytes``."""
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
    elif isinstance(payload, CommsOutcome) and payload.outcome == "opted_out" and payload.channel:
        # An opt-out reported by the notification service stops that channel at once.
        consent = dict(state.profile.get("consent", {}))
        consent[payload.channel.value] = False
        state.profile["consent"] = consent
    return True


#: How far back the send ledger reaches: the longest frequency-cap window (a week).
SEND_LEDGER_SECONDS = 7 * SECONDS_PER_DAY


def record_send(state: UserState, channel: str, at: float) -> None:
    """Add a send on ``channel`` at ``at`` (epoch seconds) and forget those past a week."""
    times = [t for t in state.sends.get(channel, []) if t > at - SEND_LEDGER_SECONDS]
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
