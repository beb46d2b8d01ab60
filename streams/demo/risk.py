"""The demo's second half: risk interventions checked, outcomes simulated, the report.

``streams.demo.run`` calls these once the worker and the sink have caught up: the table of
interventions expected against those started (or held back), then a simulated
notification service (``streams.simulation.simulated_notifications``) reports outcomes
for every command, the demo waits until the sink has stored them all (polling
PostgreSQL, with a deadline), and
prints the effectiveness report that ``nudge report`` would.

Like ``streams.demo.run`` it is part of a composition root, so it may reach into ``sinks``.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from schemas.commands import InterventionType
from schemas.records import RISK_INTERVENTION_TRIGGER_ID, SuppressionReason
from schemas.settings import Settings
from schemas.topics import COMMS_COMMANDS, COMMS_OUTCOMES, INTERVENTIONS_COMMANDS

#: Longest the demo waits for the sink to store the simulated outcomes.
OUTCOMES_TIMEOUT_SECONDS = 60.0
#: The window of the report the demo prints, in days.
REPORT_DAYS = 7

LEGEND = """\
expected: users whose risk scores must start that intervention (or be held back for that
  reason); started: interventions on interventions.commands (held back: decisions on
  trigger.decisions); users of the other stories, scores easing, get nothing."""


@dataclass(frozen=True, slots=True)
class InterventionRow:
    """One line of the interventions table: a type, a reason one was held back, escalated."""

    kind: str
    expected: set[str]
    got: set[str]

    @property
    def missed(self) -> set[str]:
        """Expected users who did not get it."""
        return self.expected - self.got

    @property
    def unexpected(self) -> set[str]:
        """Users who got it without being expected."""
        return self.got - self.expected

    def line(self) -> str:
        """Format the row like ``HEADER``."""
        return (
            f"  {self.kind:34} {len(self.expected):>8} {len(self.got):>7} "
            f"{len(self.missed):>6} {len(self.unexpected):>10}"
        )


HEADER = f"  {'intervention':34} {'expected':>8} {'started':>7} {'missed':>6} {'unexpected':>10}"


def intervention_rows(
    expected: dict[str, set[str]], started: dict[str, set[str]], held: dict[str, set[str]]
) -> list[InterventionRow]:
    """Return one row per intervention type, then one per reason an intervention was held.

    Args:
        expected: Type or suppression reason -> users (``expected_interventions``).
        started: Type -> users an intervention started for.
        held: Decision reason -> users a risk decision gave it to: each reason it was held
            back, and ``escalated`` (started inside the cool-off).
    """
    types = [kind.value for kind in InterventionType]
    reasons = sorted((set(expected) | set(held)) - set(types))
    rows = [InterventionRow(k, expected.get(k, set()), started.get(k, set())) for k in types]
    rows += [
        InterventionRow(_reason_label(r), expected.get(r, set()), held.get(r, set()))
        for r in reasons
    ]
    return rows


def _reason_label(reason: str) -> str:
    if reason == SuppressionReason.ESCALATED.value:
        return "escalated inside the cool-off"
    return f"held back: {reason}"


def print_interventions(settings: Settings, expected: dict[str, set[str]]) -> bool:
    """Print the interventions table and one intervention's SMS; return whether it matched."""
    from sinks.reports.queries import intervention_users, recent_interventions, users_by_reason

    rows = intervention_rows(
        expected,
        intervention_users(settings),
        users_by_reason(settings, RISK_INTERVENTION_TRIGGER_ID),
    )
    _say("\nRisk interventions: users expected against users started or held back")
    _say(HEADER)
    for row in rows:
        _say(row.line())
    _say(LEGEND)
    flexible = [
        r
        for r in recent_interventions(settings, 50)
        if r["intervention_type"] == "flexible_payment"
    ]
    for record in flexible[:1]:
        sms = next((m for m in record["messages"] if m["channel"] == "sms"), None)
        if sms is not None:
            _say(f"\nAn intervention message [flexible_payment / sms] to {record['user_id']}")
            _say(
                f"  (risk {record['risk_score']:.2f}, {record['risk_level']}, "
                f"trend {record['trend']}):"
            )
            _say("    " + sms["body"])
    wrong = [row.kind for row in rows if row.missed or row.unexpected]
    if wrong:
        _say(f"\nMISMATCH for {', '.join(wrong)}: see above.")
    return not wrong


async def simulate_and_report(settings: Settings, *, seed: int) -> None:
    """Report outcomes for every command, wait until they are stored, print the report."""
    from sinks.reports.build import build, render_text
    from streams.simulation.simulated_notifications import read_commands, simulate_outcomes
    from streams.simulation.simulated_publisher import publish_events

    commands = await read_commands(settings, (COMMS_COMMANDS, INTERVENTIONS_COMMANDS))
    outcomes = simulate_outcomes(commands, now=datetime.now(UTC), seed=seed)
    await publish_events(settings, COMMS_OUTCOMES, outcomes)
    kinds = Counter(o["payload"]["outcome"] for o in outcomes)
    listing = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
    _say(
        f"\nA simulated notification service read {len(commands)} commands and reported "
        f"{len(outcomes)} outcomes:\n  {listing or 'none'}"
    )
    await _stored(settings, len(outcomes))
    effectiveness = build(settings, "effectiveness", REPORT_DAYS)
    triggers = [s for s in effectiveness.sections if s.key == "triggers"]
    # The templates section (a row per template and channel) is too wide and long here.
    report = replace(effectiveness, sections=tuple(triggers))
    _say("\nnudge report effectiveness (triggers only) and nudge report interventions:\n")
    _say(render_text(report))
    _say("")
    _say(render_text(build(settings, "interventions", REPORT_DAYS)))


async def _stored(settings: Settings, wanted: int) -> None:
    """Wait until the sink has stored ``wanted`` outcomes (polling, with a deadline)."""
    from sinks.reports.queries import stored_outcomes

    deadline = time.monotonic() + OUTCOMES_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        stored = await asyncio.to_thread(stored_outcomes, settings)
        if stored >= wanted:
            return
        await asyncio.sleep(0.5)
    msg = f"the sink did not store {wanted} outcomes within {OUTCOMES_TIMEOUT_SECONDS:.0f} s"
    raise RuntimeError(msg)


def _say(line: str) -> None:
    print(line, flush=True)


__all__ = ["HEADER", "intervention_rows", "print_interventions", "simulate_and_report"]
