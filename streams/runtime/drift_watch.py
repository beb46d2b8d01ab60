"""The drift watch: the worker's drift detectors, fed after each event, their drifts exported.

The ingest stage hands every processed event's ``Result`` to ``DriftWatch.watch``; the
monitor (``models.drift``) counts it and, once a bucket of ``NUDGE_DRIFT_BUCKET_EVENTS``
closes, updates one detector per signal. A drift counts in
``nudge_drift_detected_total{signal}`` and logs one warning (signal and levels: nothing
about a user); every closed bucket sets ``nudge_drift_level{signal}``.

Only events the triggers were evaluated on count: a duplicate changes nothing, and an
event older than the evaluation horizon (a replay after a restart, a backfill) fires
nothing, so counting it would read as every trigger falling silent. The timer's firings
are not watched: they come when a schedule comes round, not per event. Per event the watch
costs a check, a loop over the decisions and a few additions; the detectors run once a
bucket.
"""

from __future__ import annotations

import logging
import math

from models.drift import ANOMALY_SCORE, Drift, DriftMonitor
from schemas.records import Outcome
from schemas.settings import Settings
from streams.core.decisions.result import Result
from streams.runtime import metrics

log = logging.getLogger(__name__)

#: Events per point when no setting says otherwise (``NUDGE_DRIFT_BUCKET_EVENTS``'s default).
DEFAULT_BUCKET_EVENTS: int = Settings.model_fields["drift_bucket_events"].default


class DriftWatch:
    """Feeds a worker's ``DriftMonitor`` and exports what it finds.

    Args:
        bucket_events: ``NUDGE_DRIFT_BUCKET_EVENTS``.
    """

    __slots__ = ("monitor",)

    def __init__(self, bucket_events: int = DEFAULT_BUCKET_EVENTS) -> None:
        self.monitor = DriftMonitor(bucket_events)
        # Born at zero, so the first drift is an increase Prometheus sees.
        metrics.DRIFT_DETECTED.labels(ANOMALY_SCORE)

    def restore(self, monitor: DriftMonitor) -> None:
        """Watch with ``monitor`` from now on (rebuilt from a checkpoint), quietly."""
        self.monitor = monitor
        self._export_levels()

    def watch(self, result: Result) -> None:
        """Count one processed event's firings and anomaly score; export any drift."""
        if not (result.applied and result.evaluated):
            return
        fired = (
            [d.trigger_id for d in result.decisions if d.outcome is Outcome.FIRED]
            if result.decisions
            else ()
        )
        try:
            drifts = self.monitor.observe(fired, result.anomaly_score)
            if drifts is not None:
                self._closed(drifts)
        except Exception:  # noqa: BLE001 - advisory: a bug here must not cost the event its outputs
            log.exception("the drift watch raised; the event is processed all the same")

    def _closed(self, drifts: list[Drift]) -> None:
        self._export_levels()
        for drift in drifts:
            metrics.DRIFT_DETECTED.labels(drift.signal).inc()
            log.warning(
                "drift detected",
                extra={"signal": drift.signal, "before": round(drift.before, 6),
                       "after": round(drift.after, 6), "factor": _finite(drift.factor),
                       "bucket_events": self.monitor.bucket_events},
            )  # fmt: skip

    def _export_levels(self) -> None:
        for signal, level in self.monitor.levels().items():
            metrics.DRIFT_LEVEL.labels(signal).set(level)
            metrics.DRIFT_DETECTED.labels(signal)  # born at zero with its signal


def _finite(factor: float) -> float | None:
    """The factor for the log, ``None`` for a level that grew from zero."""
    return round(factor, 2) if math.isfinite(factor) else None
