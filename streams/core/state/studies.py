"""The experiments and funnels in force, indexed for the hot path (and their shipped sets).

Kept with the rest of the analytics data (``streams.core.state.analytics``); the core that
uses them is in ``streams.core.experiments`` and ``streams.core.funnels``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from schemas.experiments import (
    EVERY_TRIGGER,
    GLOBAL_CONTROL_ID,
    ExperimentDefinition,
    Varies,
    validate_experiments,
)
from schemas.funnels import FunnelDefinition, validate_funnels
from streams.core.state.shipped import shipped


@dataclass(frozen=True, slots=True)
class Experiments:
    """The experiments in force, indexed for the hot path.

    Attributes:
        definitions: Every definition in force (running or stopped), by id.
        by_trigger: Trigger id -> the running experiment on it.
        every_trigger: Running experiments on every trigger (the global control first).
        conversion_types: Event types some metric counts (``comms_outcome`` for outcomes).
        global_control: The global control group (a setting, not data on the topic).
    """

    definitions: dict[str, ExperimentDefinition] = field(default_factory=dict)
    by_trigger: dict[str, ExperimentDefinition] = field(default_factory=dict)
    every_trigger: tuple[ExperimentDefinition, ...] = ()
    conversion_types: frozenset[str] = frozenset()
    global_control: ExperimentDefinition | None = None

    @classmethod
    def of(
        cls,
        definitions: tuple[ExperimentDefinition, ...],
        global_control: ExperimentDefinition | None = None,
    ) -> Experiments:
        """Index ``definitions`` (and the global control group, when there is one).

        Two running experiments on one trigger: the first by id runs, the other is left
        out of ``by_trigger`` (``validate_experiments`` refuses such a set; the topic
        could still hold one, published one at a time).
        """
        everything = ((global_control,) if global_control else ()) + tuple(
            sorted(definitions, key=lambda d: d.id)
        )
        by_trigger: dict[str, ExperimentDefinition] = {}
        every: list[ExperimentDefinition] = []
        types: set[str] = set()
        for each in everything:
            for metric in each.metrics:
                types.update(metric.events)
                if metric.outcomes:
                    types.add("comms_outcome")
            if each.status != "running":
                continue
            if each.trigger == EVERY_TRIGGER:
                every.append(each)
            else:
                by_trigger.setdefault(each.trigger, each)
        return cls(
            {d.id: d for d in everything}, by_trigger, tuple(every), frozenset(types),
            global_control,
        )  # fmt: skip


@cache
def default_experiments() -> Experiments:
    """Return the shipped experiments (``streams/catalogue/experiments.yaml``), validated."""
    return Experiments.of(shipped("experiments.yaml", validate_experiments))


def global_control(percent: float, events: tuple[str, ...], window: float) -> ExperimentDefinition:
    """Return the global control group as an experiment on every trigger's messages.

    Args:
        percent: Share of users (0-100) who get no marketing message at all.
        events: The conversion events its lift is measured on.
        window: Attribution window after a user's first exposure (seconds).
    """
    return ExperimentDefinition.model_validate(
        {
            "id": GLOBAL_CONTROL_ID,
            "name": "Global control group",
            "hypothesis": "Nudge's messages, all together, raise conversion",
            "trigger": EVERY_TRIGGER,
            "varies": Varies.MESSAGE,
            "variants": [
                {"id": "control", "control": True, "message": False, "weight": percent},
                {"id": "messaged", "weight": 100.0 - percent},
            ],
            "metrics": [{"name": "conversion", "events": list(events), "window": window}],
        }
    )


@dataclass(frozen=True, slots=True)
class Funnels:
    """The funnels in force, and the event types any of their steps watch."""

    definitions: tuple[FunnelDefinition, ...] = ()
    by_id: dict[str, FunnelDefinition] = field(default_factory=dict)
    watched: frozenset[str] = frozenset()
    entering: frozenset[str] = frozenset()
    """Event types of the active funnels' first steps: who may enter."""

    @classmethod
    def of(cls, definitions: tuple[FunnelDefinition, ...]) -> Funnels:
        """Index ``definitions``."""
        return cls(
            definitions,
            {d.id: d for d in definitions},
            frozenset(step.event for d in definitions for step in d.steps),
            frozenset(d.steps[0].event for d in definitions if d.status == "active"),
        )


@cache
def default_funnels() -> Funnels:
    """Return the shipped funnels (``streams/catalogue/funnels.yaml``), validated."""
    return Funnels.of(shipped("funnels.yaml", validate_funnels))
