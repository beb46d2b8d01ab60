"""Building blocks of synthetic histories: a persona, the timeline, an event writer.

Pure: no I/O and no clock. ``streams.simulation.population`` lays out every user's ordinary days on
a ``Timeline``; ``streams.simulation.stories`` adds the behaviours the triggers look for. Both write
events through an ``EventWriter``, which draws ids and details from the user's own seeded
generator, so the same seed always gives the same events.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

Archetype = Literal["steady", "spender", "income_drop", "both"]
PaySchedule = Literal["monthly", "semimonthly"]
Tier = Literal["free", "standard", "premium"]
EventDict = dict[str, Any]
Stamped = tuple[datetime, EventDict]

DAY = timedelta(days=1)
CENT = Decimal("0.01")

#: Spike days: the UTC day of ``now`` and the five before it, i.e. every day overlapping
#: the last five days. With the smallest factor and the worst jitter, a debit on day d-2
#: sees 4 spike days and 3 usual ones, (4 x 1.6 + 3) x 0.97 / (7 x 1.03) = 1.26 x the
#: baseline; on d-1, 5 and 2 (1.35 x); on d, 5, 1 and part of today (>= 1.21 x).
SPIKE_DAYS_BEFORE_TODAY = 5
#: The history starts at the latest on the 1st of the fourth month before now's month,
#: so the first event and the first pay both fall in that month and the income baseline
#: has the two complete months after it, however late in its month ``now`` is and however
#: short ``history_days`` is.
MIN_MONTHS_BEFORE = 4

#: IANA zone, country, standard UTC offset in minutes.
ZONES = (
    ("America/New_York", "US", -300), ("America/Chicago", "US", -360),
    ("America/Los_Angeles", "US", -480), ("Europe/London", "GB", 0),
    ("Europe/Berlin", "DE", 60), ("Asia/Kolkata", "IN", 330), ("Australia/Sydney", "AU", 600),
)  # fmt: skip
MERCHANTS = (
    ("FreshMart", "groceries"), ("Green Basket", "groceries"), ("Corner Cafe", "dining"),
    ("Noodle House", "dining"), ("Metro Transit", "transport"), ("RideNow", "transport"),
    ("QuickFuel", "fuel"), ("PageTurner Books", "shopping"), ("UrbanWear", "shopping"),
    ("StreamBox", "entertainment"), ("CityPharmacy", "health"), ("HomeGoods Depot", "home"),
)  # fmt: skip
PAGES = ("/home", "/accounts", "/budget", "/insights/spending", "/offers", "/settings")
FEATURES = ("budget_planner", "spending_breakdown", "savings_goal", "bill_reminder")
DEVICES = {
    "ios": "NudgeApp/4.2 (iPhone; iOS 17.5)",
    "android": "NudgeApp/4.2 (Linux; Android 14; Pixel 8)",
    "web": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/128.0",
}
#: Share of in-session actions that use a product feature rather than view a page.
FEATURE_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class Persona:
    """One synthetic user and the behaviour their events follow.

    Attributes:
        user_id: Kafka key and ``user_id`` of every event.
        first_name: Sent in the first profile update.
        timezone: IANA zone name, sent in the profile and every event's context.
        archetype: Which of spending spike and income drop the history must fire
            (see ``streams.simulation.population``).
        daily_spend: Usual debit spending per UTC day, in dollars.
        monthly_income: Usual pay per calendar month, in dollars; a multiple of $10 so a
            semimonthly half is whole cents.
        pay_schedule: ``monthly`` (paid on the 1st) or ``semimonthly`` (1st and 15th).
        tier: Product tier sent in the profile.
        device: ``ios``, ``android`` or ``web``.
        employer: Name on the income deposits.
        spike_factor: Spending multiplier on the spike days (or on a story's days of
            rising spending); 1 when the user's spending does not rise.
        income_drop: Share of pay lost in the last complete month; 0 when it does not
            drop, 1 when it stopped.
        story: Name of the behaviour from ``streams.simulation.stories`` the user also lives out
            (a big purchase, a stalled savings goal...); ``None`` for none.
        risk_story: Name of the risk-score script from ``streams.simulation.risk_stories`` the
            user's scores and payments follow; ``None`` for no risk scores.
    """

    user_id: str
    first_name: str
    timezone: str
    archetype: Archetype
    daily_spend: Decimal
    monthly_income: Decimal
    pay_schedule: PaySchedule
    tier: Tier = "standard"
    device: str = "ios"
    employer: str = "Acme Logistics"
    spike_factor: float = 1.0
    income_drop: float = 0.0
    story: str | None = None
    risk_story: str | None = None


@dataclass(frozen=True, slots=True)
class Timeline:
    """The moments every user's history is laid out on (all UTC).

    Attributes:
        now: End of the history (exclusive); live events start here.
        start: Midnight of the first day of history.
        last_day: Midnight of the day holding the last instant before ``now``.
        this_month: Start of the month holding the last instant before ``now``.
        drop_month: Start of the month before it: the last complete month.
    """

    now: datetime
    start: datetime
    last_day: datetime
    this_month: datetime
    drop_month: datetime

    @property
    def spike_start(self) -> datetime:
        """Midnight of the first spike day."""
        return self.last_day - SPIKE_DAYS_BEFORE_TODAY * DAY

    def days_ago(self, days: int) -> datetime:
        """Midnight of the UTC day ``days`` before the last day of history."""
        return self.last_day - days * DAY

    @classmethod
    def ending(cls, now: datetime, history_days: int) -> Timeline:
        """Return the timeline of ``history_days`` (or more, see above) before ``now``."""
        if now.utcoffset() is None:
            msg = "now must be timezone-aware"
            raise ValueError(msg)
        if history_days < 0:
            msg = f"history_days must be >= 0, not {history_days}"
            raise ValueError(msg)
        now = now.astimezone(UTC)
        last_day = midnight(now - timedelta(microseconds=1))
        this_month = last_day.replace(day=1)
        earliest = months_before(this_month, MIN_MONTHS_BEFORE)
        start = min(midnight(now - timedelta(days=history_days)), earliest)
        return cls(now, start, last_day, this_month, months_before(this_month, 1))


class EventWriter:
    """Builds one user's event dicts, drawing ids and details from the user's generator.

    Attributes:
        persona: Whose events these are.
        rng: The user's own generator (seeded by the caller).
        features: Whether in-session actions may use product features; a user who never
            does only views pages.
    """

    def __init__(self, persona: Persona, rng: random.Random, *, features: bool = True) -> None:
        self.persona = persona
        self.rng = rng
        self.features = features
        _, country, offset = next(zone for zone in ZONES if zone[0] == persona.timezone)
        self.zone = timezone(timedelta(minutes=offset))
        self.source = "web" if persona.device == "web" else "app"
        self.context = {
            "device": persona.device,
            "country": country,
            "timezone": persona.timezone,
            "user_agent": DEVICES[persona.device],
        }

    def new_id(self) -> str:
        """Return a UUID4-shaped id drawn from the user's generator (reproducible)."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def event(
        self, at: datetime, source: str, payload: EventDict, session_id: str | None = None
    ) -> Stamped:
        """Return (UTC time, event dict) for ``payload`` at ``at``."""
        event: EventDict = {
            "schema_version": 1,
            "event_id": self.new_id(),
            "user_id": self.persona.user_id,
            "occurred_at": at.astimezone(self.zone).isoformat(),
            "source": source,
            "context": dict(self.context),
            "payload": payload,
        }
        if session_id is not None:
            event["session_id"] = session_id
        return at, event

    def app(self, at: datetime, payload: EventDict, session_id: str | None = None) -> Stamped:
        """Return an event the user's app (or the web site) reported."""
        return self.event(at, self.source, payload, session_id)

    def backend(self, at: datetime, payload: EventDict) -> Stamped:
        """Return an event a back-end system reported (money, signals)."""
        return self.event(at, "backend", payload)

    def transaction(
        self,
        at: datetime,
        amount: Decimal,
        direction: str = "debit",
        merchant: tuple[str, str] | None = None,
    ) -> Stamped:
        """Return a card transaction at ``merchant`` (name, category), or a random one."""
        name, category = merchant or self.rng.choice(MERCHANTS)
        payload = {"type": "transaction", "amount": str(amount), "currency": "USD",
                   "merchant": name, "category": category, "direction": direction}  # fmt: skip
        return self.backend(at, payload)

    def page_view(self, at: datetime, path: str, session_id: str | None = None) -> Stamped:
        """Return a view of ``path`` lasting a few seconds to a minute and a half."""
        seconds = round(self.rng.uniform(2, 90), 1)
        payload = {"type": "page_view", "path": path, "duration_seconds": seconds}
        return self.app(at, payload, session_id)

    def activity(self, at: datetime, session_id: str | None = None) -> Stamped:
        """Return a page view or, less often and if the user uses features, a feature use."""
        if not self.features or self.rng.random() >= FEATURE_SHARE:
            return self.page_view(at, self.rng.choice(PAGES), session_id)
        payload = {"type": "feature_used", "feature": self.rng.choice(FEATURES)}
        return self.app(at, payload, session_id)

    def profile(self, at: datetime, **fields: Any) -> Stamped:
        """Return a profile update carrying ``fields``."""
        return self.app(at, {"type": "profile_update", **fields})


#: The consent to sensitive categories every synthetic user gives at onboarding
#: (``NUDGE_CONSENT_CATEGORIES``): without it no financial or health trigger would send.
CATEGORY_CONSENT = {"financial": True, "health": True}


def moment(rng: random.Random, low: datetime, high: datetime) -> datetime:
    """Return a random instant in [low, high) (``low`` when the range is empty)."""
    span = (high - low) // timedelta(microseconds=1)
    return low + timedelta(microseconds=rng.randrange(span)) if span > 0 else low


def cents(amount: Decimal) -> Decimal:
    """Round ``amount`` to whole cents, half up."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def midnight(at: datetime) -> datetime:
    """Return midnight UTC of ``at``'s UTC day."""
    return at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def months_before(month_start: datetime, months: int) -> datetime:
    """Return the first of the month ``months`` before ``month_start``'s."""
    index = month_start.year * 12 + month_start.month - 1 - months
    return month_start.replace(year=index // 12, month=index % 12 + 1)


def event_dict(
    rng: random.Random, user: str, at: datetime, payload: dict[str, Any], source: str = "web"
) -> dict[str, Any]:
    """Return one input event as a producer sends it, its id drawn from ``rng``."""
    return {
        "schema_version": 1,
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "user_id": user,
        "occurred_at": at.isoformat(),
        "source": source,
        "payload": payload,
    }
