"""What a feature is computed from: the user's record, the event, and the record before it.

``FeatureContext`` computes each feature at most once per evaluation, with the functions
it is given (``streams.core.features.registry.COMPUTE``), so this module depends on none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.events import Event, Payload
from schemas.peers import PeerDistributions
from schemas.personalization import PersonalizationRule
from schemas.scores import ScoreModel
from streams.core.state.record import UserState

Value = float | str | bool | None

#: How one feature is computed from a context.
Feature = Callable[["FeatureContext"], Value]


@dataclass(frozen=True, slots=True)
class Before:
    """What the user's record said before the current event was folded in.

    ``changed_to`` compares against it; ``last_event_at`` is its watermark;
    ``savings_milestone_crossed`` against the goal milestones reached before.
    """

    watermark: float = 0.0
    profile: dict[str, Any] = field(default_factory=dict)
    goal_milestones: dict[str, int] = field(default_factory=dict)
    pattern: str | None = None

    @classmethod
    def of(cls, state: UserState) -> Before:
        """Snapshot the parts of ``state`` that features compare against."""
        return cls(
            watermark=state.watermark,
            profile=dict(state.profile),
            goal_milestones=dict(state.goal_milestones),
            pattern=state.pattern,
        )


@dataclass(slots=True)
class FeatureContext:
    """One evaluation's inputs, with each derived figure computed at most once.

    An event evaluates triggers at its own time; a schedule evaluates them with no event
    at the clock's time (``at``), and features of the event are then ``None``.
    """

    user_id: str
    state: UserState
    event: Event | None
    before: Before
    at: datetime
    """When the evaluation happens: the event's ``occurred_at``, or the scheduler's now."""
    compute: Mapping[str, Feature]
    """Feature name -> its function (``registry.COMPUTE``)."""
    score_model: ScoreModel | None = None
    """The behaviour scores' weights the record was scored with (the shipped ones if None)."""
    peers: PeerDistributions | None = None
    """The peer distributions in force (``schemas.peers``); ``None`` before a refresh."""
    personalization: PersonalizationRule | None = None
    """The personalization rule that applies to the user in this evaluation, once judged
    (``streams.core.segments.personalization``): its content fills the messages."""
    _cache: dict[str, Value] = field(default_factory=dict)

    @property
    def payload(self) -> Payload | None:
        """The event's payload, or ``None`` on a scheduled evaluation."""
        return None if self.event is None else self.event.payload

    def value(self, name: str) -> Value:
        """Return feature ``name`` (computed on first use)."""
        if name not in self._cache:
            self._cache[name] = self.compute[name](self)
        return self._cache[name]

    def previous(self, name: str) -> Value:
        """Return a profile feature's (or the pattern's) value before this event.

        ``changed_to`` compares against it.
        """
        if name == "pattern":
            return self.before.pattern
        value = self.before.profile.get(name)
        return value if isinstance(value, str | bool | float | int) else None


def format_value(value: Value, unit: str) -> str:
    """Format a feature value for people: ``$1,234.50``, ``34``, ``8.5`` (times).

    Percent, days, minutes and counts are whole numbers (a mean count keeps one decimal);
    a multiple keeps one decimal.
    """
    if isinstance(value, bool) or not isinstance(value, float | int):
        return str(value)
    if unit == "dollars":
        return f"${value:,.2f}"
    if unit == "count" and value != int(value):
        return f"{value:.1f}"  # a mean of counts (1.5 sessions a week), not rounded to 2
    if unit in ("percent", "days", "minutes", "count"):
        return f"{value:.0f}"
    if unit == "times":
        return f"{value:.1f}"
    return f"{value:g}"
