"""A synthetic user population and its event stream, for the producer, the demo and tests.

Pure: no I/O and no clock; the caller passes ``now`` and a seed, and the same arguments
always give the same stream. Every user starts with a profile update, then spends every
UTC day, is paid on a schedule and uses the app. The archetype decides which triggers
must fire on the fresh end of the history (the last two days before ``now``):

- ``steady``: nothing fires. Daily spend varies by at most ``DAILY_SPEND_JITTER`` and pay
  is constant, so no week and no month stands out.
- ``spender``: spending is multiplied over the UTC days overlapping the last five days
  before ``now`` (``spending_spike``).
- ``income_drop``: the last complete calendar month brings 25-40 % less pay
  (``income_drop``, judged at the user's first fresh event of the current month).
- ``both``: both behaviours.

Events are JSON-ready dicts of the ``schemas.events.Event`` shape, merged in
``occurred_at`` order from one lazy generator per user, so memory is O(users).
``occurred_at`` carries the user's standard UTC offset (daylight saving is not modelled;
the instant is exact either way).
"""

from __future__ import annotations

import heapq
import random
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

Archetype = Literal["steady", "spender", "income_drop", "both"]
PaySchedule = Literal["monthly", "semimonthly"]
EventDict = dict[str, Any]
Stamped = tuple[datetime, EventDict]

DAY = timedelta(days=1)
CENT = Decimal("0.01")

#: Each day's spend is the usual amount times U(1 - j, 1 + j). With j = 3 % any two
#: weeks differ by at most 1.03 / 0.97 (6.2 %): a steady week always stays within 8 % of
#: the weeks before it, far from the spike threshold (+20 %).
DAILY_SPEND_JITTER = 0.03
#: Spike days: the UTC day of ``now`` and the five before it, i.e. every day overlapping
#: the last five days. With the smallest factor and the worst jitter, a debit on day d-2
#: sees 4 spike days and 3 usual ones, (4 x 1.6 + 3) x 0.97 / (7 x 1.03) = 1.26 x the
#: baseline; on d-1, 5 and 2 (1.35 x); on d, 5, 1 and part of today (>= 1.21 x).
SPIKE_DAYS_BEFORE_TODAY = 5
SPIKE_FACTORS = (1.6, 2.5)
#: Share of pay lost in the drop month; well past the 15 % threshold.
INCOME_DROPS = (0.25, 0.40)
#: The history starts at the latest on the 1st of the fourth month before now's month,
#: so the first event and the first pay both fall in that month and the income baseline
#: has the two complete months after it, however late in its month ``now`` is and however
#: short ``history_days`` is.
MIN_MONTHS_BEFORE = 4
#: Every user's last transaction lands this close to ``now``: fresh even if the
#: pipeline reads it late, and inside now's month even when now is minutes into it.
RECENT_WINDOW = timedelta(hours=1)
#: Pay lands within this long after the start of payday.
PAYDAY_WINDOW = timedelta(hours=8)
MAX_DAILY_TRANSACTIONS = 3
SESSION_CHANCE = 0.7
REFUND_CHANCE = 0.03
#: A session lasts at most 5 x 90 s + 30 s; it starts at least this long before day end.
SESSION_ROOM = timedelta(minutes=10)
#: Mean gap between one user's live events (after ``now``), in seconds.
LIVE_MEAN_GAP_SECONDS = 120.0

#: IANA zone, country, standard UTC offset in minutes.
ZONES = (
    ("America/New_York", "US", -300), ("America/Chicago", "US", -360),
    ("America/Los_Angeles", "US", -480), ("Europe/London", "GB", 0),
    ("Europe/Berlin", "DE", 60), ("Asia/Kolkata", "IN", 330), ("Australia/Sydney", "AU", 600),
)  # fmt: skip
FIRST_NAMES = (
    "Ava", "Ben", "Chloe", "Dana", "Eli", "Farah", "Gabe", "Hana", "Ivan", "Jade",
    "Kofi", "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq",
)  # fmt: skip
MERCHANTS = (
    ("FreshMart", "groceries"), ("Green Basket", "groceries"), ("Corner Cafe", "dining"),
    ("Noodle House", "dining"), ("Metro Transit", "transport"), ("RideNow", "transport"),
    ("QuickFuel", "fuel"), ("PageTurner Books", "shopping"), ("UrbanWear", "shopping"),
    ("StreamBox", "entertainment"), ("CityPharmacy", "health"), ("HomeGoods Depot", "home"),
)  # fmt: skip
EMPLOYERS = ("Acme Logistics", "Northwind Health", "Blue Harbor Bank", "Riverside Schools")
PAGES = ("/home", "/accounts", "/budget", "/insights/spending", "/offers", "/settings")
FEATURES = ("budget_planner", "spending_breakdown", "savings_goal", "bill_reminder")
DEVICES = {
    "ios": "NudgeApp/4.2 (iPhone; iOS 17.5)",
    "android": "NudgeApp/4.2 (Linux; Android 14; Pixel 8)",
    "web": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/128.0",
}
ARCHETYPES: dict[tuple[bool, bool], Archetype] = {
    (False, False): "steady", (True, False): "spender",
    (False, True): "income_drop", (True, True): "both",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Persona:
    """One synthetic user and the behaviour their events follow.

    Attributes:
        user_id: Kafka key and ``user_id`` of every event.
        first_name: Sent in the first profile update.
        timezone: IANA zone name, sent in the profile and every event's context.
        archetype: Which triggers the user's history must fire (see the module).
        daily_spend: Usual debit spending per UTC day, in dollars.
        monthly_income: Usual pay per calendar month, in dollars; a multiple of $10 so a
            semimonthly half is whole cents.
        pay_schedule: ``monthly`` (paid on the 1st) or ``semimonthly`` (1st and 15th).
        tier: Product tier sent in the profile.
        device: ``ios``, ``android`` or ``web``.
        employer: Name on the income deposits.
        spike_factor: Spending multiplier on the spike days; 1 when the user does not spike.
        income_drop: Share of pay lost in the last complete month; 0 when it does not drop.
    """

    user_id: str
    first_name: str
    timezone: str
    archetype: Archetype
    daily_spend: Decimal
    monthly_income: Decimal
    pay_schedule: PaySchedule
    tier: Literal["free", "standard", "premium"] = "standard"
    device: str = "ios"
    employer: str = EMPLOYERS[0]
    spike_factor: float = 1.0
    income_drop: float = 0.0


def make_population(
    n_users: int, *, seed: int, spike_share: float = 0.15, income_drop_share: float = 0.15
) -> list[Persona]:
    """Return ``n_users`` personas; exactly round(n x share) spike, and as many drop.

    Args:
        n_users: How many users.
        seed: Same seed, same population. User ids include it.
        spike_share: Share of users whose spending spikes (``spender`` or ``both``).
        income_drop_share: Share whose income drops (``income_drop`` or ``both``); drawn
            independently, so about ``spike_share x income_drop_share`` are ``both``.

    Raises:
        ValueError: A negative count or a share outside [0, 1].
    """
    if n_users < 0:
        msg = f"n_users must be >= 0, not {n_users}"
        raise ValueError(msg)
    for share in (spike_share, income_drop_share):
        if not 0.0 <= share <= 1.0:
            msg = f"shares must be within [0, 1], not {share}"
            raise ValueError(msg)
    rng = random.Random(f"population:{seed}")  # noqa: S311 - a simulation, not security
    spikers = set(rng.sample(range(n_users), round(n_users * spike_share)))
    droppers = set(rng.sample(range(n_users), round(n_users * income_drop_share)))
    return [_persona(rng, seed, i, i in spikers, i in droppers) for i in range(n_users)]


def _persona(rng: random.Random, seed: int, index: int, spikes: bool, drops: bool) -> Persona:
    spike_factor = round(rng.uniform(*SPIKE_FACTORS), 2)
    income_drop = round(rng.uniform(*INCOME_DROPS), 2)
    return Persona(
        user_id=f"user-{seed}-{index:05d}",
        first_name=rng.choice(FIRST_NAMES),
        timezone=rng.choice(ZONES)[0],
        archetype=ARCHETYPES[spikes, drops],
        daily_spend=Decimal(rng.randrange(2500, 12000)) / 100,
        monthly_income=Decimal(rng.randrange(250, 900) * 10),
        pay_schedule=rng.choice(("monthly", "semimonthly")),
        tier=rng.choice(("free", "free", "standard", "premium")),
        device=rng.choice(sorted(DEVICES)),
        employer=rng.choice(EMPLOYERS),
        spike_factor=spike_factor if spikes else 1.0,
        income_drop=income_drop if drops else 0.0,
    )


def expected_firings(personas: Iterable[Persona]) -> dict[str, set[str]]:
    """Return trigger id -> the user ids whose history must fire it."""
    people = list(personas)
    return {
        "spending_spike": {p.user_id for p in people if p.archetype in ("spender", "both")},
        "income_drop": {p.user_id for p in people if p.archetype in ("income_drop", "both")},
    }


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

    @classmethod
    def ending(cls, now: datetime, history_days: int) -> Timeline:
        """Return the timeline of ``history_days`` (or more, see the module) before ``now``."""
        if now.utcoffset() is None:
            msg = "now must be timezone-aware"
            raise ValueError(msg)
        if history_days < 0:
            msg = f"history_days must be >= 0, not {history_days}"
            raise ValueError(msg)
        now = now.astimezone(UTC)
        last_day = _midnight(now - timedelta(microseconds=1))
        this_month = last_day.replace(day=1)
        earliest = _months_before(this_month, MIN_MONTHS_BEFORE)
        start = min(_midnight(now - timedelta(days=history_days)), earliest)
        return cls(now, start, last_day, this_month, _months_before(this_month, 1))


def population_events(
    personas: Iterable[Persona],
    *,
    now: datetime,
    history_days: int = 100,
    live_seconds: float = 0.0,
    seed: int,
) -> Iterator[EventDict]:
    """Return every persona's events, merged in ``occurred_at`` order.

    Args:
        personas: The users.
        now: Timezone-aware end of the history; history events are strictly before it.
        history_days: Days of history before ``now``; extended back to the 1st of the
            fourth month before ``now``'s when shorter, so the income baseline exists.
        live_seconds: When > 0, also yield steady app activity (page views, features;
            no money) timestamped in [now, now + live_seconds).
        seed: Same seed and arguments, same stream (event ids included).

    Raises:
        ValueError: ``now`` is naive, or a negative duration.
    """
    if live_seconds < 0:
        msg = f"live_seconds must be >= 0, not {live_seconds}"
        raise ValueError(msg)
    timeline = Timeline.ending(now, history_days)
    streams = [_user_events(p, timeline, live_seconds, seed) for p in personas]
    return (event for _, event in heapq.merge(*streams, key=lambda stamped: stamped[0]))


class _Writer:
    """Builds one user's event dicts, drawing ids and details from the user's generator."""

    def __init__(self, persona: Persona, rng: random.Random) -> None:
        self.persona = persona
        self.rng = rng
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

    def transaction(self, at: datetime, amount: Decimal, direction: str = "debit") -> Stamped:
        """Return a card transaction at a random merchant."""
        merchant, category = self.rng.choice(MERCHANTS)
        payload = {"type": "transaction", "amount": str(amount), "currency": "USD",
                   "merchant": merchant, "category": category, "direction": direction}  # fmt: skip
        return self.event(at, "backend", payload)

    def activity(self, at: datetime, session_id: str | None = None) -> Stamped:
        """Return a page view or, less often, a feature use."""
        if self.rng.random() < 0.75:
            seconds = round(self.rng.uniform(2, 90), 1)
            payload: EventDict = {"type": "page_view", "path": self.rng.choice(PAGES),
                                  "duration_seconds": seconds}  # fmt: skip
        else:
            payload = {"type": "feature_used", "feature": self.rng.choice(FEATURES)}
        return self.event(at, self.source, payload, session_id)


def _user_events(
    persona: Persona, timeline: Timeline, live_seconds: float, seed: int
) -> Iterator[Stamped]:
    rng = random.Random(f"events:{seed}:{persona.user_id}")  # noqa: S311 - a simulation
    writer = _Writer(persona, rng)
    joined = timeline.start + timedelta(seconds=writer.rng.uniform(0, 1800))
    consent = {"sms": True, "email": True, "push": True}
    yield writer.event(joined, writer.source, {
        "type": "profile_update", "first_name": persona.first_name,
        "timezone": persona.timezone, "consent": consent, "tier": persona.tier,
    })  # fmt: skip
    day = timeline.start
    while day <= timeline.last_day:
        low, high = max(day, joined + timedelta(seconds=1)), min(day + DAY, timeline.now)
        if low < high:
            today = [
                *_spending(writer, timeline, day, low, high),
                *_pay(writer, timeline, day, low, high),
                *_refund(writer, low, high),
                *_session(writer, low, high),
            ]
            yield from sorted(today, key=lambda stamped: stamped[0])
        day += DAY
    end = timeline.now + timedelta(seconds=live_seconds)
    at = timeline.now + timedelta(seconds=writer.rng.expovariate(1 / LIVE_MEAN_GAP_SECONDS))
    while at < end:
        yield writer.activity(at)
        at += timedelta(seconds=writer.rng.expovariate(1 / LIVE_MEAN_GAP_SECONDS))


def _spending(
    writer: _Writer, timeline: Timeline, day: datetime, low: datetime, high: datetime
) -> list[Stamped]:
    """The day's debits: the day's budget split over 1 to 3 transactions."""
    rng, persona = writer.rng, writer.persona
    factor = rng.uniform(1 - DAILY_SPEND_JITTER, 1 + DAILY_SPEND_JITTER)
    if persona.archetype in ("spender", "both") and day >= timeline.spike_start:
        factor *= persona.spike_factor
    budget = _cents(persona.daily_spend * Decimal(f"{factor:.6f}"))
    count = rng.randint(1, MAX_DAILY_TRANSACTIONS)
    times = [_moment(rng, low, high) for _ in range(count)]
    if day == timeline.last_day:
        times[0] = _moment(rng, max(low, timeline.now - RECENT_WINDOW), high)
    weights = [rng.uniform(0.5, 1.5) for _ in range(count)]
    amounts = [_cents(budget * Decimal(f"{w / sum(weights):.6f}")) for w in weights[1:]]
    amounts.insert(0, budget - sum(amounts, Decimal(0)))
    return [writer.transaction(at, amount) for at, amount in zip(times, amounts, strict=True)]


def _pay(
    writer: _Writer, timeline: Timeline, day: datetime, low: datetime, high: datetime
) -> list[Stamped]:
    """The salary deposit when ``day`` is a payday; less in the drop month if it drops."""
    persona = writer.persona
    paydays = (1,) if persona.pay_schedule == "monthly" else (1, 15)
    if day.day not in paydays:
        return []
    amount = persona.monthly_income / len(paydays)
    if timeline.drop_month <= day < timeline.this_month:
        amount *= 1 - Decimal(f"{persona.income_drop:.2f}")
    payload = {"type": "income_deposit", "amount": str(_cents(amount)), "currency": "USD",
               "source_name": persona.employer, "kind": "salary"}  # fmt: skip
    at = _moment(writer.rng, low, min(high, low + PAYDAY_WINDOW))
    return [writer.event(at, "backend", payload)]


def _refund(writer: _Writer, low: datetime, high: datetime) -> list[Stamped]:
    """Now and then a merchant refund (a credit, which is not spending)."""
    if writer.rng.random() >= REFUND_CHANCE:
        return []
    amount = _cents(Decimal(f"{writer.rng.uniform(5, 40):.2f}"))
    return [writer.transaction(_moment(writer.rng, low, high), amount, "credit")]


def _session(writer: _Writer, low: datetime, high: datetime) -> list[Stamped]:
    """Most days an app session: page views, maybe a feature, then the session's end."""
    rng = writer.rng
    if rng.random() >= SESSION_CHANCE or high - low <= SESSION_ROOM:
        return []
    session_id = writer.new_id()
    start = at = _moment(rng, low, high - SESSION_ROOM)
    events = []
    for _ in range(rng.randint(1, 5)):
        at += timedelta(seconds=rng.uniform(3, 90))
        events.append(writer.activity(at, session_id))
    at += timedelta(seconds=rng.uniform(1, 30))
    screens = sum(1 for _, event in events if event["payload"]["type"] == "page_view")
    payload = {"type": "app_session", "duration_seconds": round((at - start).total_seconds(), 3),
               "screens": screens}  # fmt: skip
    return [*events, writer.event(at, writer.source, payload, session_id)]


def _moment(rng: random.Random, low: datetime, high: datetime) -> datetime:
    """Return a random instant in [low, high) (``low`` when the range is empty)."""
    span = (high - low) // timedelta(microseconds=1)
    return low + timedelta(microseconds=rng.randrange(span)) if span > 0 else low


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _months_before(month_start: datetime, months: int) -> datetime:
    index = month_start.year * 12 + month_start.month - 1 - months
    return month_start.replace(year=index // 12, month=index % 12 + 1)
