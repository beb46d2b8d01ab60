"""Risk stories: scripted risk scores and payments, and the intervention each must start.

A risk story is what a model says about one user over two weeks (five ``risk_score``
events three days apart on ``risk.scores``) and the payments the user makes meanwhile
(``payment`` events on ``behavior.events``). Each names the intervention it must start
(``streams.core.risk``), or the suppression it must meet, or nothing, whatever the seed:

- only the newest score is fresh (2 to 30 hours before the end of the history, like a
  story's decisive event): the worker acts on scores up to two days old, so the four
  before it (3 to 12 days older) build the trend and decide nothing. An escalating
  story's fourth score is fresh too (14 to 20 hours before the newest): it starts the
  first intervention, and the newest escalates inside the cool-off;
- the scripts are read by the specification's rule (``NUDGE_RISK_TREND_RULE``'s
  default), and say the same under ``early_warning`` except where it has its
  financial-wellness tier, which no story relies on;
- every score is the script's value give or take ``SCORE_JITTER``, and the scripts keep
  at least 0.05 from each tier threshold and trend boundary, so the jitter never moves a
  user across one;
- the payments are on ``behavior.events`` and the scores on ``risk.scores``: topics are
  not ordered with each other, so the demo publishes the scores once the worker has read
  the behaviour (a score read before its user's missed payment would not be held back).

Pure and deterministic: every detail is drawn from the user's own generator, separate
from the one of their ordinary days, so giving a user a risk story changes nothing else.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Literal

from schemas.commands import InterventionType
from schemas.records import SuppressionReason
from streams.simulation.story_events import fresh
from streams.simulation.synthetic import EventWriter, Persona, Stamped, Timeline, cents

#: Each score is the script's value plus U(-j, j); the scripts keep 0.05 from every edge.
SCORE_JITTER = 0.01
#: Days between two scores of a user; five scores span 12 days.
SCORE_SPACING_DAYS = 3
#: Hours between the two fresh scores of an escalating story: both within the two days
#: the worker acts on (the newest is at most 30 hours old), inside the 7-day cool-off.
ESCALATION_GAP_HOURS = (14.0, 20.0)
DRIVERS = (
    "credit_utilisation", "late_fees", "income_volatility", "overdraft_days",
    "missed_payment_history", "cash_advances",
)  # fmt: skip
MODEL_VERSION = "risk-demo-1"

PaymentPlan = Literal["due", "missed"] | None


@dataclass(frozen=True, slots=True)
class RiskStory:
    """One user's scripted risk scores, payments and what they must lead to.

    Attributes:
        name: How personas name it.
        scores: Five scores, oldest first, three days apart; the last is fresh.
        starts: The intervention the fresh score must start, if any.
        suppressed: The reason it must be held back instead, if it is.
        payments: ``due``: a payment paid last month and the next one due in 4 to 9 days
            (the message names its amount); ``missed``: a payment missed 2 to 4 days
            before the end; ``None``: no payment events.
        escalates_from: The intervention the fourth score must start, when the newest
            escalates from it inside the cool-off (decision reason ``escalated``).
    """

    name: str
    scores: tuple[float, float, float, float, float]
    starts: InterventionType | None = None
    suppressed: SuppressionReason | None = None
    payments: PaymentPlan = None
    escalates_from: InterventionType | None = None


#: Every risk story, in the order they are handed out (two users each among twelve).
RISK_STORIES: dict[str, RiskStory] = {
    s.name: s
    for s in (
        # Rising into the high tier (>= 0.60), a payment due: flexible payment, amount named.
        RiskStory("falling_behind", (0.42, 0.48, 0.55, 0.63, 0.67),
                  InterventionType.FLEXIBLE_PAYMENT, payments="due"),
        # Rising past 0.80: payment assistance, a call within a day.
        RiskStory("in_crisis", (0.55, 0.62, 0.70, 0.78, 0.87),
                  InterventionType.PAYMENT_ASSISTANCE),
        # As critical, but a payment was missed days ago: collections has the user.
        RiskStory("missed_payment", (0.60, 0.70, 0.77, 0.84, 0.90),
                  suppressed=SuppressionReason.RECENT_MISSED_PAYMENT, payments="missed"),
        # Easing below 0.60 (recent 0.55, the oldest two 0.76): decreasing, nothing. (Under
        # the specification a score still above 0.60 is stable_high however it falls.)
        RiskStory("recovering", (0.78, 0.74, 0.66, 0.58, 0.52)),
        # Rising into the medium tier (>= 0.40): a payment reminder.
        RiskStory("slipping", (0.22, 0.26, 0.31, 0.38, 0.46), InterventionType.PAYMENT_REMINDER),
        # A reminder (0.50, rising), then 0.86 the next day: escalated to assistance.
        RiskStory("escalating", (0.25, 0.27, 0.33, 0.50, 0.86),
                  InterventionType.PAYMENT_ASSISTANCE,
                  escalates_from=InterventionType.PAYMENT_REMINDER),
    )
}  # fmt: skip


def risk_events(persona: Persona, timeline: Timeline, seed: int) -> tuple[list[Stamped], ...]:
    """Return (payment events, risk score events) of a user with a risk story.

    Both come from the user's own risk generator, so either can be rebuilt without the
    other: the producer writes the payments into the user's ordinary stream and, later,
    the scores to ``risk.scores``.

    Raises:
        ValueError: The persona has no risk story.
    """
    if persona.risk_story is None:
        msg = f"{persona.user_id} has no risk story"
        raise ValueError(msg)
    story = RISK_STORIES[persona.risk_story]
    rng = random.Random(f"risk:{seed}:{persona.user_id}")  # noqa: S311 - a simulation
    writer = EventWriter(persona, rng)
    payments = _payments(writer, timeline, story.payments)
    drivers = rng.sample(DRIVERS, 3)
    latest = fresh(writer, timeline)
    scores = []
    for i, value in enumerate(story.scores):
        at = latest - timedelta(days=SCORE_SPACING_DAYS * (len(story.scores) - 1 - i))
        if story.escalates_from is not None and i == len(story.scores) - 2:
            at = latest - timedelta(hours=rng.uniform(*ESCALATION_GAP_HOURS))
        score = round(value + rng.uniform(-SCORE_JITTER, SCORE_JITTER), 3)
        payload = {"type": "risk_score", "score": score, "top_drivers": drivers,
                   "model_version": MODEL_VERSION}  # fmt: skip
        scores.append(writer.backend(at, payload))
    return payments, scores


def _payments(w: EventWriter, t: Timeline, plan: PaymentPlan) -> list[Stamped]:
    if plan is None:
        return []
    amount = str(cents(Decimal(f"{w.rng.uniform(120, 480):.2f}")))

    def payment(days_ago: float, status: str, due_in_days: float) -> Stamped:
        at = t.now - timedelta(days=days_ago)
        due = (at + timedelta(days=due_in_days)).date().isoformat()
        payload = {"type": "payment", "status": status, "amount": amount, "currency": "USD",
                   "due_date": due, "account_kind": "loan"}  # fmt: skip
        return w.backend(at, payload)

    if plan == "due":
        # Last month's payment made on time, then this month's due in 4 to 9 days.
        announced = w.rng.uniform(2.5, 5)
        return [
            payment(announced + 31, "due", 5),
            payment(announced + 26, "paid", 0),
            payment(announced, "due", announced + w.rng.uniform(4, 9)),
        ]
    # Due a fortnight ago, missed 2 to 4 days before the end: within a week of the score.
    missed = w.rng.uniform(2, 4)
    return [payment(missed + 12, "due", 12), payment(missed, "missed", 0)]


def expected_interventions(personas: Iterable[Persona]) -> dict[str, set[str]]:
    """Return intervention type or suppression reason -> the users it must happen to.

    Every intervention type and every suppression a story names is a key, with an empty
    set when nobody must get it, and ``escalated`` when a story escalates; users of other
    stories (``recovering``) get nothing.
    """
    expected: dict[str, set[str]] = {kind.value: set() for kind in InterventionType}
    for story in RISK_STORIES.values():
        if story.suppressed is not None:
            expected.setdefault(story.suppressed.value, set())
        if story.escalates_from is not None:
            expected.setdefault(SuppressionReason.ESCALATED.value, set())
    for persona in personas:
        if persona.risk_story is None:
            continue
        story = RISK_STORIES[persona.risk_story]
        if story.starts is not None:
            expected[story.starts.value].add(persona.user_id)
        if story.suppressed is not None:
            expected[story.suppressed.value].add(persona.user_id)
        if story.escalates_from is not None:
            expected[story.escalates_from.value].add(persona.user_id)
            expected[SuppressionReason.ESCALATED.value].add(persona.user_id)
    return expected
