"""The demo's campaign through the pure core: every user exposed once, the arms split
by hash, and the purchases the population makes show the preference put in."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from schemas.events import Event
from schemas.experiments import ExperimentConversion
from schemas.funnels import FunnelStep
from streams.core.decisions.process import process
from streams.core.decisions.send_policy import SendPolicy
from streams.core.rendering import default_catalogue
from streams.core.state.analytics import Analytics
from streams.core.state.record import UserState
from streams.core.state.studies import Experiments
from streams.core.triggers.catalogue import default_definitions
from streams.simulation.campaign import (
    PREFERENCE,
    campaign_events,
    conversion_events,
    experiment,
)

NOW = datetime(2026, 3, 4, 15, tzinfo=UTC)
USERS = 1300


def test_the_campaign_prefers_the_direct_copy_by_what_was_put_in() -> None:
    models = Analytics(experiments=Experiments.of((experiment(),)))
    definitions = default_definitions()
    policy = SendPolicy(quiet_start=0, quiet_end=0)
    states: dict[str, UserState] = {}
    assignments: list[dict[str, Any]] = []
    conversions: list[ExperimentConversion] = []
    steps: list[FunnelStep] = []

    def run(raw: list[dict[str, Any]]) -> None:
        for item in raw:
            decoded = Event.model_validate(item)
            state = states.setdefault(decoded.user_id, UserState())
            wanted = [d for d in definitions if decoded.type in d.evaluate_on.events]
            result = process(
                state, decoded, wanted, default_catalogue(), now=NOW,
                max_event_age_seconds=2 * 86_400, policy=policy, analytics=models,
            )  # fmt: skip
            assignments.extend(a.model_dump(mode="json") for a in result.assignments)
            conversions.extend(result.conversions)
            steps.extend(result.funnel_steps)

    run(campaign_events(USERS, now=NOW, seed=7))
    arms = Counter(a["variant"] for a in assignments)
    assert sum(arms.values()) == USERS  # every quote seeker exposed, and assigned once
    assert abs(arms["direct"] - arms["control"]) < 0.1 * USERS
    run(conversion_events(assignments, now=NOW, seed=7))
    bought = Counter(c.variant for c in conversions if c.metric == "purchase")
    rates = {arm: bought[arm] / arms[arm] for arm in arms}
    put_in = PREFERENCE["direct"] - PREFERENCE["control"]
    assert abs((rates["direct"] - rates["control"]) - put_in) < 0.04, rates
    completed = [
        s for s in steps if s.funnel_id == "quote_to_application" and s.kind == "completed"
    ]
    applied = Counter(c.variant for c in conversions if c.metric == "application")
    assert len(completed) == sum(applied.values()) > 0.2 * USERS
