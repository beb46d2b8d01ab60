"""The demo's behaviour-change table: what the timer told against what the events imply.

The expectation is counted from the events the demo published
(``streams.simulation.behavior_expectations``); the told changes are read from PostgreSQL
(the ``behavior_change`` column the sink fills). Like ``streams.demo.run`` this is part of
a composition root, so it may reach into ``sinks``.
"""

from __future__ import annotations

from datetime import datetime

from schemas.records import Activity
from schemas.settings import Settings
from streams.simulation.behavior_expectations import ActivityTally

LEGEND = """\
expected: users whose published events make that activity's last complete week rise by at
  least 100 % or fall by at least 50 % against the four weeks before (at least 5 events a
  week on average); told: behavior_change decisions in PostgreSQL. They send nothing."""

HEADER = (
    f"  {'activity':12} {'direction':9} {'expected':>8} {'told':>5} {'missed':>6} "
    f"{'unexpected':>10}"
)


def behavior_lines(
    expected: dict[tuple[str, str], set[str]], told: dict[tuple[str, str], set[str]]
) -> tuple[list[str], bool]:
    """Return the table's lines (every activity and direction) and whether all matched."""
    lines, ok = [], True
    for activity in Activity:
        for moved in ("rise", "fall"):
            want = expected.get((activity.value, moved), set())
            got = told.get((activity.value, moved), set())
            ok = ok and want == got
            lines.append(
                f"  {activity.value:12} {moved:9} {len(want):>8} {len(got):>5} "
                f"{len(want - got):>6} {len(got - want):>10}"
            )
    return lines, ok


def print_behavior_changes(settings: Settings, tally: ActivityTally, at: datetime) -> bool:
    """Print the table; return whether every expected change was told and no other."""
    from sinks.reports.queries import behavior_change_users

    lines, ok = behavior_lines(tally.expected(at), behavior_change_users(settings))
    _say("\nBehaviour changes judged by the timer (last complete week against the 4 before):")
    _say(HEADER)
    for line in lines:
        _say(line)
    _say(LEGEND)
    _say(
        "Every expected behaviour change was told and no other."
        if ok
        else "MISMATCH in behaviour changes: see above."
    )
    return ok


def _say(line: str) -> None:
    print(line, flush=True)
