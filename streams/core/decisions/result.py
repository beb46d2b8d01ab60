"""What processing an event, or a tick of the clock, led to."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.alerts import AlertProfile, AlertRecommendation
from schemas.commands import SendCommunication, StartIntervention
from schemas.experiments import ExperimentAssignment, ExperimentConversion
from schemas.funnels import FunnelStep
from schemas.records import TriggerDecision
from schemas.segments import SegmentChange
from schemas.user_analytics import UserAnalytics


@dataclass(slots=True)
class Result:
    """What one event led to.

    Attributes:
        applied: False when the event was a duplicate and changed nothing.
        evaluated: False when the event was too old to evaluate triggers on.
        decisions: One per trigger whose condition held.
        commands: One per channel of each firing.
    """

    applied: bool = True
    evaluated: bool = True
    decisions: list[TriggerDecision] = field(default_factory=list)
    commands: list[SendCommunication] = field(default_factory=list)
    interventions: list[StartIntervention] = field(default_factory=list)
    held: int = 0
    """Commands of these decisions kept in the user's state for a later ``send_at``."""
    released: int = 0
    """The first this many ``commands`` were held earlier and are due now."""
    segment_changes: list[SegmentChange] = field(default_factory=list)
    """Live segments the user joined or left (``streams.core.segments``)."""
    assignments: list[ExperimentAssignment] = field(default_factory=list)
    """Users' first exposures to experiments: their arms (``streams.core.experiments``)."""
    conversions: list[ExperimentConversion] = field(default_factory=list)
    """Conversions credited to experiment arms."""
    funnel_steps: list[FunnelStep] = field(default_factory=list)
    """Funnel steps reached, completions and drops (``streams.core.funnels``)."""
    analytics: UserAnalytics | None = None
    """The user's scores, pattern and segments, when due (``streams.core.patterns.snapshot``)."""
    alert_profile: AlertProfile | None = None
    """The user's alert profile, when it changed materially (``streams.core.alerts``)."""
    recommendations: list[AlertRecommendation] = field(default_factory=list)
    """Alerts recommended to the user by the model in force."""
    sent_hours: list[int] = field(default_factory=list)
    """The local hour of each send decided (now or held): the send-time prior counts them."""
    opened_hours: list[int] = field(default_factory=list)
    """The hour of the send an open or click was credited to (``models.online.send_time``)."""
    anomaly_score: float | None = None
    """The debit's anomaly score (``models.online.anomaly``): the drift detectors watch it."""
    judged: bool = False
    """A scheduled evaluation marked a closed month judged, or a behaviour change told or
    ended (``state.evaluated``): the record must be stored."""

    @property
    def changed_state(self) -> bool:
        """Whether a scheduled evaluation or a release changed the user's record."""
        return bool(
            self.decisions or self.commands or self.segment_changes or self.funnel_steps
            or self.recommendations or self.judged
        )  # fmt: skip
