"""The demo's analytics tables: users per pattern, segment sizes, a few users' scores.

Read from PostgreSQL once the worker's timer has judged every user (its daily pass labels
users gone quiet) and the sink has caught up: the latest ``users.analytics`` snapshot per
user (the ``user_analytics`` view) and the live segments' membership (``segment_sizes``).
The scripted users are checked exactly: the lead stories must end ``high_intent`` and the
abandoned quote and the lapsed user ``at_risk`` (``Story.pattern``), nobody else may carry
those two labels, ``high_intent_leads`` holds exactly the high-intent users, and nobody is
``inactive_14d`` (every synthetic user spends every day). The other labels and segments
describe ordinary days and are shown without an exact expectation. Like
``streams.demo.run`` this is part of a composition root, so it may reach into ``sinks``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from schemas.patterns import PATTERN_LABELS
from schemas.settings import Settings
from streams.core.state.segment_tracks import default_segments
from streams.simulation.population import expected_patterns
from streams.simulation.synthetic import Persona

LEGEND = """\
expected: users whose script gives the label (lead stories: high_intent; an abandoned quote,
  a lapsed app user: at_risk), and nobody else; "-": ordinary days, no exact expectation.
  Labels and segments are the latest users.analytics snapshot and segment_members rows."""

#: A few users to show the scores of: one per story (or archetype) named here.
SHOWN = ("hot_lead", "stressed_applicant", "quote_dropout", "lapsed", "steady")


def print_analytics(settings: Settings, personas: list[Persona]) -> bool:
    """Print the three tables; return whether every scripted expectation held."""
    latest = _latest(settings)
    sizes = _sizes(settings)
    expected = expected_patterns(personas)
    expected_segments = {"high_intent_leads": expected["high_intent"], "inactive_14d": set()}
    ok = True
    _say("\nUsers per pattern (after the timer's daily pass):")
    _say(f"  {'pattern':20} {'users':>5} {'expected':>8} {'missed':>6} {'unexpected':>10}")
    by_label: dict[str, set[str]] = {}
    for user, row in latest.items():
        by_label.setdefault(row["pattern"] or "(none)", set()).add(user)
    for label in (*PATTERN_LABELS, "(none)"):
        got = by_label.get(label, set())
        want = expected.get(label)
        if want is None:
            _say(f"  {label:20} {len(got):>5} {'-':>8}")
            continue
        ok = ok and got == want
        _say(
            f"  {label:20} {len(got):>5} {len(want):>8} {len(want - got):>6} {len(got - want):>10}"
        )
    _say("\nLive segments (members now):")
    _say(f"  {'segment':24} {'members':>7} {'expected':>8}")
    members = _members(settings)
    for definition in default_segments().definitions:
        got = members.get(definition.id, set())
        want = expected_segments.get(definition.id)
        ok = ok and (want is None or got == want)
        shown = "-" if want is None else str(len(want))
        _say(f"  {definition.id:24} {sizes.get(definition.id, 0):>7} {shown:>8}")
    _scores(latest, personas)
    _say(LEGEND)
    _say(
        "Every scripted user has the expected pattern and segments."
        if ok
        else "MISMATCH in patterns or segments: see above."
    )
    return ok


def _scores(latest: dict[str, dict[str, Any]], personas: list[Persona]) -> None:
    _say("\nA few users' scores (0-100; conversion in %):")
    _say(
        f"  {'user':16} {'story':20} {'pattern':18} {'eng':>5} {'int':>5} {'intent':>6} "
        f"{'conv':>5} {'7d visits':>9}  segments"
    )
    for wanted in SHOWN:
        persona = next((p for p in personas if (p.story or p.archetype) == wanted), None)
        row = latest.get(persona.user_id) if persona is not None else None
        if persona is None or row is None:
            continue
        _say(
            f"  {persona.user_id:16} {wanted:20} {row['pattern'] or '-':18} "
            f"{row['engagement_score']:>5.1f} {row['interest_score']:>5.1f} "
            f"{row['intent_score']:>6.1f} {row['conversion_probability']:>5.1f} "
            f"{row['sessions_7d']:>9}  {', '.join(row['segments']) or '-'}"
        )


def query(settings: Settings, sql: str) -> list[dict[str, Any]]:
    """Return the rows of ``sql`` in the demo's database, as mappings."""
    from sinks.migrate import database_engine

    engine = database_engine(settings)
    try:
        with engine.connect() as connection:
            return [dict(row) for row in connection.execute(text(sql)).mappings()]
    finally:
        engine.dispose()


def _latest(settings: Settings) -> dict[str, dict[str, Any]]:
    rows = query(
        settings,
        "SELECT user_id, pattern, segments, engagement_score, interest_score, intent_score,"
        " conversion_probability, sessions_7d FROM user_analytics",
    )
    return {row["user_id"]: row for row in rows}


def _sizes(settings: Settings) -> dict[str, int]:
    rows = query(settings, "SELECT segment_id, members FROM segment_sizes")
    return {row["segment_id"]: int(row["members"]) for row in rows}


def _members(settings: Settings) -> dict[str, set[str]]:
    members: dict[str, set[str]] = {}
    for row in query(settings, "SELECT segment_id, user_id FROM segment_members"):
        members.setdefault(row["segment_id"], set()).add(row["user_id"])
    return members


def _say(line: str) -> None:
    print(line, flush=True)
