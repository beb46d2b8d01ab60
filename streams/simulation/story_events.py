"""The events of each story (``streams.simulation.stories``): what the user does, in detail.

Each function returns one user's story events (any order) on top of their ordinary days,
every detail drawn from the user's own generator. The docstrings say why the decisive
event fires its trigger whatever the hour and seed; ``streams.simulation.stories`` says which.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from streams.core.behavior.change import judged_week
from streams.core.state.activity_weeks import first_day_of_week
from streams.core.units import day_number
from streams.simulation.synthetic import DAY, EventWriter, Stamped, Timeline, cents

#: Hours before the end of the history the decisive event of an event-driven story
#: happens. The worker evaluates events up to two days old by its own clock, which is
#: later than the history's end by the time it reads them (a minute in the demo, more on a
#: busy machine): 30 hours leaves 18 to spare, 2 keep it clearly in the past.
FRESH_HOURS = (2.0, 30.0)

BIG_TICKETS = (
    ("SkyWays Airlines", "travel"), ("Volt Electronics", "electronics"),
    ("Oakline Furniture", "home"), ("Summit Bikes", "shopping"),
)  # fmt: skip
GOALS = ("emergency-fund", "holiday", "new-laptop", "wedding", "house-deposit")
CAREER_FIELDS = ("data analytics", "nursing", "software engineering", "accounting", "logistics")
SKILLS = (
    "SQL", "Python", "Power BI", "Excel modelling", "project management", "cloud basics",
    "negotiation", "Tableau", "people management",
)  # fmt: skip
#: (form id, product, page): quote forms; "quote" is a word of each id.
QUOTE_FORMS = (
    ("auto-quote", "car insurance", "/insurance/car"),
    ("home-quote", "home insurance", "/insurance/home"),
    ("quote_travel", "travel insurance", "/insurance/travel"),
)
FORM_STEPS = ("about_you", "driver_details", "cover_options", "payment")
LOANS = ("personal loan", "credit card", "car loan")
#: Days of daily credit-card snapshots before the end of the history.
CARD_SNAPSHOT_DAYS = 21
#: Weeks of savings progress reports.
SAVINGS_WEEKS = 10


def fresh(w: EventWriter, t: Timeline) -> datetime:
    """Return a moment within ``FRESH_HOURS`` of the end of the history."""
    return t.now - timedelta(hours=w.rng.uniform(*FRESH_HOURS))


def birth_date(w: EventWriter, anniversary: date) -> date:
    """Return a date of birth whose anniversary is ``anniversary`` (a leap year for 29/2)."""
    year = w.rng.randint(1965, 2003)
    if (anniversary.month, anniversary.day) == (2, 29):
        year -= year % 4  # 1964-2000: every multiple of 4 in it is a leap year
    return anniversary.replace(year=year)


# --- money ---------------------------------------------------------------------------


def pay_cut(w: EventWriter, t: Timeline) -> list[Stamped]:
    """A fresh pay deposit 20-40 % below the user's steady one (a story user's pay is steady)."""
    persona = w.persona
    usual = persona.monthly_income / (1 if persona.pay_schedule == "monthly" else 2)
    amount = cents(usual * Decimal(f"{w.rng.uniform(0.6, 0.8):.4f}"))
    payload = {"type": "income_deposit", "amount": str(amount), "currency": "USD",
               "source_name": persona.employer, "kind": "salary"}  # fmt: skip
    return [w.backend(fresh(w, t), payload)]


def big_purchase(w: EventWriter, t: Timeline) -> list[Stamped]:
    """One debit of at least $600 and 8 usual days: large, and this week's spending jumps."""
    usual = max(Decimal(600), w.persona.daily_spend * 8)
    amount = cents(usual * Decimal(f"{w.rng.uniform(1.0, 1.6):.4f}"))
    return [w.transaction(fresh(w, t), amount, merchant=w.rng.choice(BIG_TICKETS))]


#: Where a card turns up far from home, and the new merchant it is used at.
ABROAD = (
    ("MX", ("Hotel Playa Azul", "travel")), ("TH", ("Bangkok Night Market", "shopping")),
    ("BR", ("Loja Rio Eletro", "electronics")), ("RO", ("Casa Bucur", "dining")),
)  # fmt: skip


def card_abroad(w: EventWriter, t: Timeline) -> list[Stamped]:
    """A debit at a merchant the user never paid, in a country not theirs: unusual.

    Small (half a usual day, at least $25): not large, and no spike in the week's spending;
    only the user's anomaly model sees it (``models.online.anomaly``).
    """
    country, merchant = w.rng.choice([a for a in ABROAD if a[0] != w.context["country"]])
    amount = cents(max(Decimal(25), w.persona.daily_spend / 2))
    at, debit = w.transaction(fresh(w, t), amount, merchant=merchant)
    debit["context"] = {**debit["context"], "country": country}
    return [(at, debit)]


def card_maxing(w: EventWriter, t: Timeline) -> list[Stamped]:
    """Daily credit-card snapshots, 4 points of the limit more each day: 74 % yesterday."""
    limit = Decimal(w.rng.choice((1500, 2500, 4000, 6000, 10000)))
    events = []
    for back in range(CARD_SNAPSHOT_DAYS):
        at = t.now - timedelta(hours=24 * back + w.rng.uniform(2, 3))
        used = 78 - 4 * back - (w.rng.uniform(0.1, 1) if back >= 2 else 0)  # 78, 74, < 70...
        used = max(used, w.rng.uniform(25, 30))
        balance = cents(limit * Decimal(f"{used:.4f}") / 100)
        payload = {"type": "balance_snapshot", "balance": str(balance), "currency": "USD",
                   "credit_limit": str(limit), "account_kind": "credit_card"}  # fmt: skip
        events.append(w.backend(at, payload))
    return events


def _savings(w: EventWriter, t: Timeline, shares: list[tuple[datetime, Decimal]]) -> list[Stamped]:
    """A goal created a few days before its first report, then ``(when, share saved)``."""
    goal, target = w.rng.choice(GOALS), Decimal(w.rng.choice((2000, 3000, 5000, 8000)))
    created = {"type": "goal_modification", "goal_id": goal, "action": "created",
               "target": str(target)}  # fmt: skip
    events = [w.app(shares[0][0] - timedelta(days=3), created)]
    for at, share in shares:
        payload = {"type": "savings_progress", "goal_id": goal, "saved": str(cents(target * share)),
                   "target": str(target), "currency": "USD"}  # fmt: skip
        events.append(w.backend(at, payload))
    return events


def saver_milestone(w: EventWriter, t: Timeline) -> list[Stamped]:
    """Weekly savings reports, 4 % of the target each: the fresh one passes 50 %."""
    reports = []
    for back in range(SAVINGS_WEEKS - 1, -1, -1):
        at = (
            fresh(w, t)
            if back == 0
            else t.now - timedelta(days=7 * back, hours=w.rng.uniform(0, 12))
        )
        reports.append((at, Decimal("0.52") - Decimal("0.04") * back))
    return _savings(w, t, reports)


def saver_stalled(w: EventWriter, t: Timeline) -> list[Stamped]:
    """Weekly savings reports that stopped six weeks ago, the goal at 30 %."""
    reports = []
    for back in range(6, -1, -1):
        at = t.now - timedelta(days=42 + 7 * back, hours=w.rng.uniform(0, 12))
        reports.append((at, Decimal("0.30") - Decimal("0.03") * back))
    return _savings(w, t, reports)


# --- health and life -----------------------------------------------------------------


def _health(w: EventWriter, at: datetime, exercise: float, stress: float) -> Stamped:
    sleep = round(w.rng.uniform(5, 8), 1)
    payload = {"type": "health_signal", "exercise_minutes": round(exercise),
               "stress_level": round(stress, 2), "sleep_hours": sleep}  # fmt: skip
    return w.backend(at, payload)


def couch_spender(w: EventWriter, t: Timeline) -> list[Stamped]:
    """Daily wellness reports of under 15 minutes' exercise, while spending is up.

    Spending rises eight days before the end (``spend_rise``), so the fresh reports find
    this whole week far above the usual one.
    """
    return [
        _health(
            w,
            t.now - timedelta(hours=24 * back + w.rng.uniform(3, 9)),
            w.rng.uniform(0, 15),
            w.rng.uniform(0.2, 0.5),
        )  # fmt: skip
        for back in range(10)
    ]


def stressed_applicant(w: EventWriter, t: Timeline) -> list[Stamped]:
    """Calm weekly reports, a stressed one yesterday, then a mortgage application today.

    The application is completed, so it is not chased as unfinished.
    """
    events = [
        _health(
            w,
            t.now - timedelta(days=7 * back, hours=w.rng.uniform(0, 12)),
            w.rng.uniform(25, 60),
            w.rng.uniform(0.25, 0.5),
        )  # fmt: skip
        for back in range(1, 6)
    ]
    stressed = t.now - timedelta(hours=w.rng.uniform(20, 30))
    events.append(_health(w, stressed, w.rng.uniform(25, 60), w.rng.uniform(0.75, 0.95)))
    started = t.now - timedelta(hours=w.rng.uniform(3, 8))
    session = w.new_id()
    application = {"application_id": f"APP-{w.rng.randrange(10**6, 10**7)}", "product": "mortgage"}
    form = {"form_id": "mortgage-application", "product": "mortgage"}
    return [
        *events,
        w.page_view(started - timedelta(minutes=3), "/mortgages", session),
        w.app(started - timedelta(minutes=2), {"type": "form_start", **form}, session),
        w.app(started, {"type": "application_start", **application}, session),
        w.app(
            started + timedelta(minutes=w.rng.uniform(20, 50)),
            {"type": "application_complete", **application},
            session,
        ),  # fmt: skip
    ]


def newlywed(w: EventWriter, t: Timeline) -> list[Stamped]:
    """A status given soon after joining, then a change to it (married, or separated)."""
    before, after = w.rng.choice(
        (("partnered", "married"), ("partnered", "married"), ("single", "married"),
         ("married", "separated"))
    )  # fmt: skip
    known = t.start + timedelta(days=w.rng.uniform(3, 20))
    return [
        w.profile(known, relationship_status=before),
        w.profile(fresh(w, t), relationship_status=after),
    ]


def _date_ahead(w: EventWriter, t: Timeline, low: int, high: int) -> date:
    return t.now.date() + timedelta(days=w.rng.randint(low, high))


def birthday_soon(w: EventWriter, t: Timeline) -> list[Stamped]:
    """A date of birth given weeks ago; the birthday is 2 to 5 days away."""
    born = birth_date(w, _date_ahead(w, t, 2, 5))
    return [w.profile(t.now - timedelta(days=w.rng.uniform(10, 60)), birthday=born.isoformat())]


def lease_ending(w: EventWriter, t: Timeline) -> list[Stamped]:
    """A lease end given weeks ago; it is 38 to 52 days away: the renewal window."""
    ends = _date_ahead(w, t, 38, 52)
    return [w.profile(t.now - timedelta(days=w.rng.uniform(15, 80)), lease_end=ends.isoformat())]


def graduate(w: EventWriter, t: Timeline) -> list[Stamped]:
    """A student-loan grace period, given weeks ago, ending in 8 to 24 days."""
    ends = _date_ahead(w, t, 8, 24).isoformat()
    return [w.profile(t.now - timedelta(days=w.rng.uniform(20, 90)), student_loan_grace_end=ends)]


# --- career --------------------------------------------------------------------------


def _career(
    w: EventWriter, t: Timeline, *, matches: tuple[int, int], gap: tuple[float, float],
    missing: tuple[int, int],
) -> list[Stamped]:  # fmt: skip
    """Monthly career signals that call for nothing, then a fresh one drawn from ranges."""
    field = w.rng.choice(CAREER_FIELDS)
    market = w.rng.randrange(45, 140) * 1000

    def signal(at: datetime, jobs: tuple[int, int], short: tuple[float, float],
               lacking: tuple[int, int]) -> Stamped:  # fmt: skip
        salary = round(market * (1 - w.rng.uniform(*short)), -2)
        skills = w.rng.sample(SKILLS, w.rng.randint(*lacking))
        payload = {"type": "career_signal", "salary": str(salary), "market_rate": str(market),
                   "currency": "USD", "field": field, "missing_skills": skills,
                   "job_matches": w.rng.randint(*jobs)}  # fmt: skip
        return w.backend(at, payload)

    usual = [
        signal(
            t.now - timedelta(days=30 * back, hours=w.rng.uniform(0, 12)),
            (0, 3),
            (-0.05, 0.05),
            (0, 2),
        )  # fmt: skip
        for back in (3, 2, 1)
    ]
    return [*usual, signal(fresh(w, t), matches, gap, missing)]


FEW_JOBS, MANY_JOBS = (0, 4), (6, 30)
AT_MARKET, BELOW_MARKET = (-0.05, 0.05), (0.12, 0.25)
FEW_GAPS, MANY_GAPS = (0, 2), (3, 5)


def job_seeker(w: EventWriter, t: Timeline) -> list[Stamped]:
    """Many job matches at a salary near the market rate."""
    return _career(w, t, matches=MANY_JOBS, gap=AT_MARKET, missing=FEW_GAPS)


def skills_gap(w: EventWriter, t: Timeline) -> list[Stamped]:
    """Three to five missing skills, few matches, paid the market rate."""
    return _career(w, t, matches=FEW_JOBS, gap=AT_MARKET, missing=MANY_GAPS)


def underpaid(w: EventWriter, t: Timeline) -> list[Stamped]:
    """Paid 12-25 % below the market rate, few matches and missing skills."""
    return _career(w, t, matches=FEW_JOBS, gap=BELOW_MARKET, missing=FEW_GAPS)


def crossroads(w: EventWriter, t: Timeline) -> list[Stamped]:
    """All three at once: matches, missing skills and pay below market."""
    return _career(w, t, matches=MANY_JOBS, gap=BELOW_MARKET, missing=MANY_GAPS)


# --- engagement and lead journey -------------------------------------------------------


def quote_dropout(w: EventWriter, t: Timeline) -> list[Stamped]:
    """A quote form started and left a few minutes later."""
    form_id, product, page = w.rng.choice(QUOTE_FORMS)
    at, session = fresh(w, t), w.new_id()
    form = {"form_id": form_id, "product": product}
    left = {"type": "form_abandon", **form, "last_step": w.rng.choice(FORM_STEPS)}
    return [
        w.page_view(at - timedelta(minutes=1), page, session),
        w.app(at, {"type": "form_start", **form}, session),
        w.app(at + timedelta(minutes=w.rng.uniform(3, 9)), left, session),
    ]


def hot_lead(w: EventWriter, t: Timeline) -> list[Stamped]:
    """A quote request after a long look around (6-9 pages), or a second within a week."""
    _, product, page = w.rng.choice(QUOTE_FORMS)
    quoted, session = fresh(w, t), w.new_id()
    events = []
    if w.rng.random() < 0.5:
        views = w.rng.randint(6, 9)
        pages = (page, f"{page}/cover", "/insurance/compare", "/insurance/faq")
        for i in range(views, 0, -1):
            events.append(
                w.page_view(quoted - timedelta(minutes=5 * i), w.rng.choice(pages), session)
            )
    else:
        earlier = t.now - timedelta(days=w.rng.uniform(3, 5))
        events.append(w.app(earlier, {"type": "quote_request", "product": product}))
        events.append(w.page_view(quoted - timedelta(minutes=2), page, session))
    premium = cents(Decimal(f"{w.rng.uniform(300, 1800):.2f}"))
    quote_id = f"Q-{w.rng.randrange(10**7, 10**8)}"
    request = {"type": "quote_request", "product": product, "quote_id": quote_id,
               "amount": str(premium)}  # fmt: skip
    return [*events, w.app(quoted, request, session)]


def unfinished_application(w: EventWriter, t: Timeline) -> list[Stamped]:
    """An application started 3 to 6 days ago and never completed."""
    product = w.rng.choice(LOANS)
    started, session = t.now - timedelta(days=w.rng.uniform(3, 6)), w.new_id()
    form = {"form_id": f"{product.replace(' ', '-')}-application", "product": product}
    application = {"application_id": f"APP-{w.rng.randrange(10**6, 10**7)}", "product": product}
    return [
        w.page_view(started - timedelta(minutes=2), "/apply", session),
        w.app(started - timedelta(minutes=1), {"type": "form_start", **form}, session),
        w.app(started, {"type": "application_start", **application}, session),
    ]


#: Logins a day on the story's ordinary days, and in the week the timer judges.
USUAL_LOGINS, SURGE_LOGINS = 1, 3
LOGIN_METHODS = ("password", "biometric", "sso")


def login_surge(w: EventWriter, t: Timeline) -> list[Stamped]:
    """A login a day, then three a day in the week the timer judges: logins rise 200 %.

    The judged week is the last complete UTC week when the history ends (or the one before
    during the first hours of a Monday: ``streams.core.behavior.change``), so the rise
    lands in it whatever the weekday. Logins feed no trigger, only behaviour change.
    """
    first = first_day_of_week(judged_week(t.now))
    events = []
    day = t.start + DAY
    while day + DAY <= t.now:
        surge = first <= day_number(day) < first + 7
        for _ in range(SURGE_LOGINS if surge else USUAL_LOGINS):
            at = day + timedelta(hours=w.rng.uniform(6, 22))
            events.append(w.app(at, {"type": "login", "method": w.rng.choice(LOGIN_METHODS)}))
        day += DAY
    return events
