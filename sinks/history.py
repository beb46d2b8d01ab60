"""What the query API and ``nudge why`` read from PostgreSQL.

Decisions, recommendations, segment sizes and the reports. One ``History`` per process
keeps a small connection pool; every read is a short read-only query by an indexed
column (``trigger_events.user_id``, ``alert_recommendations.user_id``). A database that
cannot be reached raises ``HistoryUnavailable``, which the API answers with 503 and the
CLI with a message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, desc, select
from sqlalchemy.exc import SQLAlchemyError

from schemas.api import DecisionView, Recommendation
from schemas.experiments import ExperimentDefinition
from schemas.settings import Settings
from sinks.migrate import database_engine
from sinks.segment_sizes import read_sizes
from sinks.tables import AlertRecommendationRow, TriggerEvent

#: The reports ``report`` makes: the windowed ones, and those with their own builder.
WINDOWED_REPORTS = (
    "effectiveness", "interventions", "behavior", "segments", "users", "personalization",
)  # fmt: skip
REPORTS = (*WINDOWED_REPORTS, "experiments", "cohorts", "recommendations", "forecasts")
#: The windows a windowed report may have, in days.
REPORT_DAYS = (7, 30, 90)


class HistoryUnavailable(ConnectionError):
    """The database could not be read now."""


class UnknownReport(LookupError):
    """No report of that name."""


class History:
    """Reads of the history kept in PostgreSQL."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or database_engine(settings)

    def decisions(
        self, user_id: str, trigger_id: str | None = None, limit: int = 20
    ) -> list[DecisionView]:
        """Return the user's latest decisions (of one trigger, if given), newest first."""
        query = select(TriggerEvent).where(TriggerEvent.user_id == user_id)
        if trigger_id is not None:
            query = query.where(TriggerEvent.trigger_id == trigger_id)
        query = query.order_by(desc(TriggerEvent.occurred_at), desc(TriggerEvent.decision_id))
        rows = self._rows(query.limit(limit))
        return [
            DecisionView(
                decision_id=row.decision_id,
                trigger_id=row.trigger_id,
                outcome=row.outcome,
                reason=row.reason,
                detail=row.detail,
                occurred_at=row.occurred_at,
                event_type=row.event_type,
                features=row.features,
                command_ids=list(row.command_ids),
                experiment=row.experiment,
                variant=row.variant,
            )
            for row in rows
        ]

    def recommendations(self, user_id: str, limit: int = 20) -> list[Recommendation]:
        """Return the alerts recommended to the user, newest first."""
        query = (
            select(AlertRecommendationRow)
            .where(AlertRecommendationRow.user_id == user_id)
            .order_by(desc(AlertRecommendationRow.created_at))
            .limit(limit)
        )
        return [
            Recommendation(
                alert_type=row.alert_type,
                confidence=row.confidence,
                explanation=row.explanation,
                model_version=row.model_version,
                created_at=row.created_at,
            )
            for row in self._rows(query)
        ]

    def segment_members(self, segment_id: str) -> int:
        """Return how many users are in the segment now (0 if none ever joined)."""
        try:
            return read_sizes(self.engine).get(segment_id, 0)
        except SQLAlchemyError as exc:
            raise HistoryUnavailable(_why(exc)) from exc

    def report(
        self,
        name: str,
        *,
        days: int = 30,
        user: str | None = None,
        experiments: Sequence[ExperimentDefinition] = (),
        experiment: str | None = None,
    ) -> dict[str, Any]:
        """Return a report as ``nudge report NAME --json`` prints it.

        Raises:
            UnknownReport: No such report.
            ValueError: A window it does not take.
            HistoryUnavailable: The database cannot be read.
        """
        from sinks.reports import build as reports  # noqa: PLC0415 - reports load lazily
        from sinks.reports.cohorts import build_cohorts  # noqa: PLC0415
        from sinks.reports.experiments import build_experiments  # noqa: PLC0415
        from sinks.reports.forecasts import build_forecasts  # noqa: PLC0415
        from sinks.reports.recommendations import build_recommendations  # noqa: PLC0415

        if name not in REPORTS:
            msg = f"no report {name!r}; there are {', '.join(REPORTS)}"
            raise UnknownReport(msg)
        if days not in REPORT_DAYS:
            msg = f"days must be one of {', '.join(map(str, REPORT_DAYS))}"
            raise ValueError(msg)
        try:
            if name == "experiments":
                made = build_experiments(
                    self.settings, experiment=experiment, definitions=experiments
                )
            elif name == "cohorts":
                made = build_cohorts(self.settings)
            elif name == "recommendations":
                made = build_recommendations(self.settings)
            elif name == "forecasts":
                made = build_forecasts(self.settings, user)
            else:
                made = reports.build(self.settings, name, days)
        except reports.ReportError as exc:
            raise HistoryUnavailable(str(exc)) from exc
        document: dict[str, Any] = json.loads(reports.render_json(made))
        return document

    def _rows(self, query: Any) -> list[Any]:
        try:
            with self.engine.connect() as connection:
                return list(connection.execute(query))
        except SQLAlchemyError as exc:
            raise HistoryUnavailable(_why(exc)) from exc

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()


def _why(exc: SQLAlchemyError) -> str:
    """Say why the database could not be read, without the statement or its parameters."""
    return f"the database cannot be read now ({type(exc).__name__})"
