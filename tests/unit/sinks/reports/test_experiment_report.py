"""The experiments report's rows from counts, without a database: plans, arms, verdicts."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.experiments import ExperimentDefinition
from sinks.reports.experiments import counts_of
from sinks.reports.verdicts import Counts, experiment_report
from sinks.statistics import ArmCounts, compare


def definition(**changes: Any) -> ExperimentDefinition:
    document: dict[str, Any] = {
        "id": "tone_test",
        "name": "Tone",
        "trigger": "spending_spike",
        "varies": "message",
        "variants": [{"id": "holdout", "control": True, "message": False}, {"id": "b"}],
        "metrics": [{"name": "signup", "events": ["application_complete"]}],
    }
    return ExperimentDefinition.model_validate(document | changes)


def counts(
    exposed: dict[str, int], converted: dict[str, dict[str, int]] | None = None
) -> dict[str, Counts]:
    converted = converted or {}
    values = {m: {arm: 2.0 * n for arm, n in arms.items()} for m, arms in converted.items()}
    return {"tone_test": Counts(exposed, converted, values)}


def test_without_a_definition_the_arm_named_control_is_the_control_and_weights_are_equal():
    experiments, arms = experiment_report(
        counts({"a": 100, "control": 100}, {"purchase": {"a": 12, "control": 10}})
    )
    (summary,) = experiments
    assert (summary["settings"], summary["control"], summary["primary_metric"]) == (
        "defaults",
        "control",
        "purchase",
    )
    assert summary["expected_shares"] == {"a": 0.5, "control": 0.5}
    assert [(r["variant"], r["control"], r["weight"]) for r in arms] == [
        ("a", False, 1.0),
        ("control", True, 1.0),
    ]
    (lift,) = compare([ArmCounts("control", 100, 10, control=True), ArmCounts("a", 100, 12)])
    assert (arms[0]["absolute_lift"], arms[0]["p_value"]) == (lift.absolute, lift.p_value)
    assert arms[0]["value"] == 24.0 and arms[1]["absolute_lift"] is None


def test_without_an_arm_named_control_the_first_by_name_is_the_control():
    (summary,), _ = experiment_report(counts({"zeta": 5, "beta": 5, "alpha": 5}))
    assert summary["control"] == "alpha"


def test_the_definition_names_the_control_the_weights_the_metrics_and_the_arms_order():
    made = definition(
        variants=[
            {"id": "holdout", "control": True, "message": False, "weight": 1},
            {"id": "b", "weight": 3},
            {"id": "never_exposed"},
        ],
        metrics=[
            {"name": "signup", "events": ["application_complete"]},
            {"name": "purchase", "events": ["purchase"]},
        ],
        minimum_detectable_effect=0.2,
    )
    experiments, arms = experiment_report(
        counts({"b": 300, "holdout": 100, "stray": 4}, {"purchase": {"b": 30}, "other": {"b": 1}}),
        [made],
    )
    (summary,) = experiments
    assert (summary["settings"], summary["control"], summary["primary_metric"]) == (
        "definition",
        "holdout",
        "signup",
    )
    # Every defined arm, in order, then arms only the data knows (weight 1); every defined
    # metric, in order (signup has no conversion yet), then metrics only the data knows.
    assert [(r["metric"], r["variant"], r["weight"]) for r in arms[:4]] == [
        ("signup", "holdout", 1.0),
        ("signup", "b", 3.0),
        ("signup", "never_exposed", 1.0),
        ("signup", "stray", 1.0),
    ]
    assert [r["metric"] for r in arms[::4]] == ["signup", "purchase", "other"]
    assert [r["primary"] for r in arms[::4]] == [True, False, False]
    assert summary["smallest_arm"] == 0 and summary["enough_data"] is False
    never = next(r for r in arms if r["variant"] == "never_exposed")
    assert never["rate"] is None and never["p_value"] == 1.0


@pytest.mark.parametrize(("sequential", "method"), [(False, "fixed"), (True, "sequential")])
def test_the_method_is_the_one_asked_for(sequential, method):
    experiments, arms = experiment_report(
        counts({"control": 50, "b": 50}, {"m": {"control": 5, "b": 15}}), sequential=sequential
    )
    assert experiments[0]["method"] == method
    (lift,) = compare(
        [ArmCounts("b", 50, 15), ArmCounts("control", 50, 5, control=True)],
        sequential=sequential,
    )
    assert arms[0]["p_value"] == lift.p_value


def test_an_experiment_without_conversions_shows_its_exposures_only():
    experiments, arms = experiment_report(counts({"control": 3, "b": 4}))
    assert experiments[0]["primary_metric"] is None
    assert [(r["variant"], r["metric"], r["exposed"], r["converted"]) for r in arms] == [
        ("b", None, 4, None),
        ("control", None, 3, None),
    ]


def test_a_sample_size_that_cannot_be_had_is_said_and_nothing_raises():
    made = definition(baseline_rate=0.97, minimum_detectable_effect=0.05)
    (summary,), _ = experiment_report(counts({"holdout": 10, "b": 10}), [made])
    assert summary["required_per_arm"] is None and summary["enough_data"] is False
    assert summary["status"] == "no sample size: baseline rate plus effect reach 100%"


def test_arms_chosen_by_segment_are_reported_as_associations():
    made = definition(
        allocation="segment",
        variants=[
            {"id": "holdout", "control": True, "message": False},
            {"id": "b", "segments": ["big_spenders"]},
        ],
    )
    (summary,), _ = experiment_report(counts({"holdout": 10, "b": 10}), [made])
    assert summary["note"] == (
        "arms chosen by segment, not at random: lifts are associations, not effects"
    )
    (plain,), _ = experiment_report(counts({"holdout": 10, "b": 10}), [definition()])
    assert plain["note"] is None


def test_counts_are_read_from_the_views_rows():
    found = counts_of(
        [{"experiment_id": "x", "variant": "a", "exposed": 3}],
        [{"experiment_id": "x", "variant": "a", "metric": "m", "converted": 1, "value": 2.5}],
    )
    assert found == {"x": Counts({"a": 3}, {"m": {"a": 1}}, {"m": {"a": 2.5}})}
