"""A labelled synthetic stream of card debits: varied habits, then injected anomalies.

Each card holder has a home country and a time zone, usual local hours (most in the day,
some night owls whose evenings run past midnight), a set of usual merchants in a few
categories (some used far more than others), a lognormal amount and a number of debits a
day. Their ordinary life has its own novelty: now and then a merchant never used before
(now and then in a new category), and for a quarter of them a trip abroad, paying new
merchants there. After ``HISTORY_DAYS`` of that, ``TEST_DAYS`` more in which about
``ANOMALY_SHARE`` of the debits are injected anomalies of three kinds, in equal numbers:

- ``amount``: a usual merchant at a usual hour, at home, for 5 to 10 times the user's
  median amount;
- ``time``: a usual merchant and amount, at home, between 01:00 and 04:59 local time, for
  a user whose day starts at 07:00 or later (never a night owl);
- ``abroad``: a merchant new to the user, in a country that is not their home, at a usual
  hour for a usual amount.

It is built to be learnable (each anomaly differs from the user's own habits in one
way), not to be a measurement of real fraud: the figures it gives compare methods.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

#: Days of ordinary history before the test period.
HISTORY_DAYS = 60
#: Days scored and judged, with the injected anomalies.
TEST_DAYS = 30
#: Share of the test period's debits that are injected anomalies.
ANOMALY_SHARE = 0.02
KINDS = ("amount", "time", "abroad")
#: The UTC day number of the first day (2026-01-05, a Monday): any day would do.
FIRST_DAY = 20_458
SECONDS_PER_DAY = 86_400
COUNTRIES = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "CA", "AU", "JP", "MX", "BR")
#: Offsets from UTC of the homes above, in hours (standard time; no DST in a simulation).
OFFSETS = (-5, 0, 1, 1, 1, 1, 1, -5, 10, 9, -6, -3)
CATEGORIES = (
    "groceries", "restaurants", "coffee", "transport", "fuel", "pharmacy", "clothing",
    "electronics", "entertainment", "utilities", "travel", "home", "books", "sports",
)  # fmt: skip
#: Share of users whose usual hours run into the night (none gets a "time" anomaly).
NIGHT_OWL_SHARE = 0.15
#: Share of users with one trip abroad in the 90 days.
TRAVELLER_SHARE = 0.25
#: On a trip, the chance each debit goes to a merchant new to the user.
TRIP_NEW_MERCHANT = 0.8
#: Amount multiples of the user's median for an amount anomaly.
AMOUNT_MULTIPLES = (5.0, 10.0)
#: Local hours of a time anomaly.
NIGHT_HOURS = (1, 4)


@dataclass(frozen=True, slots=True)
class Debit:
    """One card debit, as the scorers see it.

    Attributes:
        user: The card holder's index.
        at: When, in epoch seconds (UTC).
        local_hour: Hour of the day in the user's time zone.
        dollars: The amount.
        merchant: Who was paid.
        category: The merchant's category.
        country: Where (ISO code).
        kind: ``None`` for an ordinary debit, else the anomaly's kind (``KINDS``).
    """

    user: int
    at: float
    local_hour: int
    dollars: float
    merchant: str
    category: str
    country: str
    kind: str | None

    @property
    def day(self) -> int:
        """The UTC day number (the record's daily buckets)."""
        return int(self.at // SECONDS_PER_DAY)

    @property
    def tested(self) -> bool:
        """Whether the debit is in the test period (scored and judged)."""
        return self.day >= FIRST_DAY + HISTORY_DAYS


@dataclass(frozen=True, slots=True)
class Cardholder:
    """One user's habits (see the module)."""

    index: int
    home: int
    hours: tuple[int, int]
    merchants: tuple[tuple[str, str], ...]
    weights: tuple[float, ...]
    log_median: float
    log_sd: float
    per_day: float
    p_new: float
    p_new_category: float
    trip: tuple[int, int, int] | None

    @property
    def night_owl(self) -> bool:
        """Whether the user's usual hours run past midnight."""
        return self.hours[1] >= 24

    @property
    def country(self) -> str:
        """The home country."""
        return COUNTRIES[self.home]


def cardholders(users: int, rng: random.Random) -> list[Cardholder]:
    """Return ``users`` card holders with varied habits."""
    people = []
    for index in range(users):
        if rng.random() < NIGHT_OWL_SHARE:
            hours = (rng.randint(11, 15), rng.randint(24, 26))  # until 00:59 to 02:59
        else:
            hours = (rng.randint(7, 10), rng.randint(17, 21))
        kinds = rng.sample(CATEGORIES, rng.randint(3, 7))
        merchants = tuple(
            (f"m{index}-{i}", rng.choice(kinds)) for i in range(rng.randint(6, 25))
        )  # fmt: skip
        trip = None
        if rng.random() < TRAVELLER_SHARE:
            start = rng.randrange(HISTORY_DAYS + TEST_DAYS - 8)
            trip = (start, start + rng.randint(3, 8), rng.randrange(len(COUNTRIES)))
        people.append(
            Cardholder(
                index=index,
                home=rng.randrange(len(COUNTRIES)),
                hours=hours,
                merchants=merchants,
                weights=tuple(1 / (rank + 1) for rank in range(len(merchants))),  # Zipf
                log_median=rng.uniform(math.log(8), math.log(60)),
                log_sd=rng.uniform(0.4, 0.9),
                per_day=rng.uniform(1.0, 4.0),
                p_new=rng.uniform(0.02, 0.15),
                p_new_category=rng.uniform(0.05, 0.3),
                trip=trip,
            )
        )
    return people


def stream(users: int, seed: int) -> list[Debit]:
    """Return every debit of ``users`` card holders in time order, anomalies labelled."""
    rng = random.Random(f"card-stream:{seed}")  # noqa: S311 - a simulation
    people = cardholders(users, rng)
    debits = [d for person in people for d in _ordinary(person, rng)]
    tested = sum(1 for d in debits if d.tested)
    wanted = round(tested * ANOMALY_SHARE / (1 - ANOMALY_SHARE))
    daytime = [p for p in people if not p.night_owl]
    for i in range(wanted):
        kind = KINDS[i % len(KINDS)]
        person = rng.choice(daytime if kind == "time" else people)
        debits.append(_anomaly(person, kind, i, rng))
    debits.sort(key=lambda d: (d.at, d.user))
    return debits


def _ordinary(person: Cardholder, rng: random.Random) -> Iterator[Debit]:
    new = 0
    for day in range(HISTORY_DAYS + TEST_DAYS):
        trip = person.trip
        away = trip is not None and trip[0] <= day < trip[1] and trip[2] != person.home
        for _ in range(_poisson(person.per_day, rng)):
            p_new = TRIP_NEW_MERCHANT if away else person.p_new
            if rng.random() < p_new:
                new += 1
                merchant = f"m{person.index}-new{new}"
                category = (
                    rng.choice(CATEGORIES)
                    if rng.random() < person.p_new_category
                    else rng.choice(person.merchants)[1]
                )
            else:
                merchant, category = rng.choices(person.merchants, person.weights)[0]
            country = COUNTRIES[trip[2]] if away and trip is not None else person.country
            hour = _usual_hour(person, rng)
            at = _utc(person, day, hour, rng)
            yield Debit(person.index, at, hour, _amount(person, rng), merchant, category,
                        country, None)  # fmt: skip


def _anomaly(person: Cardholder, kind: str, i: int, rng: random.Random) -> Debit:
    day = rng.randrange(HISTORY_DAYS, HISTORY_DAYS + TEST_DAYS)
    hour, dollars = _usual_hour(person, rng), _amount(person, rng)
    merchant, category = rng.choices(person.merchants, person.weights)[0]
    country = person.country
    if kind == "amount":
        dollars = round(math.exp(person.log_median) * rng.uniform(*AMOUNT_MULTIPLES), 2)
    elif kind == "time":
        hour = rng.randint(*NIGHT_HOURS)
    else:
        merchant, category = f"fraud-{i}", rng.choice(CATEGORIES)
        country = rng.choice([c for c in COUNTRIES if c != person.country])
    at = _utc(person, day, hour, rng)
    return Debit(person.index, at, hour, dollars, merchant, category, country, kind)


def _utc(person: Cardholder, day: int, local_hour: int, rng: random.Random) -> float:
    """Return a moment in ``local_hour`` of the user's local ``day``, in epoch seconds."""
    local = (FIRST_DAY + day) * SECONDS_PER_DAY + local_hour * 3600 + rng.randrange(3600)
    return float(local - OFFSETS[person.home] * 3600)


def _usual_hour(person: Cardholder, rng: random.Random) -> int:
    first, last = person.hours
    return rng.randint(first, last) % 24


def _amount(person: Cardholder, rng: random.Random) -> float:
    return round(max(math.exp(rng.gauss(person.log_median, person.log_sd)), 0.5), 2)


def _poisson(mean: float, rng: random.Random) -> int:
    """Knuth's method: count uniform draws until their product drops below exp(-mean)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
