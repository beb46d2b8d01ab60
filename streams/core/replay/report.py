"""The simulation's report as text: the window, then each trigger that moved."""

from __future__ import annotations

from typing import Any

from streams.core.replay.comparison import STATE_NOTE, Simulation, TriggerComparison
from streams.core.replay.replay import TriggerTally


def render(simulation: Simulation, examples: int, timing: dict[str, float]) -> str:
    """Return the report as text: the window, then each trigger that did anything."""
    window, history = simulation.window, simulation.history
    letters = sum(history.dead_letters.values())
    lines = [
        f"simulated {window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC"
        + (f" (warm-up from {window.folded_from:%Y-%m-%d %H:%M})" if window.warmup_seconds else ""),
        f"  {len(history.events) - history.warmup} events counted, {history.warmup} warm-up, "
        f"{history.outside} outside the window, {letters} dead letters skipped; "
        f"{timing['events_per_second']:.0f} events/s",
        f"  {STATE_NOTE}",
        f"  changed: {', '.join(simulation.changed) or 'nothing'}",
        "",
    ]
    same: list[str] = []
    for compared in simulation.triggers:
        if compared.changed or compared.differs:
            lines += _block(compared, examples)
        elif compared.live.fired_users or compared.live.suppressed:
            same.append(f"{compared.trigger_id} {len(compared.live.fired_users)}")
    if same:
        lines.append(f"the same under both (users fired): {', '.join(same)}")
    return "\n".join(lines)


def _block(compared: TriggerComparison, examples: int) -> list[str]:
    live, candidate = compared.live, compared.candidate
    mark = "*" if compared.changed else " "
    note = "changed" if compared.changed else "not changed, moved by the others"
    return [
        f"{mark} {compared.trigger_id} ({note})",
        f"    users       {len(live.fired_users)} -> {len(candidate.fired_users)}"
        f"   gained {_listed(compared.gained, examples)}   lost {_listed(compared.lost, examples)}",
        f"    firings     {live.firings} -> {candidate.firings}",
        f"    sends       {_pairs(live, candidate, 'sends')}",
        f"    suppressed  {_pairs(live, candidate, 'suppressed')}",
        "",
    ]


def _listed(users: list[str], examples: int) -> str:
    shown = ", ".join(users[:examples])
    more = f", +{len(users) - examples} more" if len(users) > examples else ""
    return f"{len(users)}" + (f" ({shown}{more})" if users and examples > 0 else "")


def _pairs(live: TriggerTally, candidate: TriggerTally, name: str) -> str:
    before: Any = getattr(live, name)
    after: Any = getattr(candidate, name)
    keys = sorted(before.keys() | after.keys())
    return ", ".join(f"{key} {before[key]} -> {after[key]}" for key in keys) or "none"
