"""The demo's tuning step changes one threshold of the trigger in force, nothing else."""

from __future__ import annotations

from streams.cli.definitions import changes
from streams.core.triggers.catalogue import default_definitions
from streams.demo.tuning import LOWERED, THRESHOLD, TRIGGER, lowered


def test_the_demo_lowers_one_threshold_of_the_trigger_in_force() -> None:
    definitions = list(default_definitions())
    before = next(d for d in definitions if d.id == TRIGGER)
    after = lowered(definitions)
    assert after.thresholds[THRESHOLD] == LOWERED < before.thresholds[THRESHOLD]
    assert changes(before, after) == [
        f"~ {TRIGGER}: thresholds.{THRESHOLD}: {before.thresholds[THRESHOLD]} -> {LOWERED}"
    ]  # one threshold, nothing else
