"""The demo's tuning step: ``nudge triggers simulate`` of a lowered spending-spike threshold.

What an operator would run before ``apply``: the shipped ``spending_spike`` with its
``spike_percent`` lowered from 20 to 5, replayed on the demo's last week of input (after
four weeks of warm-up, so the weekly baselines exist) against the definitions in force.
Nothing is published; the table says who would be told, who no longer would, and what
it costs in sends and suppressions.
"""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.settings import Settings
from schemas.triggers import TriggerDefinition

#: The trigger and the threshold the demo lowers, and to what.
TRIGGER, THRESHOLD, LOWERED = "spending_spike", "spike_percent", 5.0
#: The window reported on, and the warm-up before it (four weeks: the spike's baseline).
SINCE, WARMUP = "7d", "28d"


def lowered(definitions: list[TriggerDefinition]) -> TriggerDefinition:
    """Return the definition in force of ``TRIGGER`` with ``THRESHOLD`` lowered."""
    current = next(d for d in definitions if d.id == TRIGGER)
    return current.model_copy(update={"thresholds": {**current.thresholds, THRESHOLD: LOWERED}})


async def print_simulation(settings: Settings, *, examples: int = 3) -> bool:
    """Print the simulation of the lowered threshold; return whether it gains users.

    Call it at the end of the demo, once the worker has read the input (it reads the
    topics itself, by time, and changes nothing on them).
    """
    from streams.cli.definitions import changes, effective
    from streams.cli.simulate import Request, render, simulate_files, window_of

    definitions = (await effective(settings))[0]
    candidate = lowered(definitions)
    old = next(d for d in definitions if d.id == TRIGGER)
    print(f"\n$ nudge triggers simulate lower_spike.yaml --since {SINCE} --warmup {WARMUP}")
    for line in changes(old, candidate):
        print(f"  {line}")
    window = window_of(Request([], since=SINCE, warmup=WARMUP), datetime.now(UTC))
    simulation, timing = await simulate_files(settings, [candidate], window)
    print(render(simulation, examples, timing))
    [spike] = [t for t in simulation.triggers if t.trigger_id == TRIGGER]
    return bool(spike.gained)
