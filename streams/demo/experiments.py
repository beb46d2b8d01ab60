"""The demo's experiment: a campaign, the arms the worker chose, the purchases, the reports.

``apply_experiment`` publishes ``streams.simulation.campaign.CAMPAIGN_EXPERIMENT`` before
the worker starts. ``run_campaign``, once the main tables are printed, publishes the
campaign's quote seekers, reads the arms the worker assigned them on
``experiments.assignments``, publishes the purchases the population makes given those
arms (it really prefers the direct copy), waits for the worker and the sink, and prints
``nudge report experiments``, ``nudge report funnel quote_to_application`` and ``nudge
report cohorts``. The demo fails if the report does not find the arm the population
prefers significantly better.

Like ``streams.demo.run`` it is part of a composition root, so it may reach into ``sinks``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, EXPERIMENTS_ASSIGNMENTS
from streams.simulation.campaign import CAMPAIGN_EXPERIMENT, PREFERENCE, experiment

#: Quote seekers in the campaign: about 700 per arm, more than the 589 the experiment
#: needs to detect five points over its 8 % baseline.
CAMPAIGN_USERS = 1400
#: The funnel the demo prints.
FUNNEL = "quote_to_application"
#: Weeks of retention the cohort table shows.
COHORT_WEEKS = 6


async def apply_experiment(settings: Settings) -> None:
    """Publish the demo's experiment on the definitions topic (``nudge experiments apply``)."""
    from streams.runtime.definitions_feed import publish_entries

    key = f"experiment:{CAMPAIGN_EXPERIMENT['id']}".encode()
    await publish_entries(settings, [(key, json.dumps(CAMPAIGN_EXPERIMENT).encode())])


async def run_campaign(
    settings: Settings,
    catch_up: Callable[[], Awaitable[None]],
    *,
    now: datetime,
    seed: int,
    users: int = CAMPAIGN_USERS,
) -> bool:
    """Run the campaign of ``users`` and print the reports; whether the preferred arm won."""
    from streams.simulation.campaign import campaign_events, conversion_events
    from streams.simulation.simulated_notifications import read_commands
    from streams.simulation.simulated_publisher import publish_events

    sent = await publish_events(
        settings, BEHAVIOR_EVENTS, campaign_events(users, now=now, seed=seed)
    )
    _say(
        f"\nExperiment {CAMPAIGN_EXPERIMENT['id']} on {CAMPAIGN_EXPERIMENT['trigger']}: "
        f"{users} quote seekers ({sent} events); the population buys within a day "
        f"with {PREFERENCE['control']:.0%} on the shipped copy and "
        f"{PREFERENCE['direct']:.0%} on the direct one"
    )
    await catch_up()
    assignments = await read_commands(settings, (EXPERIMENTS_ASSIGNMENTS,))
    purchases = conversion_events(assignments, now=now, seed=seed)
    await publish_events(settings, BEHAVIOR_EVENTS, purchases)
    _say(f"  the worker assigned {len(assignments)} users; {len(purchases)} of them bought")
    await catch_up()
    return _print_reports(settings)


def _print_reports(settings: Settings) -> bool:
    from sinks.reports.build import render_text
    from sinks.reports.cohorts import build_cohorts
    from sinks.reports.experiments import build_experiments
    from sinks.reports.funnels import build_funnel

    report = build_experiments(settings, definitions=[experiment()])
    arms = next(s for s in report.sections if s.key == "arms")
    primary = [r for r in arms.rows if r["metric"] == "purchase"]
    shown = replace(report, sections=(*report.sections[:1], replace(arms, rows=primary)))
    _say("\nnudge report experiments (primary metric):\n")
    _say(render_text(shown))
    winner = next((r for r in primary if r["variant"] == "direct"), None)
    won = bool(winner and winner["significant"] and (winner["absolute_lift"] or 0) > 0)
    _say(
        "\nThe direct copy wins, as the population prefers."
        if won
        else "\nMISMATCH: the report does not find the direct copy better."
    )
    _say(f"\nnudge report funnel {FUNNEL}:\n")
    _say(render_text(build_funnel(settings, FUNNEL)))
    _say("\nnudge report cohorts:\n")
    _say(render_text(build_cohorts(settings, COHORT_WEEKS)))
    return won


def _say(line: str) -> None:
    print(line, flush=True)
