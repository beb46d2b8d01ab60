"""Users' figures for Prometheus: users per pattern and average scores, from ``user_analytics``.

``nudge_users_by_pattern{pattern}`` and ``nudge_average_score{score}`` are over the latest
snapshot of every user (the view ``user_analytics``, migration 0008), whenever it was
taken. They change only when a snapshot is stored, so the sink reads them at start-up and
again after a batch that stored a new snapshot, at most once every ``REFRESH_SECONDS``, in
the background (``sinks.refresh`` says how). One read is one pass over the history's index.

Every known pattern (``schemas.patterns.PATTERN_LABELS``) and ``none`` (a user with no web,
app or email activity yet) always has a series, at 0 when nobody has it, so a pattern
everyone left falls to 0; any other label the worker sends is shown while someone has it.
The averages have no series until there is a user.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, text

from schemas.patterns import PATTERN_LABELS
from sinks import metrics
from sinks.refresh import Refresh

#: Shortest time between two reads of the view, in seconds: a read passes over the whole
#: index of ``score_history``, too much for every batch; Prometheus scrapes every 15 s.
REFRESH_SECONDS = 15.0
#: The table whose new rows make the figures stale.
SCORE_HISTORY_TABLE = "score_history"
#: The ``pattern`` label of users without a pattern (``UserAnalytics.pattern`` is None).
NO_PATTERN = "none"
#: The ``score`` label -> the column it averages (the report's score bands use it too).
SCORES: dict[str, str] = {
    "engagement": "engagement_score",
    "interest": "interest_score",
    "intent": "intent_score",
    "conversion": "conversion_probability",
}
#: The patterns whose series always exist.
ALWAYS_SHOWN = frozenset({*PATTERN_LABELS, NO_PATTERN})

# Column names are this module's constants.
FIGURES = text(
    "SELECT coalesce(pattern, :none) AS pattern, count(*) AS users, "  # noqa: S608
    + ", ".join(f"sum({column}) AS {label}" for label, column in SCORES.items())
    + " FROM user_analytics GROUP BY 1"
).bindparams(none=NO_PATTERN)


@dataclass(frozen=True, slots=True)
class UserFigures:
    """Users per pattern, and each score's average over every user (empty: no users)."""

    users_by_pattern: dict[str, int] = field(default_factory=dict)
    average_scores: dict[str, float] = field(default_factory=dict)


def read_figures(engine: Engine) -> UserFigures:
    """Return users per pattern and average scores, from the view ``user_analytics``."""
    with engine.connect() as connection:
        found = list(connection.execute(FIGURES).mappings())
    users = sum(int(row["users"]) for row in found)
    averages = (
        {label: sum(float(row[label]) for row in found) / users for label in SCORES}
        if users
        else {}
    )
    return UserFigures({str(row["pattern"]): int(row["users"]) for row in found}, averages)


def publish_figures(figures: UserFigures, shown: set[str]) -> set[str]:
    """Set both gauges; drop the series of unknown patterns nobody has any more.

    Args:
        figures: What was read.
        shown: The patterns the gauge has series for (updated and returned).
    """
    patterns = {pattern: 0 for pattern in ALWAYS_SHOWN} | figures.users_by_pattern
    for pattern in shown - set(patterns):
        metrics.USERS_BY_PATTERN.remove(pattern)
    for pattern, users in patterns.items():
        metrics.USERS_BY_PATTERN.labels(pattern).set(users)
    for score, average in figures.average_scores.items():
        metrics.AVERAGE_SCORE.labels(score).set(average)
    return set(patterns)


class UserFiguresRefresh(Refresh[UserFigures]):
    """Decides when to read the users' figures again, reads them and sets the gauges.

    Args:
        engine: The sink's engine.
        interval: Shortest time between two reads, in seconds; ``None``: ``REFRESH_SECONDS``.
        clock: Monotonic seconds (``time.monotonic``; tests pass their own).
    """

    tables = frozenset({SCORE_HISTORY_TABLE})
    what = "users' figures"

    def default_interval(self) -> float:
        """Return ``REFRESH_SECONDS``."""
        return REFRESH_SECONDS

    def read(self, engine: Engine) -> UserFigures:
        """Return users per pattern and average scores (``read_figures``)."""
        return read_figures(engine)

    def publish(self, figures: UserFigures) -> None:
        """Set both gauges (``publish_figures``)."""
        self._shown = publish_figures(figures, self._shown)
