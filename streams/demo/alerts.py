"""The demo's alert recommender: card holders, training, the evaluation, three users served.

``run_alerts`` publishes ``streams.simulation.alert_population``'s card holders (a month of
debits, a balance, the alerts most of them switched on), waits until the sink holds every
user's alert profile, then runs ``nudge models train --force --promote`` and ``nudge models
evaluate`` as an operator would (their output is the demo's), waits until the worker has
loaded the promoted version and its timer has served every card holder, and prints three
users' recommendations beside the persona and the alerts they have on. The demo fails if
no recommendation arrives; if the nearest neighbours do not beat the popularity baseline on
this population, it says so (the evaluation table shows by how much) but does not fail.

Like ``streams.demo.run`` it is part of a composition root, so it may reach into ``sinks``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS
from streams.demo.analytics import query

#: Card holders in the demo: 100 of each persona.
ALERT_USERS = 500
#: Users whose recommendations are printed: one of three personas.
SHOWN = 3
#: How long the worker has to load the model and serve everyone (seconds).
SERVE_TIMEOUT_SECONDS = 120.0


async def run_alerts(
    settings: Settings,
    catch_up: Callable[[], Awaitable[None]],
    *,
    now: datetime,
    seed: int,
    users: int = ALERT_USERS,
) -> bool:
    """Run the recommender's phase for ``users`` card holders; whether anyone was served."""
    from streams.simulation.alert_population import cardholder_events, population
    from streams.simulation.simulated_publisher import publish_events

    events = cardholder_events(users, now=now, seed=seed)
    sent = await publish_events(settings, BEHAVIOR_EVENTS, events)
    _say(
        f"\nAlert recommender: {users} card holders, five ways of spending ({sent} events: "
        "a month of debits, a balance, the alerts three in four of them switched on)"
    )
    await catch_up()
    profiles = _count(settings, "SELECT count(*) FROM alert_profiles WHERE features IS NOT NULL")
    _say(f"  the sink holds {profiles} users' alert profiles; training on them\n")
    if not _nudge(settings, "models", "train", "--force", "--promote"):
        return False
    if not _nudge(settings, "models", "evaluate"):
        return False
    served, expected = await _served(settings)
    _say(
        f"\n  the worker loaded the promoted model and served {served} of the {expected} users "
        "it has a recommendation for (the others: no alert they lack reaches 40 % of their "
        "neighbours)"
    )
    people = {p.user_id: p for p in population(users, seed=seed)}
    _print_users(settings, people)
    return served == expected > 0


def _nudge(settings: Settings, *args: str) -> bool:
    """Run ``nudge ARGS`` with the demo's settings, its output the demo's; whether it worked."""
    from streams.runtime.processes import settings_env

    env = settings_env(settings)  # PYTHONPATH as the demo's own: the same checkout
    _say(f"$ nudge {' '.join(args)}")
    run = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "streams.cli", *args],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    _say(run.stdout.rstrip())
    if run.returncode != 0:
        _say(f"FAILED ({run.returncode}): {run.stderr.strip()[-2000:]}")
    return run.returncode == 0


def expected_recommendations(
    settings: Settings, version: int | None = None
) -> dict[str, list[Any]]:
    """Return each stored profile's recommendations by a version (``None``: the active one).

    Computed here, not read: the registered file loaded as a worker loads it (hash
    checked), applied to the features and alerts the sink stored. Users it recommends
    nothing are left out.
    """
    from models.artifacts import Artefact, load
    from models.features import AlertFeatures

    which = "status = 'active'" if version is None else f"version = {int(version)}"
    (row,) = query(settings, f"SELECT artefact, sha256 FROM model_versions WHERE {which}")  # noqa: S608 - an int or a constant
    path = Path(row["artefact"])
    model = load(Artefact(path, path.with_suffix(".json"), row["sha256"]))
    profiles = query(
        settings, "SELECT user_id, features, enabled FROM alert_profiles WHERE features IS NOT NULL"
    )
    found = {
        p["user_id"]: model.recommend(AlertFeatures(**p["features"]), p["enabled"])
        for p in profiles
    }
    return {user: recommended for user, recommended in found.items() if recommended}


async def _served(settings: Settings) -> tuple[int, int]:
    """Wait until the worker served everyone ``expected_recommendations`` names.

    The expectation is computed again each time: the promotion's pass writes some users'
    profiles anew as it serves them, and the sink stores them meanwhile, so one computed
    before the pass ends may name a user by a profile the worker no longer has.

    Returns (served, expected).
    """
    deadline = time.monotonic() + SERVE_TIMEOUT_SECONDS
    while True:
        expected = set(expected_recommendations(settings))
        rows = query(settings, "SELECT DISTINCT user_id FROM alert_recommendations")
        served = {r["user_id"] for r in rows}
        if served >= expected or time.monotonic() >= deadline:
            return len(served & expected), len(expected)
        await asyncio.sleep(1.0)


def _print_users(settings: Settings, people: dict[str, Any]) -> None:
    rows = query(
        settings,
        "SELECT r.user_id, r.alert_type, r.confidence, r.explanation, r.model_version,"
        " p.enabled FROM alert_recommendations r JOIN alert_profiles p USING (user_id)"
        " ORDER BY r.user_id, r.confidence DESC, r.alert_type",
    )
    by_user: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_user.setdefault(row["user_id"], []).append(row)
    shown: list[str] = []
    personas: set[str] = set()
    for user in by_user:
        person = people.get(user)
        if person is None or person.persona in personas:
            continue
        personas.add(person.persona)
        shown.append(user)
        if len(shown) == SHOWN:
            break
    for user in shown:
        person, recommended = people[user], by_user[user]
        enabled = ", ".join(recommended[0]["enabled"]) or "none"
        _say(f"\n  {user} ({person.persona}; alerts on: {enabled})")
        for row in recommended:
            _say(
                f"    recommend {row['alert_type']:24} {row['confidence']:.0%}  "
                f'"{row["explanation"]}" (model v{row["model_version"]})'
            )


def _count(settings: Settings, sql: str) -> int:
    return int(query(settings, sql)[0]["count"])


def _say(line: str) -> None:
    print(line, flush=True)
