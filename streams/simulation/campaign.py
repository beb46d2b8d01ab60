"""A campaign of quote seekers for the demo's experiment, and how they respond to it.

``campaign_events`` builds users who each view the pricing page and ask for two quotes
in a day (``high_intent_follow_up`` fires on the second), some of whom then start an
application and fewer complete it (the ``quote_to_application`` funnel). The demo runs
``CAMPAIGN_EXPERIMENT`` on that trigger: the shipped follow-up copy (control) against a
more direct one (``direct``: "your quote is saved, pick up where you left off").

The population really prefers the direct copy: ``conversion_events`` reads each user's
arm, as the worker assigned and published it, and draws whether they buy within a day
with the arm's probability (``PREFERENCE``). So the report must find the direct arm
better, and by about the difference put in. Seeded: the same users and arms give the same
purchases.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from schemas.experiments import ExperimentDefinition, validate_experiment
from streams.simulation.synthetic import CATEGORY_CONSENT, event_dict

EventDict = dict[str, Any]

#: The demo's experiment: the trigger's copy against a more direct one.
CAMPAIGN_EXPERIMENT: dict[str, Any] = {
    "id": "high_intent_copy",
    "name": "High-intent follow-up: shipped copy or 'your quote is saved'",
    "hypothesis": "Telling quote seekers their quote is saved brings more of them to buy",
    "trigger": "high_intent_follow_up",
    "varies": "template",
    "variants": [
        {"id": "control", "control": True},
        {
            "id": "direct",
            "templates": {
                "sms": "quote_form_abandoned.sms",
                "email": "quote_form_abandoned.email",
                "push": "quote_form_abandoned.push",
            },
        },
    ],
    "metrics": [
        {"name": "purchase", "events": ["purchase"], "window": "3d", "value": True},
        {"name": "application", "events": ["application_complete"], "window": "3d"},
    ],
    "baseline_rate": 0.08,
    "minimum_detectable_effect": 0.05,
}
#: Chance that a user of each arm buys within a day of the message: what the population
#: really prefers.
PREFERENCE = {"control": 0.08, "direct": 0.16}
#: Of the campaign's users: share who start an application after their quotes, and of
#: those, share who complete it.
STARTS_APPLICATION, COMPLETES_APPLICATION = 0.45, 0.6
#: Campaign users' ids start with this.
PREFIX = "campaign-"


def experiment() -> ExperimentDefinition:
    """Return the demo's experiment, validated."""
    found = validate_experiment(CAMPAIGN_EXPERIMENT)
    if isinstance(found, list):
        msg = f"the demo's experiment is invalid: {found}"
        raise ValueError(msg)
    return found


def campaign_events(users: int, *, now: datetime, seed: int) -> list[EventDict]:
    """Return the campaign's events, oldest first, all within the last 30 hours.

    Args:
        users: How many quote seekers.
        now: The present (timezone-aware): the quotes are fresh, the triggers judge them.
        seed: Same seed, same users and events.
    """
    rng = random.Random(f"campaign:{seed}")  # noqa: S311 - a simulation
    events: list[EventDict] = []
    for n in range(users):
        user = f"{PREFIX}{n:05d}"
        start = now - timedelta(hours=30) + timedelta(minutes=rng.uniform(0, 120))
        product = rng.choice(("car", "home", "travel"))
        events.append(
            event_dict(
                rng,
                user,
                start,
                {
                    "type": "profile_update",
                    "first_name": "Sam",
                    "category_consent": CATEGORY_CONSENT,
                },
            )
        )
        pricing = {"type": "page_view", "path": "/pricing", "category": "pricing"}
        events.append(event_dict(rng, user, start + timedelta(minutes=1), pricing))
        for minutes in (5, 95):
            quote = {"type": "quote_request", "product": product}
            events.append(event_dict(rng, user, start + timedelta(minutes=minutes), quote))
        if rng.random() < STARTS_APPLICATION:
            application = {"application_id": f"app-{user}", "product": product}
            started = start + timedelta(hours=rng.uniform(3, 8))
            events.append(
                event_dict(rng, user, started, {"type": "application_start", **application})
            )
            if rng.random() < COMPLETES_APPLICATION:
                done = started + timedelta(hours=rng.uniform(1, 10))
                payload = {"type": "application_complete", **application}
                events.append(event_dict(rng, user, done, payload))
    events.sort(key=lambda e: e["occurred_at"])
    return events


def conversion_events(
    assignments: Iterable[dict[str, Any]], *, now: datetime, seed: int
) -> list[EventDict]:
    """Return the purchases the campaign's users make, given their arms.

    Args:
        assignments: ``experiments.assignments`` messages (any experiment; only the
            campaign's are used).
        now: The present: a purchase happens between the user's exposure and it.
        seed: Same seed and assignments, same purchases.
    """
    events = []
    for assigned in assignments:
        if assigned["experiment_id"] != CAMPAIGN_EXPERIMENT["id"]:
            continue
        user = assigned["user_id"]
        rng = random.Random(f"campaign-purchase:{seed}:{user}")  # noqa: S311 - a simulation
        if rng.random() >= PREFERENCE[assigned["variant"]]:
            continue
        exposed = datetime.fromisoformat(assigned["exposed_at"])
        room = max((now - exposed).total_seconds() - 60, 60)
        at = exposed + timedelta(seconds=rng.uniform(30, min(room, 86_400)))
        payload = {
            "type": "purchase",
            "product_id": "policy",
            "amount": f"{rng.uniform(50, 500):.2f}",
        }
        events.append(event_dict(rng, user, at, payload))
    return events
