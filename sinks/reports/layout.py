"""What a report is made of: columns, sections (tables) and the report (no I/O).

Apart from ``sinks.reports.build``, which reads and prints them, so that a report that is
not a set of views (``sinks.reports.users``) can make its sections too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Kind = Literal[
    "text",
    "count",
    "rate",
    "money",
    "prevented",
    "score",
    "time",
    "points",
    "change",
    "pvalue",
    "flag",
    "seconds",
]


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a printed table: the view column it shows and how.

    Attributes:
        key: The view's column name.
        header: What the table calls it.
        kind: ``text`` left-aligned (a list as its items, comma-separated); ``count``;
            ``rate`` as a percentage (``-`` without a denominator); ``money`` with two
            decimals; ``prevented``: a rate that is ``pending`` until a follow-up has
            ended; ``score``: 0-100 with one decimal; ``time`` in UTC, to the minute;
            ``points``: a difference of two rates in signed percentage points, and
            ``change`` a relative one as a signed percentage (either may be an interval,
            a pair); ``pvalue`` with four decimals; ``flag``: ``yes`` or nothing;
            ``seconds``: a duration, in its two largest units.
    """

    key: str
    header: str
    kind: Kind = "count"


@dataclass(frozen=True, slots=True)
class Section:
    """One table of a report: its rows (every view column) and the columns printed."""

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Report:
    """A report for one window (or none), as of the database's ``now()``.

    ``pattern`` is the one pattern a users report was limited to (``None``: every one);
    ``options`` what else a report was asked for (an experiment, a funnel, weeks), shown
    in its JSON.
    """

    name: str
    window_days: int | None
    generated_at: datetime
    sections: tuple[Section, ...]
    pattern: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
