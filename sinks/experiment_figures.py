"""Experiments for Prometheus: users per arm and conversion rate per arm and metric.

``nudge_experiment_users{experiment,variant}`` (users exposed) and
``nudge_experiment_conversion_rate{experiment,variant,metric}`` (of them, the share with a
conversion of the metric) are read from the views ``experiment_exposures`` and
``experiment_arms`` (migration 0009): the numbers ``nudge report experiments`` starts from.
They change only when an assignment or a conversion is stored, so the sink reads them at
start-up and again after a batch that stored one, at most once every ``REFRESH_SECONDS``,
in the background (``sinks.refresh`` says how).

Labels stay bounded: only the ``SHOWN_EXPERIMENTS`` experiments with the latest
exposures are shown (as many as can be in force at once), each with at most
``schemas.experiments.MAX_VARIANTS`` arms and the metrics its conversions name; the
series of an experiment that drops out are removed. A metric without a conversion in an
experiment yet has no series (the views know no metric before its first conversion).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, text

from schemas.experiments import MAX_EXPERIMENTS_IN_FORCE
from sinks import metrics
from sinks.refresh import Refresh

#: Shortest time between two reads of the views, in seconds: a read aggregates every
#: assignment and conversion, too much for every batch; Prometheus scrapes every 15 s.
REFRESH_SECONDS = 15.0
#: Experiments shown: those with the latest exposures, as many as can be in force at once.
SHOWN_EXPERIMENTS = MAX_EXPERIMENTS_IN_FORCE
#: The tables whose new rows make the figures stale.
EXPERIMENT_TABLES = frozenset({"experiment_assignments", "experiment_conversions"})

LATEST = text(
    "SELECT experiment_id FROM experiment_exposures GROUP BY experiment_id"
    " ORDER BY max(last_exposed_at) DESC, experiment_id LIMIT :shown"
)
EXPOSED = text(
    "SELECT experiment_id, variant, exposed FROM experiment_exposures"
    " WHERE experiment_id = ANY(:experiments)"
)
CONVERTED = text(
    "SELECT experiment_id, variant, metric, exposed, converted FROM experiment_arms"
    " WHERE experiment_id = ANY(:experiments)"
)

Arm = tuple[str, str]
"""(experiment, variant)."""
ArmMetric = tuple[str, str, str]
"""(experiment, variant, metric)."""


@dataclass(frozen=True, slots=True)
class ExperimentFigures:
    """Users exposed per arm, and conversion rate per arm and metric (0 with nobody)."""

    users: dict[Arm, int] = field(default_factory=dict)
    conversion_rates: dict[ArmMetric, float] = field(default_factory=dict)


def read_figures(engine: Engine) -> ExperimentFigures:
    """Return the figures of the latest experiments, from the two views."""
    with engine.connect() as connection:
        shown = list(connection.scalars(LATEST, {"shown": SHOWN_EXPERIMENTS}))
        exposed = connection.execute(EXPOSED, {"experiments": shown}).all()
        converted = connection.execute(CONVERTED, {"experiments": shown}).all()
    return ExperimentFigures(
        {(str(e), str(v)): int(n) for e, v, n in exposed},
        {(str(e), str(v), str(m)): c / n if n else 0.0 for e, v, m, n, c in converted},
    )


def publish_figures(figures: ExperimentFigures, shown: set[ArmMetric]) -> set[ArmMetric]:
    """Set both gauges; drop the series no longer there.

    Args:
        figures: What was read.
        shown: The series the gauges have: ``(experiment, variant, "")`` for the users
            gauge, with the metric for the rate gauge (updated and returned).
    """
    now = {(e, v, "") for e, v in figures.users} | set(figures.conversion_rates)
    for experiment, variant, metric in shown - now:
        if metric:
            metrics.EXPERIMENT_CONVERSION_RATE.remove(experiment, variant, metric)
        else:
            metrics.EXPERIMENT_USERS.remove(experiment, variant)
    for (experiment, variant), users in figures.users.items():
        metrics.EXPERIMENT_USERS.labels(experiment, variant).set(users)
    for (experiment, variant, metric), rate in figures.conversion_rates.items():
        metrics.EXPERIMENT_CONVERSION_RATE.labels(experiment, variant, metric).set(rate)
    return now


class ExperimentFiguresRefresh(Refresh[ExperimentFigures]):
    """Decides when to read the experiments' figures again, reads them and sets the gauges.

    Args:
        engine: The sink's engine.
        interval: Shortest time between two reads, in seconds; ``None``: ``REFRESH_SECONDS``.
        clock: Monotonic seconds (``time.monotonic``; tests pass their own).
    """

    tables = EXPERIMENT_TABLES
    what = "experiments' figures"

    def default_interval(self) -> float:
        """Return ``REFRESH_SECONDS``."""
        return REFRESH_SECONDS

    def read(self, engine: Engine) -> ExperimentFigures:
        """Return the figures (``read_figures``)."""
        return read_figures(engine)

    def publish(self, figures: ExperimentFigures) -> None:
        """Set both gauges (``publish_figures``)."""
        self._shown = publish_figures(figures, self._shown)
