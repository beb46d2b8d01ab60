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
from datetime import UTC, date, datetime, timedelta
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
        entry = (b"experiment:quote_message", json.dumps(EXPERIMENT).encode())
        # Hostile entries beside it: not JSON, a rival experiment on the same trigger, a
        # funnel naming a field its event lacks. Refused; the worker goes on with the rest.
        rival = json.dumps(EXPERIMENT | {"id": "quote_rival"}).encode()
        bad_funnel = {
            "id": "bad_funnel",
            "name": "x",
            "within": "1d",
            "steps": [
                {"event": "quote_request", "where": {"colour": "red"}},
                {"event": "purchase"},
            ],
        }
        hostile = [
            (b"experiment:junk", b"\xff not json"),
            (b"experiment:quote_rival", rival),
            (b"funnel:bad_funnel", json.dumps(bad_funnel).encode()),
        ]  # fmt: skip
        await publish_entries(settings, [entry, *hostile])
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
        await rows_when(  # the cohorts' rows: every user's days, and the purchases
            url, "SELECT user_id FROM user_days UNION ALL SELECT user_id FROM purchases",
            lambda found: len(found) == len(user_days(now)) + len(BUYERS),
        )  # fmt: skip
        report = nudge(settings, tmp_path, "report", "experiments", "--json")
        funnel = nudge(settings, tmp_path, "report", "funnel", "quote_to_application", "--json")
        cohorts = nudge(settings, tmp_path, "report", "cohorts", "--json")
    finally:
        sink.stop()
        worker.stop()

    logs = worker.log_entries()
    refused = {e["key"] for e in logs if e.get("message") == "analytics data refused"}
    assert refused >= {"experiment:junk", "experiment:quote_rival", "funnel:bad_funnel"}
    held_back = {u for u in USERS if arm(group, u) == "control"}
    in_experiment = {u: arm(definition, u) for u in USERS if u not in held_back}
    check_streams(
        group, in_experiment, [json.loads(r.value) for r in assigned], rows,
        [json.loads(r.value) for r in commands], [json.loads(r.value) for r in decisions],
        [json.loads(r.value) for r in converted], credited,
    )  # fmt: skip
    # The report's numbers: the same counts, the lift and p-value of a z-test by hand.
    assert report.returncode == 0, report.stdout + report.stderr
    check_experiment_report(json.loads(report.stdout), group, in_experiment)
    assert funnel.returncode == 0, funnel.stdout + funnel.stderr
    check_funnel_report(json.loads(funnel.stdout))
    assert cohorts.returncode == 0, cohorts.stdout + cohorts.stderr
    check_cohorts(json.loads(cohorts.stdout), now)


#: Who converts in the global control group: its metric counts purchases and completed
#: applications (``NUDGE_GLOBAL_CONTROL_CONVERSIONS``); quote_message's only purchases.
GLOBAL_CONVERTERS = sorted(set(BUYERS) | set(FINISHERS))


def check_streams(  # noqa: PLR0913 - what the topics and the tables hold
    group: ExperimentDefinition,
    in_experiment: dict[str, str],
    assigned: list[dict[str, Any]],
    rows: list[tuple[Any, ...]],
    commands: list[dict[str, Any]],
    decisions: list[dict[str, Any]],
    converted: list[dict[str, Any]],
    credited: list[tuple[Any, ...]],
) -> None:
    """Who is in which arm, who was messaged, where conversions go: by hand."""
    held_back = {u for u in USERS if arm(group, u) == "control"}
    messaged = {u for u, a in in_experiment.items() if a == "nudged"}
    assert 0 < len(held_back) < len(USERS) and 0 < len(messaged) < len(in_experiment)
    expected_assignments = sorted(
        [("global_control", arm(group, u), u) for u in USERS]
        + [("quote_message", a, u) for u, a in in_experiment.items()]
    )
    assert sorted((a["experiment_id"], a["variant"], a["user_id"]) for a in assigned) == (
        expected_assignments
    )
    assert sorted(tuple(r) for r in rows) == expected_assignments
    assert sorted(c["user_id"] for c in commands) == sorted(messaged)
    by_user = {
        d["user_id"]: (d["outcome"], d["reason"], d["experiment"], d["variant"])
        for d in decisions
        if d["trigger_id"] == "quote_nudge"
    }
    for user in USERS:
        if user in held_back:
            assert by_user[user] == ("suppressed", "global_control", "global_control", "control")
        elif user in messaged:
            assert by_user[user] == ("fired", None, "quote_message", "nudged")
        else:
            assert by_user[user] == ("suppressed", "holdout", "quote_message", "control")
    expected_conversions = sorted(
        [("global_control", arm(group, u), u) for u in GLOBAL_CONVERTERS]
        + [("quote_message", in_experiment[u], u) for u in BUYERS if u in in_experiment]
    )
    assert sorted((c["experiment_id"], c["variant"], c["user_id"]) for c in converted) == (
        expected_conversions
    )
    assert sorted((e, v, u) for e, v, u, _ in credited) == expected_conversions
    # quote_message's metric counts value (the purchase's amount); the global one does not.
    values = {e: {None if v is None else float(v) for _, _, _, v in rows_of(credited, e)}
              for e in ("quote_message", "global_control")}  # fmt: skip
    assert values == {"quote_message": {100.0}, "global_control": {None}}


def rows_of(rows: list[tuple[Any, ...]], experiment: str) -> list[tuple[Any, ...]]:
    return [row for row in rows if row[0] == experiment]


def z_test(control: tuple[int, int], treatment: tuple[int, int]) -> tuple[float, float]:
    """The lift and two-sided p-value of the pooled two-proportion z-test, by hand."""
    (c_a, n_a), (c_b, n_b) = control, treatment
    pooled = (c_a + c_b) / (n_a + n_b)
    lift = c_b / n_b - c_a / n_a
    z = lift / math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    return lift, 2 * float(norm.sf(abs(z)))


def sample_size(baseline: float, effect: float, alpha: float = 0.05, power: float = 0.8) -> int:
    p1, p2 = baseline, baseline + effect
    mean = (p1 + p2) / 2
    root = float(norm.isf(alpha / 2)) * math.sqrt(2 * mean * (1 - mean)) + float(
        norm.ppf(power)
    ) * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(root**2 / effect**2)


def check_experiment_report(
    report: Any, group: ExperimentDefinition, in_experiment: dict[str, str]
) -> None:
    """Both experiments, judged with their definitions in force: counts and tests by hand."""
    experiments = {row["experiment_id"]: row for row in report["experiments"]}
    assert set(experiments) == {"global_control", "quote_message"}
    cases = {
        "quote_message": ({u: a for u, a in in_experiment.items()}, "purchase", BUYERS),
        "global_control": ({u: arm(group, u) for u in USERS}, "conversion", GLOBAL_CONVERTERS),
    }
    for experiment, (arms_of_users, metric, converters) in cases.items():
        summary = experiments[experiment]
        assert (summary["settings"], summary["control"], summary["primary_metric"]) == (
            "definition", "control", metric,
        )  # fmt: skip
        treatment = "nudged" if experiment == "quote_message" else "messaged"
        counts = {
            a: (
                sum(1 for u, x in arms_of_users.items() if x == a and u in converters),
                sum(1 for x in arms_of_users.values() if x == a),
            )
            for a in ("control", treatment)
        }
        rows = {r["variant"]: r for r in report["arms"] if r["experiment_id"] == experiment}
        for a, (converted, exposed) in counts.items():
            assert (rows[a]["exposed"], rows[a]["converted"]) == (exposed, converted)
            assert rows[a]["rate"] == converted / exposed
        lift, p_value = z_test(counts["control"], counts[treatment])
        assert rows[treatment]["absolute_lift"] == lift
        assert rows[treatment]["p_value"] == rows[treatment]["adjusted_p_value"]
        assert abs(rows[treatment]["p_value"] - p_value) < 1e-9
        assert summary["smallest_arm"] == min(exposed for _, exposed in counts.values())
    quote = experiments["quote_message"]
    assert quote["required_per_arm"] == sample_size(0.2, 0.2)
    assert quote["status"] == (
        f"not enough data yet ({quote['smallest_arm']} of {quote['required_per_arm']} per arm)"
    )
    purchases = {r["variant"]: r for r in report["arms"] if r["experiment_id"] == "quote_message"}
    assert {a: r["value"] for a, r in purchases.items()} == {
        a: 100.0 * r["converted"] for a, r in purchases.items()
    }
    assert experiments["global_control"]["expected_shares"] == {"control": 0.3, "messaged": 0.7}


def check_funnel_report(report: Any) -> None:
    """quote_to_application: 40 quotes, 20 applications started (3 h later), 10 finished
    (an hour after that); nobody's 14 days have passed, so nobody dropped."""
    steps = [
        {k: row[k] for k in ("step", "reached", "from_previous", "from_first", "drop_off",
                             "dropped", "completed", "median_seconds_from_previous")}
        for row in report["steps"]
    ]  # fmt: skip
    assert steps == [
        {"step": 1, "reached": 40, "from_previous": None, "from_first": 1.0, "drop_off": None,
         "dropped": 0, "completed": 0, "median_seconds_from_previous": None},
        {"step": 2, "reached": 20, "from_previous": 0.5, "from_first": 0.5, "drop_off": 20,
         "dropped": 0, "completed": 0, "median_seconds_from_previous": 3 * 3600.0},
        {"step": 3, "reached": 10, "from_previous": 0.5, "from_first": 0.25, "drop_off": 10,
         "dropped": 0, "completed": 10, "median_seconds_from_previous": 3600.0},
    ]  # fmt: skip


def user_days(now: datetime) -> set[tuple[str, date]]:
    """Every (user, UTC day) with an event of the test, as ``user_days`` must hold them."""
    return {(e.user_id, e.occurred_at.astimezone(UTC).date()) for e in events(now)}


def check_cohorts(report: Any, now: datetime) -> None:
    """Each user's cohort is the Monday of their first UTC day (the hours before ``now``
    may span a midnight, even a Monday's): sizes, weekly activity and value by hand."""
    days = user_days(now)
    first = {u: min(d for user, d in days if user == u) for u in USERS}
    cohort = {u: d - timedelta(days=d.weekday()) for u, d in first.items()}
    newest = max(d for _, d in days)
    expected = []
    for week in sorted(set(cohort.values())):
        members = [u for u in USERS if cohort[u] == week]
        weeks = (newest - timedelta(days=newest.weekday()) - week).days // 7
        active = [
            sum(1 for u in members if any(
                user == u and week + timedelta(weeks=w) <= d < week + timedelta(weeks=w + 1)
                for user, d in days
            ))
            for w in range(weeks + 1)
        ]  # fmt: skip
        buyers = [u for u in members if u in BUYERS]
        converted = [u for u in members if u in GLOBAL_CONVERTERS]
        expected.append(
            (week.isoformat(), len(members), active, len(converted) / len(members),
             round(100 * len(buyers) / len(members), 4))
        )  # fmt: skip
    found = [
        (r["cohort_week"], r["cohort_size"], r["active"], r["converted_share"],
         float(r["value_per_user"]))
        for r in report["cohorts"]
    ]  # fmt: skip
    assert found == expected
