"""Stories: the behaviours the trigger catalogue looks for, lived out by synthetic users.

A story is what one user does besides their ordinary days (``streams.simulation.population``): a big
purchase, a credit card filling up, a savings goal left alone, a form given up on, a
birthday coming... Each names the triggers it must fire, and the generator's expectations
(``population.expected_firings``) are exactly those, so every story is built to fire them
whatever the hour, the month or the seed, and nothing else:

- the decisive event of an event-driven story falls within ``FRESH_HOURS`` of the end of
  the history, so the worker evaluates it (events older than two days only build state);
  ``streams.simulation.story_events`` builds each story's events;
- what a time-based story relies on is already true two days before the end and stays
  true for a day after it (the timer may judge it at any moment in that span: see
  ``streams.runtime.agents.timer``);
- a story fires at most two triggers on a day, so the frequency caps (two per channel a
  day) never choose between them, except in ``crossroads``, where three career triggers
  match one signal and the lowest in priority loses its slots (``lower_priority``).

Pure and deterministic: every detail is drawn from the user's own generator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streams.simulation import story_events as ev
from streams.simulation.synthetic import EventWriter, Stamped, Tier, Timeline

Sessions = Callable[[int, float], int]
"""(days before the last day of history, the user's own draw in [0, 1)) -> app sessions."""


def _daily(days_ago: int, draw: float) -> int:
    return 1


@dataclass(frozen=True, slots=True)
class Story:
    """One behaviour and the triggers it fires.

    Attributes:
        name: How personas name it.
        fires: Triggers that must fire for the user, each once.
        events: The story's own events (any order), on top of the ordinary days.
        sessions: App sessions on each day (ordinary users have one a day).
        features: Whether the user ever uses a product feature in the app.
        tier: Product tier the user must have, if the story needs one.
        spend_rise: (days before the last day, lowest and highest factor): from that UTC
            day on, daily spending is multiplied by a factor drawn in the range.
        suppressed: Triggers that match but must lose to caps and priorities.
        pattern: The pattern label the story must leave the user with once the timer
            has judged them (``schemas.patterns``), for the lead stories and the lapsed;
            ``None``: whatever the shipped rules make of ordinary days (not
            ``high_intent`` nor ``at_risk``: see ``population.expected_patterns``).
    """

    name: str
    fires: frozenset[str]
    events: Callable[[EventWriter, Timeline], list[Stamped]]
    sessions: Sessions = _daily
    features: bool = True
    tier: Tier | None = None
    spend_rise: tuple[int, float, float] | None = None
    suppressed: frozenset[str] = frozenset()
    pattern: str | None = None


def _none(w: EventWriter, t: Timeline) -> list[Stamped]:
    return []


def _lapsed(days_ago: int, draw: float) -> int:
    # The last session 17 to 24 days before the last day: at least 16 days without one.
    return 1 if days_ago >= 17 + int(draw * 8) else 0


def _fading(days_ago: int, draw: float) -> int:
    # Every day until ten days ago, then once, four days ago: this week one session
    # against the usual six or seven.
    return 1 if days_ago >= 10 or days_ago == 4 else 0


def _engaged(days_ago: int, draw: float) -> int:
    # Twice a day over the last eight days: 14 sessions in the week.
    return 2 if days_ago <= 7 else 1


def _story(name: str, fires: str, events: Callable[..., list[Stamped]], **kw: Any) -> Story:
    return Story(name, frozenset(fires.split()), events, **kw)


#: Every story, in the order they are handed out: a small population still gets a mix of
#: event-driven and time-based ones.
STORIES: dict[str, Story] = {
    s.name: s
    for s in (
        _story("big_purchase", "large_transaction spending_spike", ev.big_purchase),
        _story("birthday_soon", "birthday_approaching", ev.birthday_soon),
        _story("card_maxing", "near_credit_limit", ev.card_maxing),
        _story("card_abroad", "unusual_transaction", ev.card_abroad),
        _story("lapsed", "app_usage_decline", _none, sessions=_lapsed, pattern="at_risk"),
        _story("saver_milestone", "savings_milestone", ev.saver_milestone),
        _story("unfinished_application", "application_incomplete", ev.unfinished_application,
               pattern="high_intent"),
        _story("newlywed", "relationship_change", ev.newlywed),
        _story("lease_ending", "lease_renewal_window", ev.lease_ending),
        _story("crossroads", "salary_below_market job_opportunities", ev.crossroads,
               suppressed=frozenset({"skill_gap"})),
        _story("browser_no_features", "feature_unused", _none, features=False),
        _story("hot_lead", "high_intent_follow_up", ev.hot_lead, pattern="high_intent"),
        _story("graduate", "student_loan_grace_ending", ev.graduate),
        _story("quote_dropout", "quote_form_abandoned", ev.quote_dropout, pattern="at_risk"),
        _story("fading", "app_usage_decline", _none, sessions=_fading),
        _story("couch_spender", "low_exercise_high_spending spending_spike", ev.couch_spender,
               spend_rise=(8, 1.8, 2.4)),
        _story("saver_stalled", "savings_goal_stall", ev.saver_stalled),
        _story("engaged_free", "premium_upgrade", _none, sessions=_engaged, tier="free"),
        _story("job_seeker", "job_opportunities", ev.job_seeker),
        _story("stressed_applicant", "stress_with_big_decision", ev.stressed_applicant,
               pattern="high_intent"),
        _story("skills_gap", "skill_gap", ev.skills_gap),
        _story("underpaid", "salary_below_market", ev.underpaid),
        _story("pay_cut", "pay_cut", ev.pay_cut),
        # Fires no trigger: its logins rise 200 % in the week the timer judges, a
        # behaviour change (``streams.simulation.behavior_expectations``).
        _story("login_surge", "", ev.login_surge),
    )
}  # fmt: skip
