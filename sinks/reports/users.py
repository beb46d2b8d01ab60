"""``nudge report users``: who is active, in which pattern, with which scores.

Over the latest analytics snapshot of each user (the view ``user_analytics``, migration
0008) whose last activity (``last_activity_at``) falls in the last ``days`` days, relative
to the database's clock: how many users have each pattern (``none``: no pattern yet) and
their average scores, then how many fall in each score band (0-20, 20-40, 40-60, 60-80,
80-100: a band holds its lower bound, the last one 100 too) for each of the four scores.
Limited to one pattern, the report also lists up to ``LISTED_USERS`` of its users, the most
recently active first. Unlike the other reports' windows this one is not a view: the
window filters the latest snapshots at query time, any number of days would do.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from schemas.patterns import PATTERN_LABELS
from sinks.reports.layout import Column, Section
from sinks.user_figures import NO_PATTERN, SCORES

#: Users listed when the report is limited to one pattern.
LISTED_USERS = 10
#: Width of a score band, in score points (five bands over 0-100).
BAND_WIDTH = 20

#: The users of the report: each one's latest snapshot, active in the window, and of
#: ``:pattern`` when it is not NULL. ``pattern`` is ``none`` for users without one.
ACTIVE = f"""
WITH active AS (
    SELECT user_id, coalesce(pattern, '{NO_PATTERN}') AS pattern, segments, last_activity_at,
           {", ".join(SCORES.values())}
    FROM user_analytics
    WHERE last_activity_at > now() - make_interval(days => :days)
      AND (CAST(:pattern AS text) IS NULL OR coalesce(pattern, '{NO_PATTERN}') = :pattern)
)
"""  # noqa: S608 (this module's constants; the values are bound parameters)

_ORDER = ", ".join(f"'{label}'" for label in PATTERN_LABELS)
PATTERNS = text(
    ACTIVE  # noqa: S608
    + "SELECT pattern, count(*) AS users, "
    + ", ".join(f"round(avg({c})::numeric, 1)::float8 AS {s}" for s, c in SCORES.items())
    + f" FROM active GROUP BY pattern ORDER BY array_position(ARRAY[{_ORDER}], pattern)"
    + f" NULLS LAST, pattern = '{NO_PATTERN}', pattern"
)

_BANDS = ", ".join(f"('{low}-{low + BAND_WIDTH}', {low})" for low in range(0, 100, BAND_WIDTH))
BANDS = text(
    ACTIVE  # noqa: S608
    + f", bands (band, low) AS (VALUES {_BANDS}) SELECT b.band, "
    + ", ".join(
        f"count(a.user_id) FILTER (WHERE least(floor(a.{column} / {BAND_WIDTH}), 4) * "
        f"{BAND_WIDTH} = b.low) AS {score}"
        for score, column in SCORES.items()
    )
    + " FROM bands AS b LEFT JOIN active AS a ON TRUE GROUP BY b.band, b.low ORDER BY b.low"
)

LISTED = text(
    ACTIVE  # noqa: S608
    + "SELECT user_id, "
    + ", ".join(f"{column} AS {score}" for score, column in SCORES.items())
    + ", segments, last_activity_at FROM active"
    + f" ORDER BY last_activity_at DESC, user_id LIMIT {LISTED_USERS}"
)

SCORE_COLUMNS = tuple(Column(score, score, "score") for score in SCORES)
AVERAGE_COLUMNS = tuple(Column(score, f"avg {score}", "score") for score in SCORES)
PATTERN_SECTION = ("patterns", "Active users by pattern")
PATTERN_COLUMNS = (Column("pattern", "pattern", "text"), Column("users", "users"))
BAND_SECTION = ("scores", "Active users by score band")
BAND_COLUMNS = (Column("band", "band", "text"), *(Column(s, s) for s in SCORES))
USER_SECTION = ("users", f"Most recently active users (up to {LISTED_USERS})")
USER_COLUMNS = (
    Column("user_id", "user", "text"),
    *SCORE_COLUMNS,
    Column("segments", "segments", "text"),
    Column("last_activity_at", "last activity", "time"),
)


def user_sections(connection: Connection, days: int, pattern: str | None) -> tuple[Section, ...]:
    """Return the report's sections, read on ``connection`` (one transaction, one ``now()``).

    Args:
        connection: In a transaction.
        days: The window: users whose last activity is less than this many days old.
        pattern: Only this pattern's users (``none``: those without one), listed too;
            ``None``: every user, none listed.
    """
    values = {"days": days, "pattern": pattern}

    def read(statement: Any) -> list[dict[str, Any]]:
        return [dict(row) for row in connection.execute(statement, values).mappings()]

    sections = [
        Section(*PATTERN_SECTION, (*PATTERN_COLUMNS, *AVERAGE_COLUMNS), read(PATTERNS)),
        Section(*BAND_SECTION, BAND_COLUMNS, read(BANDS)),
    ]
    if pattern is not None:
        sections.append(Section(*USER_SECTION, USER_COLUMNS, read(LISTED)))
    return tuple(sections)
