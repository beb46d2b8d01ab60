"""Alert recommendations for Prometheus: acceptance rate per model version and alert type.

``nudge_recommendation_acceptance_rate{model,version,alert_type}`` is the share of the
users an alert was recommended to by a model version who turned it on within 30 days, as
the view ``recommendation_acceptance`` (migration 0010) counts it: the number ``nudge
report recommendations`` shows. It changes only when a recommendation or an alert action
is stored, so the sink reads it at start-up and again after a batch that stored one, at
most once every ``REFRESH_SECONDS``, in the background (``sinks.refresh`` says how).

Labels stay bounded: only the ``SHOWN_VERSIONS`` highest versions of each model are shown
(a new version is compared with the ones it replaced; older ones are ``nudge report
recommendations``' business), each with at most the eight alert types
(``schemas.alerts.AlertType``); the series of a version that drops out are removed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

from sinks import metrics
from sinks.refresh import Refresh

#: Shortest time between two reads of the view, in seconds: a read aggregates every
#: recommendation, too much for every batch; Prometheus scrapes every 15 s.
REFRESH_SECONDS = 15.0
#: Versions shown per model: the one in force and the two before it, to compare with.
SHOWN_VERSIONS = 3
#: The tables whose new rows make the figures stale.
RECOMMENDATION_TABLES = frozenset({"alert_recommendations", "alert_actions"})

ACCEPTANCE = text(
    "SELECT model_name, model_version, alert_type, acceptance_rate FROM recommendation_acceptance"
)

Series = tuple[str, str, str]
"""(model, version, alert type): the gauge's labels."""


@dataclass(frozen=True, slots=True)
class RecommendationFigures:
    """Acceptance rate per (model, version, alert type) of the versions shown."""

    acceptance_rates: dict[Series, float] = field(default_factory=dict)


def latest_versions(
    found: Iterable[tuple[str, int, str, float]], shown: int = SHOWN_VERSIONS
) -> RecommendationFigures:
    """Keep the rows of each model's ``shown`` highest versions (no I/O).

    Args:
        found: The view's (model, version, alert type, acceptance rate) rows.
        shown: Versions kept per model.
    """
    rows = list(found)
    versions: dict[str, set[int]] = {}
    for model, version, _, _ in rows:
        versions.setdefault(model, set()).add(version)
    kept = {model: set(sorted(numbers)[-shown:]) for model, numbers in versions.items()}
    return RecommendationFigures(
        {
            (model, str(version), alert): float(rate)
            for model, version, alert, rate in rows
            if version in kept[model]
        }
    )


def read_figures(engine: Engine) -> RecommendationFigures:
    """Return the acceptance rates of the latest versions, from the view."""
    with engine.connect() as connection:
        found = connection.execute(ACCEPTANCE).all()
    return latest_versions((str(m), int(v), str(a), float(r)) for m, v, a, r in found)


def publish_figures(figures: RecommendationFigures, shown: set[Series]) -> set[Series]:
    """Set the gauge; drop the series no longer there.

    Args:
        figures: What was read.
        shown: The series the gauge has (updated and returned).
    """
    now = set(figures.acceptance_rates)
    for series in shown - now:
        metrics.RECOMMENDATION_ACCEPTANCE_RATE.remove(*series)
    for series, rate in figures.acceptance_rates.items():
        metrics.RECOMMENDATION_ACCEPTANCE_RATE.labels(*series).set(rate)
    return now


class RecommendationFiguresRefresh(Refresh[RecommendationFigures]):
    """Decides when to read the acceptance rates again, reads them and sets the gauge.

    Args:
        engine: The sink's engine.
        interval: Shortest time between two reads, in seconds; ``None``: ``REFRESH_SECONDS``.
        clock: Monotonic seconds (``time.monotonic``; tests pass their own).
    """

    tables = RECOMMENDATION_TABLES
    what = "recommendations' acceptance"

    def default_interval(self) -> float:
        """Return ``REFRESH_SECONDS``."""
        return REFRESH_SECONDS

    def read(self, engine: Engine) -> RecommendationFigures:
        """Return the figures (``read_figures``)."""
        return read_figures(engine)

    def publish(self, figures: RecommendationFigures) -> None:
        """Set the gauge (``publish_figures``)."""
        self._shown = publish_figures(figures, self._shown)
