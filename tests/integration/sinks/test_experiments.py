"""Experiments through the broker, the running sink and ``nudge report experiments``.

Assignments, conversions and an exposing decision are published as the worker would; the
sink stores them; the report's numbers are checked against a hand computation here (rates,
lifts, the pooled two-proportion z-test, Holm, the sample-ratio chi-square, the sample
size, and the mSPRT's p-value), first with the defaults, then with a definition applied on
the definitions topic. Publishing everything again changes no row and no number.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from math import ceil, erfc, exp, sqrt
from statistics import NormalDist
from typing import Any

import pytest
from prometheus_client import REGISTRY

from schemas.experiments import ExperimentDefinition
from schemas.records import TriggerDecision
from schemas.settings import Settings
from sinks import experiment_figures
from sinks.migrate import upgrade
from streams.cli.analytics import publish_entries
from streams.cli.listed import entry
from streams.cli.main import main
from tests.integration.harness import wait_until
from tests.integration.sink_harness import (
    assignment,
    conversion,
    decision,
    offsets_caught_up,
    publish,
    query,
    running_sink,
)

pytestmark = pytest.mark.integration

AT = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
TONE, SEND_TIME = "tone_test", "send_time"
#: Per arm: users exposed, then converted on ``purchase`` (each worth the value) and on
#: ``signup``. Equal weights by default; ``send_time``'s split is far off 50/50.
TONE_ARMS = {
    "control": (200, 20, 10.0, 50),
    "friendly": (210, 36, 12.5, 55),
    "urgent": (205, 24, 5.0, 40),
}
SEND_TIME_ARMS = {"control": (100, 10, 1.0, 0), "evening": (160, 24, 1.0, 0)}


def messages() -> list[Any]:
    """Every message of the scenario, in publishing order."""
    found: list[Any] = []
    for experiment, arms in ((TONE, TONE_ARMS), (SEND_TIME, SEND_TIME_ARMS)):
        for arm, (exposed, purchases, value, signups) in arms.items():
            users = [f"{experiment}-{arm}-{n}" for n in range(exposed)]
            found += [assignment(experiment, arm, user, AT) for user in users]
            found += [
                conversion(experiment, arm, u, "purchase", AT, value) for u in users[:purchases]
            ]
            found += [conversion(experiment, arm, u, "signup", AT) for u in users[:signups]]
    # The worker sends one twice (a replay): one row. A conversion whose user has no
    # assignment (not stored yet) counts in no arm.
    found.append(conversion(TONE, "friendly", f"{TONE}-friendly-0", "purchase", AT, 12.5))
    found.append(conversion(TONE, "friendly", "nobody", "purchase", AT, 99.0))
    held_out = decision(f"{TONE}-control-0", 1, suppressed=True).model_dump()
    held_out |= {"reason": "holdout", "experiment": TONE, "variant": "control"}
    found.append(TriggerDecision.model_validate(held_out))
    return found


# --- the hand computation ----------------------------------------------------------------


def z_test_p_value(control: tuple[int, int], treatment: tuple[int, int]) -> float:
    """Two-sided p-value of the pooled two-proportion z-test; (converted, exposed) each."""
    (c_a, n_a), (c_b, n_b) = control, treatment
    pooled = (c_a + c_b) / (n_a + n_b)
    z = (c_b / n_b - c_a / n_a) / sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    return erfc(abs(z) / sqrt(2))  # = 2 (1 - Phi(|z|))


def msprt_p_value(control: tuple[int, int], treatment: tuple[int, int], tau: float) -> float:
    """The always-valid p-value: 1 / Lambda with the pooled variance and tau^2 = mde^2."""
    (c_a, n_a), (c_b, n_b) = control, treatment
    pooled = (c_a + c_b) / (n_a + n_b)
    v = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
    theta, tau2 = c_b / n_b - c_a / n_a, tau**2
    likelihood = sqrt(v / (v + tau2)) * exp(theta**2 * tau2 / (2 * v * (v + tau2)))
    return min(1.0, 1 / likelihood)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment, in the order given."""
    order = sorted(range(len(p_values)), key=p_values.__getitem__)
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def sample_size(baseline: float, effect: float, alpha: float = 0.05, power: float = 0.8) -> int:
    normal = NormalDist()
    p1, p2 = baseline, baseline + effect
    mean = (p1 + p2) / 2
    root = normal.inv_cdf(1 - alpha / 2) * sqrt(2 * mean * (1 - mean)) + normal.inv_cdf(
        power
    ) * sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return ceil(root**2 / effect**2)


def expected_arms(metric: str) -> dict[str, dict[str, Any]]:
    """The tone test's arms on ``metric`` as the report must show them, by hand."""
    column = {"purchase": 1, "signup": 3}[metric]
    counts = {arm: (int(row[column]), row[0]) for arm, row in TONE_ARMS.items()}
    treatments = ["friendly", "urgent"]
    p_values = [z_test_p_value(counts["control"], counts[arm]) for arm in treatments]
    adjusted = dict(zip(treatments, holm(p_values), strict=True))
    control_rate = counts["control"][0] / counts["control"][1]
    found = {}
    for arm, (converted, exposed) in counts.items():
        rate = converted / exposed
        row: dict[str, Any] = {"exposed": exposed, "converted": converted, "rate": rate}
        if arm != "control":
            row |= {
                "absolute_lift": rate - control_rate,
                "relative_lift": (rate - control_rate) / control_rate,
                "p_value": p_values[treatments.index(arm)],
                "adjusted_p_value": adjusted[arm],
            }
        found[arm] = row
    return found


def close(actual: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(actual[k] == pytest.approx(v, rel=1e-9, abs=1e-12) for k, v in expected.items())


# --- the test --------------------------------------------------------------------------------


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    migrated = make_settings(sink_batch_size=200)
    upgrade(migrated)
    return migrated


async def report(settings: Settings, monkeypatch, capsys, *args: str) -> dict[str, Any]:
    """Run ``nudge report experiments --json ARGS`` as a user would (it reads the topic)."""
    monkeypatch.setenv("NUDGE_DATABASE_URL", settings.database_url.get_secret_value())
    monkeypatch.setenv("NUDGE_KAFKA_BOOTSTRAP", settings.kafka_bootstrap)
    monkeypatch.setenv("NUDGE_TOPIC_PREFIX", settings.topic_prefix)
    capsys.readouterr()
    status = await asyncio.to_thread(main, ["report", "experiments", "--json", *args])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    document: dict[str, Any] = json.loads(captured.out)
    return document


def arms_of(document: dict[str, Any], experiment: str, metric: str) -> dict[str, dict[str, Any]]:
    return {
        row["variant"]: row
        for row in document["arms"]
        if row["experiment_id"] == experiment and row["metric"] == metric
    }


def check_the_defaults(document: dict[str, Any]) -> None:
    """No definition on the topic: control "control", equal weights, the metrics with
    conversions (the first by name primary), a 10 % baseline and a 5-point effect."""
    assert (document["report"], document["sequential"]) == ("experiments", False)
    experiments = {row["experiment_id"]: row for row in document["experiments"]}
    tone = experiments[TONE]
    assert {k: tone[k] for k in ("settings", "control", "primary_metric", "method")} == {
        "settings": "defaults", "control": "control", "primary_metric": "purchase",
        "method": "fixed",
    }  # fmt: skip
    needed = sample_size(0.10, 0.05)
    assert (tone["required_per_arm"], tone["smallest_arm"], tone["enough_data"]) == (
        needed,
        200,
        False,
    )
    assert tone["status"] == f"not enough data yet (200 of {needed} per arm)"
    chi2 = sum((n - 205) ** 2 / 205 for n in (200, 210, 205))  # 615 users, equal shares
    assert tone["sample_ratio_chi2"] == pytest.approx(chi2)
    assert tone["sample_ratio_p_value"] == pytest.approx(exp(-chi2 / 2))  # 2 degrees of freedom
    assert tone["sample_ratio_mismatch"] is False
    for metric in ("purchase", "signup"):
        arms = arms_of(document, TONE, metric)
        assert list(arms) == ["control", "friendly", "urgent"]
        for arm, expected in expected_arms(metric).items():
            assert close(arms[arm], expected), (metric, arm, arms[arm], expected)
        assert arms["control"]["p_value"] is None and arms["control"]["control"] is True
    purchase = arms_of(document, TONE, "purchase")
    assert [purchase[a]["value"] for a in purchase] == [200.0, 450.0, 120.0]
    primary = [r["primary"] for r in document["arms"] if r["experiment_id"] == TONE]
    assert primary == [True] * 3 + [False] * 3
    # 100 against 160 of 260 users where 130 each were expected: a broken split.
    send_time = experiments[SEND_TIME]
    chi2 = 2 * 30**2 / 130
    assert send_time["sample_ratio_p_value"] == pytest.approx(erfc(sqrt(chi2 / 2)))
    assert send_time["sample_ratio_mismatch"] is True
    assert send_time["status"].startswith("sample ratio mismatch")
    evening = arms_of(document, SEND_TIME, "purchase")["evening"]
    assert evening["p_value"] == pytest.approx(z_test_p_value((10, 100), (24, 160)))
    assert evening["adjusted_p_value"] == evening["p_value"]  # one treatment: nothing to adjust


def check_sequential(document: dict[str, Any]) -> None:
    """``--sequential --experiment tone_test``: the always-valid p-values, by hand."""
    assert {row["experiment_id"] for row in document["experiments"]} == {TONE}
    arms = arms_of(document, TONE, "purchase")
    for arm in ("friendly", "urgent"):
        exposed, converted = TONE_ARMS[arm][:2]
        by_hand = msprt_p_value((20, 200), (converted, exposed), tau=0.05)
        assert arms[arm]["p_value"] == pytest.approx(by_hand, rel=1e-9)
        assert arms[arm]["p_value"] > expected_arms("purchase")[arm]["p_value"]


#: The definition in force: the urgent arm is the control, weights 1:1:2 (the control
#: arm should hold half the users), the primary metric signup, a 10-point effect.
DEFINITION = ExperimentDefinition.model_validate(
    {
        "id": TONE, "name": "Tone", "trigger": "spending_spike", "varies": "message",
        "variants": [
            {"id": "urgent", "control": True, "message": False},
            {"id": "friendly"}, {"id": "control", "weight": 2},
        ],
        "metrics": [{"name": "signup", "events": ["application_complete"]},
                    {"name": "purchase", "events": ["purchase"], "value": True}],
        "minimum_detectable_effect": 0.10,
    }
)  # fmt: skip


def check_the_definition(document: dict[str, Any]) -> None:
    (tone,) = document["experiments"]
    assert (tone["settings"], tone["control"], tone["primary_metric"]) == (
        "definition",
        "urgent",
        "signup",
    )
    assert tone["required_per_arm"] == sample_size(0.10, 0.10) == 199
    # Every arm has its 199 users, but the arms hold a third each where the weights ask
    # for a half in control: the sample-ratio check says not to trust the lifts.
    shares = {"urgent": 0.25, "friendly": 0.25, "control": 0.5}
    assert tone["expected_shares"] == pytest.approx(shares)
    chi2 = sum((TONE_ARMS[a][0] - 615 * s) ** 2 / (615 * s) for a, s in shares.items())
    assert tone["sample_ratio_p_value"] == pytest.approx(exp(-chi2 / 2)) and chi2 > 50
    assert tone["enough_data"] is True and tone["sample_ratio_mismatch"] is True
    assert tone["status"].startswith("sample ratio mismatch")
    signup = arms_of(document, TONE, "signup")
    assert list(signup) == ["urgent", "friendly", "control"]  # the definition's order
    p_values = [z_test_p_value((40, 205), (TONE_ARMS[a][3], TONE_ARMS[a][0])) for a in signup]
    assert [signup[a]["p_value"] for a in ("friendly", "control")] == pytest.approx(p_values[1:])
    assert [signup[a]["adjusted_p_value"] for a in ("friendly", "control")] == pytest.approx(
        holm(p_values[1:])
    )


def gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_the_report_equals_the_hand_computation_and_a_replay_changes_nothing(
    settings, monkeypatch, capsys
):
    monkeypatch.setattr(experiment_figures, "REFRESH_SECONDS", 0.2)
    scenario = messages()
    async with running_sink(settings):
        await publish(settings, scenario)
        await wait_until(lambda: offsets_caught_up(settings), "the sink to commit everything")
        # The gauges: users per arm and conversion rate per arm and metric, as stored.
        friendly = {"experiment": TONE, "variant": "friendly"}
        await wait_until(
            lambda: (
                gauge("nudge_experiment_conversion_rate", metric="signup", **friendly) == 55 / 210
            ),
            "the experiments' gauges",
        )
        assert gauge("nudge_experiment_users", **friendly) == 210
        assert gauge("nudge_experiment_conversion_rate", metric="purchase", **friendly) == 36 / 210
    tables = query(
        settings,
        "SELECT (SELECT count(*) FROM experiment_assignments) AS assignments,"
        " (SELECT count(*) FROM experiment_conversions) AS conversions",
    )
    exposed = sum(arm[0] for arms in (TONE_ARMS, SEND_TIME_ARMS) for arm in arms.values())
    converted = sum(a[1] + a[3] for arms in (TONE_ARMS, SEND_TIME_ARMS) for a in arms.values())
    assert tables == [{"assignments": exposed, "conversions": converted + 1}]  # + nobody's
    (held_out,) = query(settings, "SELECT reason, experiment, variant FROM trigger_events")
    assert held_out == {"reason": "holdout", "experiment": TONE, "variant": "control"}

    check_the_defaults(await report(settings, monkeypatch, capsys))
    check_sequential(
        await report(settings, monkeypatch, capsys, "--sequential", "--experiment", TONE)
    )
    await publish_entries(settings, [entry(b"experiment:" + TONE.encode(), DEFINITION)])
    defined = await report(settings, monkeypatch, capsys, "--experiment", TONE)
    check_the_definition(defined)

    # The same messages again: no new row, the same numbers.
    before = query(settings, "SELECT * FROM experiment_conversions ORDER BY message_id")
    async with running_sink(settings):
        await publish(settings, scenario)
        await wait_until(lambda: offsets_caught_up(settings), "the sink to commit the replay")
    assert query(settings, "SELECT * FROM experiment_conversions ORDER BY message_id") == before
    again = await report(settings, monkeypatch, capsys, "--experiment", TONE)
    assert again | {"generated_at": None} == defined | {"generated_at": None}


async def test_the_text_report_shows_each_arm_and_the_verdict(settings, monkeypatch, capsys):
    async with running_sink(settings):
        await publish(settings, messages())
        await wait_until(lambda: offsets_caught_up(settings), "the sink to commit everything")
    monkeypatch.setenv("NUDGE_DATABASE_URL", settings.database_url.get_secret_value())
    monkeypatch.setenv("NUDGE_KAFKA_BOOTSTRAP", settings.kafka_bootstrap)
    monkeypatch.setenv("NUDGE_TOPIC_PREFIX", settings.topic_prefix)
    assert await asyncio.to_thread(main, ["report", "experiments", "--experiment", TONE]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Experiments (as of ")
    assert f"not enough data yet (200 of {sample_size(0.10, 0.05)} per arm)" in lines[3]
    friendly = next(line for line in lines if line.split()[:3] == [TONE, "purchase", "friendly"])
    # 36 of 210 against 20 of 200: +7.1 points, +71.4 %.
    assert friendly.split()[3:7] == ["210", "36", "17.1%", "450.00"]
    assert "+7.1 pts" in friendly and "+71.4%" in friendly
