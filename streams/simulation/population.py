"""A synthetic user population and its event stream, for the producer, the demo and tests.

Pure: no I/O and no clock; the caller passes ``now`` and a seed, and the same arguments
always give the same stream. Every user starts with a profile update, then spends every
UTC day, is paid on a schedule and opens the app once a day. The archetype decides which
of the two money triggers must fire on the fresh end of the history (the last two days
before ``now``):

- ``steady``: nothing fires. Daily spend varies by at most ``DAILY_SPEND_JITTER`` and pay
  is constant, so no week and no month stands out.
- ``spender``: spending is multiplied over the UTC days overlapping the last five days
  before ``now`` (``spending_spike``).
- ``income_drop``: the last complete calendar month brings 25-40 % less pay, or, for
  every third of these users, none at all (the pay stopped: a 100 % drop); judged at the
  user's first fresh event of the current month (``income_drop``).
- ``both``: both behaviours.

On top of that, a share of the steady users live out a story (``streams.simulation.stories``): the
behaviour of the other triggers, from a big purchase to an application left unfinished.
Everyone else stays ordinary, and the ordinary days are built so that no trigger fires:
one app session a day (no lapse, no decline, fewer than ten a week), features used now
and then, birthdays and lease ends, when known, far from their windows.

A few of the ordinary users also get risk scores (``streams.simulation.risk_stories``): their
payments join their stream here, their scores come from ``population_risk_scores``.

Events are JSON-ready dicts of the ``schemas.events.Event`` shape, merged in
``occurred_at`` order from one lazy generator per user, so memory is O(users).
``occurred_at`` carries the user's standard UTC offset (daylight saving is not modelled;
the instant is exact either way).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from streams.simulation.risk_stories import RISK_STORIES, risk_events
from streams.simulation.stories import STORIES, Story
from streams.simulation.story_events import birth_date
from streams.simulation.synthetic import (
    CATEGORY_CONSENT,
    DAY,
    ZONES,
    Archetype,
    EventDict,
    EventWriter,
    Persona,
    Stamped,
    Tier,
    Timeline,
    cents,
    moment,
)

#: Each day's spend is the usual amount times U(1 - j, 1 + j). With j = 3 % any two
#: weeks differ by at most 1.03 / 0.97 (6.2 %): a steady week always stays within 8 % of
#: the weeks before it, far from the spike threshold (+20 %).
DAILY_SPEND_JITTER = 0.03
SPIKE_FACTORS = (1.6, 2.5)
#: Share of pay lost in the drop month; well past the 15 % threshold.
INCOME_DROPS = (0.25, 0.40)
#: Every this many income droppers (in user order, the first included) the pay stops.
STOPPED_EVERY = 3
#: Every user's last transaction lands this close to ``now``: fresh even if the
#: pipeline reads it late, and inside now's month even when now is minutes into it.
RECENT_WINDOW = timedelta(hours=1)
#: Pay lands within this long after the start of payday.
PAYDAY_WINDOW = timedelta(hours=8)
MAX_DAILY_TRANSACTIONS = 3
#: Page views and feature uses in one app session: mostly a quick look.
SESSION_ACTIONS = (1, 1, 2, 3)
REFUND_CHANCE = 0.03
#: A session lasts at most 3 x 90 s + 30 s; it starts at least this long before its slot
#: of the day ends.
SESSION_ROOM = timedelta(minutes=10)
#: Mean gap between one user's live events (after ``now``), in seconds.
LIVE_MEAN_GAP_SECONDS = 120.0
#: Ordinary users who told their birthday (a profile fact); it is 20 to 340 days away,
#: never within the week ``birthday_approaching`` looks at.
BIRTHDAY_SHARE = 0.7
#: Ordinary users who told when their lease ends: 75 to 330 days away, outside the
#: 30-60 day renewal window.
LEASE_SHARE = 0.2
#: Ordinary users who told their relationship status (a first answer is not news).
RELATIONSHIP_SHARE = 0.5
RELATIONSHIP_STATUSES = ("single", "partnered", "married")

FIRST_NAMES = (
    "Ava", "Ben", "Chloe", "Dana", "Eli", "Farah", "Gabe", "Hana", "Ivan", "Jade",
    "Kofi", "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq",
)  # fmt: skip
EMPLOYERS = ("Acme Logistics", "Northwind Health", "Blue Harbor Bank", "Riverside Schools")
ARCHETYPES: dict[tuple[bool, bool], Archetype] = {
    (False, False): "steady", (True, False): "spender",
    (False, True): "income_drop", (True, True): "both",
}  # fmt: skip
#: The two money triggers every archetype is judged on.
MONEY_TRIGGERS = frozenset({"spending_spike", "income_drop"})
#: Every trigger whose firings the population knows exactly: the money triggers and
#: those of the stories. The generator is built so that nothing else fires either.
MODELLED_TRIGGERS = MONEY_TRIGGERS.union(
    *(story.fires | story.suppressed for story in STORIES.values())
)


@dataclass(frozen=True, slots=True)
class Mix:
    """Shares of a population (see ``make_population``).

    Attributes:
        spike_share: Users whose spending spikes.
        income_drop_share: Users whose income drops, drawn independently.
        story_share: Users, among the steady ones, who live out a story.
        risk_users: Users, among the steady ones without a story, with a risk story.
    """

    spike_share: float = 0.15
    income_drop_share: float = 0.15
    story_share: float = 0.0
    risk_users: int = 0

    def population(self, n_users: int, *, seed: int) -> list[Persona]:
        """Return ``make_population(n_users, seed=seed)`` with these shares."""
        return make_population(
            n_users,
            seed=seed,
            spike_share=self.spike_share,
            income_drop_share=self.income_drop_share,
            story_share=self.story_share,
            risk_users=self.risk_users,
        )


def make_population(
    n_users: int,
    *,
    seed: int,
    spike_share: float = 0.15,
    income_drop_share: float = 0.15,
    story_share: float = 0.0,
    risk_users: int = 0,
) -> list[Persona]:
    """Return ``n_users`` personas; exactly round(n x share) of each kind.

    Args:
        n_users: How many users.
        seed: Same seed, same population. User ids include it.
        spike_share: Share of users whose spending spikes (``spender`` or ``both``).
        income_drop_share: Share whose income drops (``income_drop`` or ``both``); drawn
            independently, so about ``spike_share x income_drop_share`` are ``both``.
        story_share: Share of users who live out a story, taken from the steady users;
            the stories are handed out in turn (``STORIES`` order), so 21 story users
            cover every one.
        risk_users: How many of the steady users without a story get a risk story
            (``streams.simulation.risk_stories``), handed out in turn like the stories.

    Raises:
        ValueError: A negative count, a share outside [0, 1], or more stories (or risk
            stories) than steady users to live them.
    """
    if n_users < 0 or risk_users < 0:
        msg = f"n_users and risk_users must be >= 0, not {n_users} and {risk_users}"
        raise ValueError(msg)
    for share in (spike_share, income_drop_share, story_share):
        if not 0.0 <= share <= 1.0:
            msg = f"shares must be within [0, 1], not {share}"
            raise ValueError(msg)
    rng = random.Random(f"population:{seed}")  # noqa: S311 - a simulation, not security
    spikers = set(rng.sample(range(n_users), round(n_users * spike_share)))
    droppers = set(rng.sample(range(n_users), round(n_users * income_drop_share)))
    stopped = set(sorted(droppers)[::STOPPED_EVERY])
    # A generator of their own: the same seed gives the same people with or without stories.
    storyteller = random.Random(f"stories:{seed}")  # noqa: S311 - a simulation
    wanted = round(n_users * story_share)
    stories = _hand_out(
        storyteller,
        n_users,
        spikers | droppers,
        wanted=wanted,
        names=list(STORIES),
        what=("stories", "steady"),
    )
    # Another generator of its own: risk stories leave everyone's ordinary life as it was.
    risky = _hand_out(
        random.Random(f"risk-stories:{seed}"),  # noqa: S311 - a simulation
        n_users,
        spikers | droppers | set(stories),
        wanted=risk_users,
        names=list(RISK_STORIES),
        what=("risk stories", "ordinary"),
    )
    return [
        replace(
            _persona(
                rng,
                seed,
                i,
                spikes=i in spikers,
                drops=i in droppers,
                stops=i in stopped,
                story=stories.get(i),
            ),
            risk_story=risky.get(i),
        )
        for i in range(n_users)
    ]


def _hand_out(
    rng: random.Random,
    n_users: int,
    busy: set[int],
    *,
    wanted: int,
    names: list[str],
    what: tuple[str, str],
) -> dict[int, str]:
    """Give ``wanted`` users not in ``busy`` one of ``names`` each, in turn, at random.

    ``what`` names the stories and the users who may live them, for the error.
    """
    if not wanted:
        return {}
    free = [i for i in range(n_users) if i not in busy]
    if wanted > len(free):
        msg = f"{wanted} {what[0]} but only {len(free)} {what[1]} users to live them"
        raise ValueError(msg)
    return {user: names[k % len(names)] for k, user in enumerate(sorted(rng.sample(free, wanted)))}


def _persona(
    rng: random.Random,
    seed: int,
    index: int,
    *,
    spikes: bool,
    drops: bool,
    stops: bool,
    story: str | None,
) -> Persona:
    spike_factor = round(rng.uniform(*SPIKE_FACTORS), 2)
    income_drop = round(rng.uniform(*INCOME_DROPS), 2)
    tier: Tier = rng.choice(("free", "free", "standard", "premium"))
    rise_draw = rng.random()
    plot = STORIES[story] if story else None
    rise = plot.spend_rise if plot is not None else None
    if rise is not None:
        # Story users are steady (never spikers): the factor serves the story's rise.
        _, low, high = rise
        spike_factor = round(low + (high - low) * rise_draw, 2)
    return Persona(
        user_id=f"user-{seed}-{index:05d}",
        first_name=rng.choice(FIRST_NAMES),
        timezone=rng.choice(ZONES)[0],
        archetype=ARCHETYPES[spikes, drops],
        daily_spend=Decimal(rng.randrange(2500, 12000)) / 100,
        monthly_income=Decimal(rng.randrange(250, 900) * 10),
        pay_schedule=rng.choice(("monthly", "semimonthly")),
        tier=plot.tier if plot and plot.tier else tier,
        device=rng.choice(("android", "ios", "web")),
        employer=rng.choice(EMPLOYERS),
        spike_factor=spike_factor if spikes or rise is not None else 1.0,
        income_drop=(1.0 if stops else income_drop) if drops else 0.0,
        story=story,
    )


def expected_firings(personas: Iterable[Persona]) -> dict[str, set[str]]:
    """Return trigger id -> the user ids whose history must fire it.

    Every trigger in ``MODELLED_TRIGGERS`` is a key, with an empty set when nobody must
    fire it: the histories are built so that those users, and only they, fire it (each
    once, and the caps and priorities leave room for it). Triggers that are not keys have
    no such promise.
    """
    fired: dict[str, set[str]] = {trigger: set() for trigger in sorted(MODELLED_TRIGGERS)}
    for persona in personas:
        money = {
            "spending_spike": persona.archetype in ("spender", "both"),
            "income_drop": persona.archetype in ("income_drop", "both"),
        }
        for trigger in [t for t, fires in money.items() if fires]:
            fired[trigger].add(persona.user_id)
        if persona.story is not None:
            for trigger in STORIES[persona.story].fires:
                fired[trigger].add(persona.user_id)
    return fired


#: The labels whose users the stories name exactly (``Story.pattern``); no other user
#: may have them. The others describe ordinary days and have no exact expectation.
SCRIPTED_PATTERNS = ("high_intent", "at_risk")


def expected_patterns(personas: Iterable[Persona]) -> dict[str, set[str]]:
    """Return label -> the users who must carry it once the timer has judged them.

    Only ``SCRIPTED_PATTERNS``: the stories that name a label give it, and nobody else
    gets one of these.
    """
    expected: dict[str, set[str]] = {label: set() for label in SCRIPTED_PATTERNS}
    for persona in personas:
        story = STORIES[persona.story] if persona.story is not None else None
        if story is not None and story.pattern is not None:
            expected[story.pattern].add(persona.user_id)
    return expected


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
    return (event for _, event in heapq.merge(*streams, key=_stamp))


def population_risk_scores(
    personas: Iterable[Persona], *, now: datetime, history_days: int = 100, seed: int
) -> list[EventDict]:
    """Return the ``risk_score`` events of the personas with a risk story, oldest first.

    Args: as ``population_events``, whose histories these scores belong to.
    """
    timeline = Timeline.ending(now, history_days)
    scores = [
        stamped
        for persona in personas
        if persona.risk_story is not None
        for stamped in risk_events(persona, timeline, seed)[1]
    ]
    return [event for _, event in sorted(scores, key=_stamp)]


def _stamp(stamped: Stamped) -> datetime:
    return stamped[0]


def _user_events(
    persona: Persona, timeline: Timeline, live_seconds: float, seed: int
) -> Iterator[Stamped]:
    rng = random.Random(f"events:{seed}:{persona.user_id}")  # noqa: S311 - a simulation
    story = STORIES[persona.story] if persona.story else None
    writer = EventWriter(persona, rng, features=story.features if story else True)
    joined = timeline.start + timedelta(seconds=rng.uniform(0, 1800))
    consent = {"sms": True, "email": True, "push": True}
    yield writer.profile(
        joined, first_name=persona.first_name, timezone=persona.timezone, consent=consent,
        category_consent=CATEGORY_CONSENT, tier=persona.tier, **_profile_facts(writer, timeline),
    )  # fmt: skip
    plot = story.events(writer, timeline) if story else []
    if persona.risk_story is not None:
        plot += risk_events(persona, timeline, seed)[0]  # the payments; scores go elsewhere
    plot.sort(key=_stamp)
    draw = rng.random()
    yield from heapq.merge(_days(writer, timeline, joined, story, draw), plot, key=_stamp)
    end = timeline.now + timedelta(seconds=live_seconds)
    at = timeline.now + timedelta(seconds=rng.expovariate(1 / LIVE_MEAN_GAP_SECONDS))
    while at < end:
        yield writer.activity(at)
        at += timedelta(seconds=rng.expovariate(1 / LIVE_MEAN_GAP_SECONDS))


def _profile_facts(writer: EventWriter, timeline: Timeline) -> dict[str, str]:
    """Facts some users give at sign-up, none of which calls for a message."""
    rng, today, facts = writer.rng, timeline.now.date(), {}
    if rng.random() < BIRTHDAY_SHARE:
        anniversary = today + timedelta(days=rng.randint(20, 340))
        facts["birthday"] = birth_date(writer, anniversary).isoformat()
    if rng.random() < LEASE_SHARE:
        facts["lease_end"] = (today + timedelta(days=rng.randint(75, 330))).isoformat()
    if rng.random() < RELATIONSHIP_SHARE:
        facts["relationship_status"] = rng.choice(RELATIONSHIP_STATUSES)
    return facts


def _days(
    writer: EventWriter, timeline: Timeline, joined: datetime, story: Story | None, draw: float
) -> Iterator[Stamped]:
    """The user's ordinary days, one UTC day at a time, in time order."""
    day = timeline.start
    while day <= timeline.last_day:
        low, high = max(day, joined + timedelta(seconds=1)), min(day + DAY, timeline.now)
        if low < high:
            days_ago = (timeline.last_day - day).days
            sessions = story.sessions(days_ago, draw) if story else 1
            today = [
                *_spending(writer, timeline, story, day, low=low, high=high),
                *_pay(writer, timeline, day, low, high),
                *_refund(writer, low, high),
                *_sessions(writer, low, high, sessions),
            ]
            yield from sorted(today, key=_stamp)
        day += DAY


def _spend_factor(
    persona: Persona, timeline: Timeline, story: Story | None, day: datetime
) -> float:
    """How much more than usual the user spends on ``day`` (1 on ordinary days)."""
    if persona.archetype in ("spender", "both") and day >= timeline.spike_start:
        return persona.spike_factor
    if story is not None and story.spend_rise and day >= timeline.days_ago(story.spend_rise[0]):
        return persona.spike_factor
    return 1.0


def _spending(
    writer: EventWriter,
    timeline: Timeline,
    story: Story | None,
    day: datetime,
    *,
    low: datetime,
    high: datetime,
) -> list[Stamped]:
    """The day's debits: the day's budget split over 1 to 3 transactions."""
    rng, persona = writer.rng, writer.persona
    factor = rng.uniform(1 - DAILY_SPEND_JITTER, 1 + DAILY_SPEND_JITTER)
    factor *= _spend_factor(persona, timeline, story, day)
    budget = cents(persona.daily_spend * Decimal(f"{factor:.6f}"))
    count = rng.randint(1, MAX_DAILY_TRANSACTIONS)
    times = [moment(rng, low, high) for _ in range(count)]
    if day == timeline.last_day:
        times[0] = moment(rng, max(low, timeline.now - RECENT_WINDOW), high)
    weights = [rng.uniform(0.5, 1.5) for _ in range(count)]
    amounts = [cents(budget * Decimal(f"{w / sum(weights):.6f}")) for w in weights[1:]]
    amounts.insert(0, budget - sum(amounts, Decimal(0)))
    return [writer.transaction(at, amount) for at, amount in zip(times, amounts, strict=True)]


def _pay(
    writer: EventWriter, timeline: Timeline, day: datetime, low: datetime, high: datetime
) -> list[Stamped]:
    """The salary deposit when ``day`` is a payday; less in the drop month if it drops."""
    persona = writer.persona
    paydays = (1,) if persona.pay_schedule == "monthly" else (1, 15)
    if day.day not in paydays:
        return []
    amount = persona.monthly_income / len(paydays)
    if timeline.drop_month <= day < timeline.this_month:
        amount *= 1 - Decimal(f"{persona.income_drop:.2f}")
        if not amount:
            return []  # the pay stopped
    payload = {"type": "income_deposit", "amount": str(cents(amount)), "currency": "USD",
               "source_name": persona.employer, "kind": "salary"}  # fmt: skip
    at = moment(writer.rng, low, min(high, low + PAYDAY_WINDOW))
    return [writer.backend(at, payload)]


def _refund(writer: EventWriter, low: datetime, high: datetime) -> list[Stamped]:
    """Now and then a merchant refund (a credit, which is not spending)."""
    if writer.rng.random() >= REFUND_CHANCE:
        return []
    amount = cents(Decimal(f"{writer.rng.uniform(5, 40):.2f}"))
    return [writer.transaction(moment(writer.rng, low, high), amount, "credit")]


def _sessions(writer: EventWriter, low: datetime, high: datetime, count: int) -> list[Stamped]:
    """``count`` app sessions, one in each equal slot of [low, high)."""
    if count <= 0:
        return []
    slot = (high - low) / count
    return [e for i in range(count) for e in _session(writer, low + i * slot, low + (i + 1) * slot)]


def _session(writer: EventWriter, low: datetime, high: datetime) -> list[Stamped]:
    """An app session in [low, high): page views, maybe a feature, then the session's end."""
    rng = writer.rng
    if high - low <= SESSION_ROOM:
        return []
    session_id = writer.new_id()
    start = at = moment(rng, low, high - SESSION_ROOM)
    events = []
    for _ in range(rng.choice(SESSION_ACTIONS)):
        at += timedelta(seconds=rng.uniform(3, 90))
        events.append(writer.activity(at, session_id))
    at += timedelta(seconds=rng.uniform(1, 30))
    screens = sum(1 for _, event in events if event["payload"]["type"] == "page_view")
    payload = {"type": "app_session", "duration_seconds": round((at - start).total_seconds(), 3),
               "screens": screens}  # fmt: skip
    return [*events, writer.app(at, payload, session_id)]


__all__ = [
    "Mix",
    "Persona",
    "Timeline",
    "expected_firings",
    "make_population",
    "population_events",
    "population_risk_scores",
]
