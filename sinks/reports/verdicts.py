"""How an experiment is judged from its counts: arms, metrics, the tests (no I/O).

``experiment_report`` turns the counts of the views (``Counts``) into the report's rows,
with ``sinks.statistics``. Each experiment is judged by a ``Plan``: from its definition
when one is given, else from the counts and ``ExperimentDefinition``'s defaults (see
``sinks.reports.experiments``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.experiments import Allocation, ExperimentDefinition
from sinks.statistics import (
    ArmCounts,
    Lift,
    compare,
    enough_data,
    required_sample_size,
    sample_ratio_mismatch,
)

#: The arm taken as the control when no definition says which one is.
CONTROL = "control"
#: What an experiment without a definition in force is judged with: the model's defaults.
DEFAULTS = {
    name: ExperimentDefinition.model_fields[name].default
    for name in ("baseline_rate", "minimum_detectable_effect", "power", "alpha")
}


@dataclass(frozen=True, slots=True)
class Counts:
    """What the views hold for one experiment.

    Attributes:
        exposed: Arm -> users exposed.
        converted: Metric -> arm -> users converted (arms without a conversion left out).
        value: Metric -> arm -> the conversions' summed value.
    """

    exposed: dict[str, int]
    converted: dict[str, dict[str, int]]
    value: dict[str, dict[str, float]]


def experiment_report(
    counts: Mapping[str, Counts],
    definitions: Sequence[ExperimentDefinition] = (),
    *,
    sequential: bool = False,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return one row per experiment and one per experiment, metric and arm (no I/O).

    Args:
        counts: Each experiment's counts (``counts_of``), by id.
        definitions: Definitions in force; an experiment without one is judged with the
            defaults (see the module's docstring).
        sequential: The always-valid test instead of the fixed-horizon one.

    Returns:
        The experiments' rows (control, primary metric, sample size, status, the
        sample-ratio check) and the arms' rows (counts, rate, value and, for a
        treatment, its lift over the control on that metric), in order.
    """
    by_id = {definition.id: definition for definition in definitions}
    experiments: list[dict[str, Any]] = []
    arms: list[dict[str, Any]] = []
    for experiment_id in sorted(counts):
        plan = Plan.of(experiment_id, counts[experiment_id], by_id.get(experiment_id))
        summary, rows = _judge(plan, counts[experiment_id], sequential=sequential)
        experiments.append(summary)
        arms.extend(rows)
    return experiments, arms


@dataclass(frozen=True, slots=True)
class Plan:
    """How one experiment is judged: its arms, metrics and the test's settings."""

    experiment_id: str
    defined: bool
    variants: tuple[str, ...]
    control: str
    weights: dict[str, float]
    metrics: tuple[str, ...]
    baseline_rate: float
    minimum_detectable_effect: float
    power: float
    alpha: float
    note: str | None

    @classmethod
    def of(
        cls, experiment_id: str, counts: Counts, definition: ExperimentDefinition | None
    ) -> Plan:
        """Return the plan from the definition, or from the counts and the defaults."""
        seen = sorted(set(counts.exposed) | {v for arms in counts.converted.values() for v in arms})
        converted = sorted(counts.converted)
        if definition is None:
            control = CONTROL if CONTROL in seen else seen[0]
            return cls(
                experiment_id, False, tuple(seen), control, dict.fromkeys(seen, 1.0),
                tuple(converted), note=None, **DEFAULTS,
            )  # fmt: skip
        defined = [variant.id for variant in definition.variants]
        variants = (*defined, *(v for v in seen if v not in defined))
        weights = {variant.id: variant.weight for variant in definition.variants}
        named = [metric.name for metric in definition.metrics]
        return cls(
            experiment_id,
            True,
            variants,
            definition.control.id,
            {variant: weights.get(variant, 1.0) for variant in variants},
            (*named, *(m for m in converted if m not in named)),
            definition.baseline_rate,
            definition.minimum_detectable_effect,
            definition.power,
            definition.alpha,
            _note(definition),
        )


def _note(definition: ExperimentDefinition) -> str | None:
    if definition.allocation in (Allocation.SEGMENT, Allocation.BEHAVIOR):
        by = "segment" if definition.allocation is Allocation.SEGMENT else "behaviour"
        return f"arms chosen by {by}, not at random: lifts are associations, not effects"
    return None


def _judge(
    plan: Plan, counts: Counts, *, sequential: bool
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return the experiment's row and its arms' rows."""
    exposures = [
        _arm(plan, variant, counts.exposed.get(variant, 0), 0) for variant in plan.variants
    ]
    ratio = sample_ratio_mismatch(exposures)
    try:
        required: int | None = required_sample_size(
            plan.baseline_rate, plan.minimum_detectable_effect, alpha=plan.alpha, power=plan.power
        )
    except ValueError:  # a definition whose baseline plus effect reaches 100 %
        required = None
    smallest = min(arm.exposed for arm in exposures)
    ready = required is not None and enough_data(exposures, required)
    summary = {
        "experiment_id": plan.experiment_id,
        "settings": "definition" if plan.defined else "defaults",
        "control": plan.control,
        "primary_metric": plan.metrics[0] if plan.metrics else None,
        "method": "sequential" if sequential else "fixed",
        "alpha": plan.alpha,
        "required_per_arm": required,
        "smallest_arm": smallest,
        "enough_data": ready,
        "status": _status(ready, smallest, required, mismatch=ratio.mismatch),
        "sample_ratio_chi2": ratio.chi2,
        "sample_ratio_p_value": ratio.p_value,
        "sample_ratio_mismatch": ratio.mismatch,
        "expected_shares": ratio.expected,
        "note": plan.note,
    }
    if not plan.metrics:  # nobody converted yet and no definition names a metric
        return summary, [_row(plan, None, arm, None) for arm in exposures]
    rows = [
        row for metric in plan.metrics for row in _metric_rows(plan, counts, metric, sequential)
    ]
    return summary, rows


def _status(ready: bool, smallest: int, required: int | None, *, mismatch: bool) -> str:
    if mismatch:
        return "sample ratio mismatch: the arms' shares are off, do not trust the lifts"
    if required is None:
        return "no sample size: baseline rate plus effect reach 100%"
    if not ready:
        return f"not enough data yet ({smallest:,} of {required:,} per arm)"
    return "enough data"


def _arm(plan: Plan, variant: str, exposed: int, converted: int, value: float = 0.0) -> ArmCounts:
    return ArmCounts(
        variant,
        exposed,
        converted,
        value,
        control=variant == plan.control,
        weight=plan.weights[variant],
    )


def _metric_rows(plan: Plan, counts: Counts, metric: str, sequential: bool) -> list[dict[str, Any]]:
    converted = counts.converted.get(metric, {})
    values = counts.value.get(metric, {})
    arms = [
        _arm(plan, v, counts.exposed.get(v, 0), converted.get(v, 0), values.get(v, 0.0))
        for v in plan.variants
    ]
    lifts = {
        lift.variant: lift
        for lift in compare(
            arms,
            alpha=plan.alpha,
            sequential=sequential,
            minimum_detectable_effect=plan.minimum_detectable_effect,
        )
    }
    return [_row(plan, metric, arm, lifts.get(arm.variant)) for arm in arms]


def _row(plan: Plan, metric: str | None, arm: ArmCounts, lift: Lift | None) -> dict[str, Any]:
    """Return one arm's row on one metric; the lift columns are empty for the control."""
    return {
        "experiment_id": plan.experiment_id,
        "metric": metric,
        "primary": metric is not None and metric == plan.metrics[0],
        "variant": arm.variant,
        "control": arm.control,
        "weight": arm.weight,
        "exposed": arm.exposed,
        "converted": arm.converted if metric is not None else None,
        "rate": arm.converted / arm.exposed if arm.exposed and metric is not None else None,
        "value": arm.value if metric is not None else None,
        "absolute_lift": None if lift is None else lift.absolute,
        "absolute_ci": None if lift is None else lift.absolute_ci,
        "relative_lift": None if lift is None else lift.relative,
        "relative_ci": None if lift is None else lift.relative_ci,
        "p_value": None if lift is None else lift.p_value,
        "adjusted_p_value": None if lift is None else lift.adjusted_p_value,
        "significant": None if lift is None else lift.significant,
    }
