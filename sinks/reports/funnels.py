"""``nudge report funnel ID``: per step, who reached it, who went on, who dropped, how fast.

From the view ``funnel_step_summary`` (migration 0009), which counts users (each once per
step, whatever their runs through the funnel): users who **reached** each step (step 1
is entering), the share of the step before's users who did (**from previous**) and of
step 1's (**from step 1**), how many of the step before's users did not (**drop-off**,
and its share), the users whose window closed at this step (**dropped here**), the
completions (the last step), and the median and 90th percentile of the time from the
step before. Over every step row stored, whenever it happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

from schemas.settings import Settings
from sinks.reports.build import read_sections
from sinks.reports.layout import Column, Report, Section

STEPS = text(
    "SELECT step, step_name, reached, completed, dropped, median_seconds_from_previous,"
    " p90_seconds_from_previous FROM funnel_step_summary WHERE funnel_id = :funnel"
    " ORDER BY step"
)
FUNNELS = text("SELECT DISTINCT funnel_id FROM funnel_step_summary ORDER BY funnel_id")

COLUMNS = (
    Column("step", "step"),
    Column("step_name", "name", "text"),
    Column("reached", "reached"),
    Column("from_previous", "from previous", "rate"),
    Column("from_first", "from step 1", "rate"),
    Column("drop_off", "drop-off"),
    Column("drop_off_rate", "drop-off rate", "rate"),
    Column("dropped", "dropped here"),
    Column("completed", "completed"),
    Column("median_seconds_from_previous", "median time", "seconds"),
    Column("p90_seconds_from_previous", "p90 time", "seconds"),
)


def funnel_report(steps: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the report's rows from the view's rows of one funnel, in step order (no I/O).

    Shares without a denominator (nobody at the step before) are ``None``; step 1 has no
    step before: its drop-off and shares from the step before are ``None`` too.
    """
    rows = []
    first = steps[0]["reached"] if steps else 0
    previous: int | None = None
    for step in steps:
        reached = int(step["reached"])
        rows.append(
            {
                "step": step["step"],
                "step_name": step["step_name"],
                "reached": reached,
                "from_previous": _share(reached, previous),
                "from_first": _share(reached, first),
                "drop_off": None if previous is None else previous - reached,
                "drop_off_rate": None if previous is None else _lost(reached, previous),
                "dropped": int(step["dropped"]),
                "completed": int(step["completed"]),
                "median_seconds_from_previous": step["median_seconds_from_previous"],
                "p90_seconds_from_previous": step["p90_seconds_from_previous"],
            }
        )
        previous = reached
    return rows


def _share(part: int, whole: int | None) -> float | None:
    return part / whole if whole else None


def _lost(reached: int, previous: int) -> float | None:
    share = _share(reached, previous)
    return None if share is None else 1 - share


def funnel_sections(connection: Connection, funnel_id: str) -> tuple[Section, ...]:
    """Read one funnel's steps on ``connection``; the rows are ``funnel_report``'s.

    Raises:
        UnknownFunnel: No step of the funnel is stored.
    """
    found = [dict(row) for row in connection.execute(STEPS, {"funnel": funnel_id}).mappings()]
    if not found:
        known = list(connection.scalars(FUNNELS))
        raise UnknownFunnel(funnel_id, known)
    return (Section("steps", f"Funnel {funnel_id}", COLUMNS, funnel_report(found)),)


class UnknownFunnel(LookupError):
    """The database holds no step of the funnel asked for."""

    def __init__(self, funnel_id: str, known: list[str]) -> None:
        listed = ", ".join(known) if known else "none yet"
        super().__init__(f"no steps of funnel {funnel_id!r} stored (funnels with steps: {listed})")


def build_funnel(settings: Settings, funnel_id: str) -> Report:
    """Read the report of one funnel from the database (``funnel_sections``).

    Raises:
        ReportError: The database cannot be reached or has no reporting views.
        UnknownFunnel: No step of the funnel is stored.
    """
    generated_at, sections = read_sections(
        settings, lambda connection: funnel_sections(connection, funnel_id)
    )
    return Report("funnel", None, generated_at, sections, options={"funnel_id": funnel_id})
