"""Experiments, funnels and cohorts end to end: worker, sink and ``nudge report`` as real
processes on the real broker and PostgreSQL.

A trigger (``quote_nudge``: any quote request) and a message experiment on it
(``quote_message``: a control arm that gets no message, and ``nudged``) are applied under
a running worker, with a global control group of 30 %. Forty users ask for a quote; a
third of them buy two hours later. Each user's arms follow from hashes the test computes
itself, so it knows who must be held back, who must be messaged and where each purchase
must be credited: the topics, the rows and the report's numbers are compared with that
hand computation. The same users go through the shipped ``quote_to_application`` funnel,
and the cohort table counts them.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from scipy.stats import norm

from schemas.experiments import ExperimentDefinition, validate_experiment
from schemas.settings import Settings
from schemas.topics import (
    BEHAVIOR_EVENTS,
    COMMS_COMMANDS,
    EXPERIMENTS_ASSIGNMENTS,
    EXPERIMENTS_CONVERSIONS,
    FUNNELS_STEPS,
    TRIGGER_DECISIONS,
)
from schemas.triggers import TriggerDefinition
from streams.cli.analytics import publish_entries
from streams.cli.definitions import publish as publish_definitions
from streams.core.experiments.arms import bucket, by_weight
from streams.runtime.policies import global_control_group
from tests.integration.harness import NudgeProcess, caught_up, publish, read_until, rows_when
from tests.integration.runtime.test_hot_reload import logged
from tests.integration.scenarios import as_messages
from tests.unit.factories import event

pytestmark = pytest.mark.e2e

USERS = [f"user-{n:02d}" for n in range(40)]
BUYERS = USERS[::3]
APPLICANTS = USERS[::2]
FINISHERS = USERS[::4]
TRIGGER = TriggerDefinition.model_validate({
    "id": "quote_nudge", "name": "Quote nudge", "type": "behavioral",
    "category": "lead_journey", "evaluate_on": {"events": ["quote_request"]},
    "condition": {"feature": "quote_requests_week", "gte": 1},
    "channels": [{"channel": "email", "template": "high_intent_follow_up.email"}],
})  # fmt: skip
EXPERIMENT = {
    "id": "quote_message", "name": "Does the quote nudge sell?", "trigger": "quote_nudge",
    "varies": "message",
    "variants": [{"id": "control", "control": True, "message": False}, {"id": "nudged"}],
    "metrics": [{"name": "purchase", "events": ["purchase"], "window": "1d", "value": True}],
    "baseline_rate": 0.2, "minimum_detectable_effect": 0.2,
}  # fmt: skip


def arm(definition: ExperimentDefinition, user: str) -> str:
    return by_weight(definition.variants, bucket(definition.id, user)).id


def nudge(settings: Settings, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env=NudgeProcess(settings, "cli", tmp_path / "cli.log").environment(),
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def events(now: datetime) -> list[Any]:
    quote = {"type": "quote_request", "product": "car"}
    found = []
    for n, user in enumerate(USERS):
        asked = now - timedelta(hours=6, minutes=n)
        found.append(event(user, asked, quote, event_id=f"{user}-quote"))
        if user in BUYERS:
            paid = {"type": "purchase", "product_id": "car", "amount": "100.00"}
            found.append(event(user, asked + timedelta(hours=2), paid, event_id=f"{user}-buy"))
        application = {"application_id": f"app-{user}", "product": "car"}
        if user in APPLICANTS:
            started = {"type": "application_start", **application}
            found.append(event(user, asked + timedelta(hours=3), started))
        if user in FINISHERS:
            done = {"type": "application_complete", **application}
            found.append(event(user, asked + timedelta(hours=4), done))
    return sorted(found, key=lambda e: e.occurred_at)


async def test_arms_exposures_conversions_and_the_report(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(global_control_percent=30.0)
    group = global_control_group(settings)
    assert group is not None
    definition = validate_experiment(EXPERIMENT)
    assert isinstance(definition, ExperimentDefinition)
    assert nudge(settings, tmp_path, "db", "upgrade").returncode == 0
    now = datetime.now(UTC).replace(microsecond=0)
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    sink = NudgeProcess(settings, "sink", tmp_path / "sink.log").start()
    try:
        seen = await logged(worker, "trigger definitions loaded", None, 0)
        await publish_entries(settings, [(b"experiment:quote_message", json.dumps(EXPERIMENT).encode())])
        await publish_definitions(settings, [TRIGGER])
        await logged(worker, "trigger definition changed", "quote_nudge", seen)
        await publish(settings, BEHAVIOR_EVENTS, as_messages(events(now)))
        await caught_up(settings, BEHAVIOR_EVENTS)
        assigned = await read_until(
            settings, EXPERIMENTS_ASSIGNMENTS, lambda rs: len(rs) >= len(USERS), settle=2.0
        )
        converted = await read_until(settings, EXPERIMENTS_CONVERSIONS, lambda rs: True, settle=1.0)
        commands = await read_until(settings, COMMS_COMMANDS, lambda rs: True, settle=1.0)
        decisions = await read_until(settings, TRIGGER_DECISIONS, lambda rs: True, settle=1.0)
        steps = await read_until(settings, FUNNELS_STEPS, lambda rs: True, settle=1.0)
        url = settings.database_url.get_secret_value()
        rows = await rows_when(
            url, "SELECT experiment_id, variant, user_id FROM experiment_assignments",
            lambda found: len(found) == len(assigned),
        )  # fmt: skip
        credited = await rows_when(
            url, "SELECT experiment_id, variant, user_id, value FROM experiment_conversions",
            lambda found: len(found) == len(converted),
        )  # fmt: skip
        await rows_when(
            url, "SELECT step_id FROM funnel_steps", lambda found: len(found) == len(steps)
        )  # fmt: skip
        report = nudge(settings, tmp_path, "report", "experiments", "--json")
        funnel = nudge(settings, tmp_path, "report", "funnel", "quote_to_application", "--json")
        cohorts = nudge(settings, tmp_path, "report", "cohorts", "--json")
    finally:
        sink.stop()
        worker.stop()

    # Hand computation: who is in which arm, who was messaged, where purchases go.
    held_back = {u for u in USERS if arm(group, u) == "control"}
    in_experiment = {u: arm(definition, u) for u in USERS if u not in held_back}
    messaged = {u for u, a in in_experiment.items() if a == "nudged"}
    assert 0 < len(held_back) < len(USERS) and 0 < len(messaged) < len(in_experiment)
    expected_assignments = sorted(
        [("global_control", arm(group, u), u) for u in USERS]
        + [("quote_message", a, u) for u, a in in_experiment.items()]
    )
    found = [json.loads(r.value) for r in assigned]
    assert sorted((a["experiment_id"], a["variant"], a["user_id"]) for a in found) == (
        expected_assignments
    )
    assert sorted(tuple(r) for r in rows) == expected_assignments
    assert sorted(json.loads(r.value)["user_id"] for r in commands) == sorted(messaged)
    by_user = {}
    for d in (json.loads(r.value) for r in decisions):
        if d["trigger_id"] == "quote_nudge":
            by_user[d["user_id"]] = (d["outcome"], d["reason"], d["experiment"], d["variant"])
    for user in USERS:
        if user in held_back:
            assert by_user[user] == ("suppressed", "global_control", "global_control", "control")
        elif user in messaged:
            assert by_user[user] == ("fired", None, "quote_message", "nudged")
        else:
            assert by_user[user] == ("suppressed", "holdout", "quote_message", "control")
    expected_conversions = sorted(
        [("global_control", arm(group, u), u) for u in BUYERS]
        + [("quote_message", in_experiment[u], u) for u in BUYERS if u in in_experiment]
    )
    assert sorted(
        (c["experiment_id"], c["variant"], c["user_id"])
        for c in (json.loads(r.value) for r in converted)
    ) == expected_conversions
    assert sorted((e, v, u) for e, v, u, _ in credited) == expected_conversions
    assert {float(value) for *_, value in credited} == {100.0}

    # The report's numbers: the same counts, the lift and p-value of a z-test by hand.
    assert report.returncode == 0, report.stdout + report.stderr
    check_experiment_report(json.loads(report.stdout), in_experiment)
    assert funnel.returncode == 0, funnel.stdout + funnel.stderr
    check_funnel_report(json.loads(funnel.stdout))
    assert cohorts.returncode == 0, cohorts.stdout + cohorts.stderr
    check_cohorts(json.loads(cohorts.stdout), now)


def check_experiment_report(report: Any, in_experiment: dict[str, str]) -> None:
    raise NotImplementedError  # filled in once the report's shape is known


def check_funnel_report(report: Any) -> None:
    raise NotImplementedError


def check_cohorts(report: Any, now: datetime) -> None:
    raise NotImplementedError


_ = (math, norm)
