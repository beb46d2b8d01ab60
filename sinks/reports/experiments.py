"""``nudge report experiments``: per experiment and metric, each arm and each lift.

Counts come from the views ``experiment_exposures`` and ``experiment_arms`` (migration
0009): users exposed per arm, and of them those with a conversion of each metric. The
statistics are ``sinks.statistics``': per treatment, the absolute and relative lift over
the control with an interval and a p-value, the fixed-horizon z-test or, with
``sequential``, the always-valid mSPRT (safe to read every day); Holm-adjusted p-values
when there are several treatments; the sample-ratio check on the exposures; and, until
every arm has the users the primary metric needs, "not enough data yet".

What the counts do not say comes from the experiment's definition when it is given (the
one in force on the definitions topic: which arm is the control, the arms' weights, the
metrics, the first being primary, ``baseline_rate``, ``minimum_detectable_effect``,
``power``, ``alpha``). Without one, the report says so (``settings: defaults``) and takes:
the arm named ``control`` (else the first by name) as the control, equal weights, the
metrics that have conversions (the first by name as primary), and
``ExperimentDefinition``'s defaults for the rest.

``sinks.reports.verdicts.experiment_report`` computes the rows from the counts (no I/O);
``experiment_sections`` reads the counts; ``build_experiments`` is the whole report, as
``nudge report`` prints it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, text

from schemas.experiments import ExperimentDefinition
from schemas.settings import Settings
from sinks.reports.build import read_sections
from sinks.reports.layout import Column, Report, Section
from sinks.reports.verdicts import Counts, experiment_report

_ONE_EXPERIMENT = "(CAST(:experiment AS text) IS NULL OR experiment_id = :experiment)"
EXPOSURES = text(
    "SELECT experiment_id, variant, exposed FROM experiment_exposures"  # noqa: S608
    f" WHERE {_ONE_EXPERIMENT} ORDER BY experiment_id, variant"
)
ARMS = text(
    "SELECT experiment_id, variant, metric, converted, value FROM experiment_arms"  # noqa: S608
    f" WHERE {_ONE_EXPERIMENT} ORDER BY experiment_id, metric, variant"
)

EXPERIMENT_COLUMNS = (
    Column("experiment_id", "experiment", "text"),
    Column("settings", "settings", "text"),
    Column("control", "control", "text"),
    Column("primary_metric", "primary metric", "text"),
    Column("method", "test", "text"),
    Column("required_per_arm", "needs per arm"),
    Column("smallest_arm", "smallest arm"),
    Column("status", "status", "text"),
    Column("sample_ratio_p_value", "ratio p", "pvalue"),
    Column("sample_ratio_mismatch", "ratio mismatch", "flag"),
)
ARM_COLUMNS = (
    Column("experiment_id", "experiment", "text"),
    Column("metric", "metric", "text"),
    Column("variant", "arm", "text"),
    Column("exposed", "exposed"),
    Column("converted", "converted"),
    Column("rate", "rate", "rate"),
    Column("value", "value", "money"),
    Column("absolute_lift", "lift", "points"),
    Column("absolute_ci", "interval", "points"),
    Column("relative_lift", "relative", "change"),
    Column("relative_ci", "relative interval", "change"),
    Column("p_value", "p", "pvalue"),
    Column("adjusted_p_value", "Holm p", "pvalue"),
    Column("significant", "significant", "flag"),
)


def experiment_sections(
    connection: Connection,
    *,
    experiment: str | None = None,
    sequential: bool = False,
    definitions: Sequence[ExperimentDefinition] = (),
) -> tuple[Section, Section]:
    """Read the counts on ``connection`` and return the two sections of the report.

    Args:
        connection: In a transaction.
        experiment: Only this experiment; ``None``: every one with an exposure.
        sequential: The always-valid test instead of the fixed-horizon one.
        definitions: The experiments' definitions in force, when known.
    """
    values = {"experiment": experiment}
    exposures = [dict(row) for row in connection.execute(EXPOSURES, values).mappings()]
    arms = [dict(row) for row in connection.execute(ARMS, values).mappings()]
    experiments, rows = experiment_report(
        counts_of(exposures, arms), definitions, sequential=sequential
    )
    return (
        Section("experiments", "Experiments", EXPERIMENT_COLUMNS, experiments),
        Section("arms", "Arms and lifts per metric", ARM_COLUMNS, rows),
    )


def build_experiments(
    settings: Settings,
    *,
    experiment: str | None = None,
    sequential: bool = False,
    definitions: Sequence[ExperimentDefinition] = (),
) -> Report:
    """Read the experiments report from the database (``experiment_sections``).

    Raises:
        ReportError: The database cannot be reached or has no reporting views.
    """
    generated_at, sections = read_sections(
        settings,
        lambda connection: experiment_sections(
            connection, experiment=experiment, sequential=sequential, definitions=definitions
        ),
    )
    options: dict[str, Any] = {"sequential": sequential}
    if experiment is not None:
        options["experiment"] = experiment
    return Report("experiments", None, generated_at, sections, options=options)


def counts_of(
    exposures: Iterable[Mapping[str, Any]], arms: Iterable[Mapping[str, Any]]
) -> dict[str, Counts]:
    """Return each experiment's counts from the rows of the two views."""
    found: dict[str, Counts] = {}
    for row in exposures:
        counts = found.setdefault(row["experiment_id"], Counts({}, {}, {}))
        counts.exposed[row["variant"]] = int(row["exposed"])
    for row in arms:
        counts = found.setdefault(row["experiment_id"], Counts({}, {}, {}))
        metric = row["metric"]
        counts.converted.setdefault(metric, {})[row["variant"]] = int(row["converted"])
        counts.value.setdefault(metric, {})[row["variant"]] = float(row["value"])
    return found
