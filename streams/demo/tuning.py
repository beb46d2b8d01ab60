"""The demo's tuning step: ``nudge triggers simulate`` of a lowered spending-spike threshold.

What an operator would run before ``apply``: the shipped ``spending_spike`` with its
``spike_percent`` lowered from 20 to 5, replayed on the demo's last week of input (after
four weeks of warm-up, so the weekly baselines exist) against the definitions in force.
Nothing is published; the table says who would be told, who no longer would, and what
it costs in sends and suppressions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.settings import Settings
from schemas.triggers import TriggerDefinition

#: The trigger and the threshold the demo lowers, and to what.
TRIGGER, THRESHOLD, LOWERED = "spending_spike", "spike_percent", 5.0
#: The window reported on, and the warm-up before it (four weeks: the spike's baseline).
#: The window, and a warm-up long enough to fold the demo's whole history first (140 days:
#: 100 days back to the 1st of a month), onboarding included: the users' consent to
#: financial messages is given there, and a replay that started after it would suppress
#: every spike as ``no_consent``.
SINCE, WARMUP = timedelta(days=7), timedelta(days=140)


def lowered(definitions: list[TriggerDefinition]) -> TriggerDefinition:
    """Return the definition in force of ``TRIGGER`` with ``THRESHOLD`` lowered."""
    current = next(d for d in definitions if d.id == TRIGGER)
    return current.model_copy(update={"thresholds": {**current.thresholds, THRESHOLD: LOWERED}})


async def print_simulation(settings: Settings, *, examples: int = 3) -> bool:
    """Print the simulation of the lowered threshold; return whether it gains users.

    Call it at the end of the demo, once the worker has read the input (it reads the
    topics itself, by time, and changes nothing on them).
    """
    from streams.core.replay import Window
    from streams.core.replay.report import render
    from streams.runtime.replay_input import definitions_in_force, simulate_files

    _, definitions = await definitions_in_force(settings)
    candidate = lowered(definitions)
    was = next(d for d in definitions if d.id == TRIGGER).thresholds[THRESHOLD]
    flags = f"--since {SINCE.days}d --warmup {WARMUP.days}d"
    print(f"\n$ nudge triggers simulate lower_spike.yaml {flags}")
    print(f"  (lower_spike.yaml: {TRIGGER} with {THRESHOLD} {was:g} -> {LOWERED:g})")
    end = datetime.now(UTC)
    window = Window(end - SINCE, end, WARMUP.total_seconds())
    simulation, timing = await simulate_files(settings, [candidate], window)
    print(render(simulation, examples, timing))
    [spike] = [t for t in simulation.triggers if t.trigger_id == TRIGGER]
    return bool(spike.gained)
