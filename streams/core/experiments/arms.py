"""Which arm of which experiment a match puts the user in, and what that arm changes.

``arms_for`` reads the experiments in force and the user's record and returns the arms
(the ones the record keeps, or new allocations); it changes nothing. ``assign`` then
writes a new user's arm into the record, and ``assignment`` is its
``ExperimentAssignment``: once per user and experiment. ``varied`` returns the trigger
definition as the arm words, routes and times it.

The record keeps, per experiment the user was exposed to, ``[variant, exposed_at, converted
metrics (a bit each), command fingerprints]``: the last is kept only for experiments with
outcome metrics, to credit outcomes of the experiment's own messages
(``streams.core.experiments.attribution``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.experiments import (
    Allocation,
    ExperimentAssignment,
    ExperimentDefinition,
    Variant,
    Varies,
)
from schemas.ids import assignment_id
from schemas.triggers import TriggerDefinition
from streams.core.features.context import FeatureContext
from streams.core.segments.membership import member_of_any
from streams.core.state.record import UserState
from streams.core.state.studies import Experiments

#: Commands of an experiment with outcome metrics remembered per user (newest kept).
COMMANDS_KEPT = 4
#: Hash buckets an allocation is drawn from.
BUCKETS = 10_000


@dataclass(frozen=True, slots=True)
class Arm:
    """The arm a match puts the user in.

    Attributes:
        experiment: The experiment.
        variant: The arm.
        new: The record holds no assignment yet: this exposure assigns the user.
    """

    experiment: ExperimentDefinition
    variant: Variant
    new: bool


def arms_for(
    ctx: FeatureContext, definition: TriggerDefinition, experiments: Experiments
) -> list[Arm]:
    """Return the arms a match of ``definition`` exposes the user to (changes nothing).

    Every-trigger experiments come first (the global control group first of all), then
    the trigger's own. A stopped experiment, one outside its start and end, or one whose
    target the user is not in exposes nobody new, and keeps nobody's arm either: those
    users get the trigger's messages.
    """
    found = []
    for experiment in (*experiments.every_trigger, experiments.by_trigger.get(definition.id)):
        if experiment is None or not _open(experiment, ctx.at):
            continue
        arm = _arm(ctx, experiment)
        if arm is not None:
            found.append(arm)
    return found


def varied(
    definition: TriggerDefinition,
    variant: Variant,
    varies: Varies,
    known: Callable[[str], bool],
) -> TriggerDefinition:
    """Return ``definition`` as ``variant`` changes it (templates, channels or delay).

    ``known`` says whether a template exists: an arm's template that does not (``nudge
    experiments validate`` finds these) leaves that channel with the trigger's own.
    """
    if varies is Varies.TEMPLATE and variant.templates:
        channels = [
            c.model_copy(update={"template": variant.templates[c.channel]})
            if c.channel in variant.templates and known(variant.templates[c.channel])
            else c
            for c in definition.channels
        ]
        return definition.model_copy(update={"channels": channels})
    if varies is Varies.CHANNEL:
        kept = [c for c in definition.channels if c.channel in variant.channels]
        return definition.model_copy(update={"channels": kept or definition.channels})
    if varies is Varies.DELAY and variant.delay is not None:
        return definition.model_copy(update={"delay": variant.delay})
    return definition


def assignment(
    arm: Arm, user_id: str, trigger_id: str, decision: str, at: datetime
) -> ExperimentAssignment:
    """Return the message that records a new user's arm."""
    return ExperimentAssignment(
        message_id=assignment_id(arm.experiment.id, user_id),
        experiment_id=arm.experiment.id,
        variant=arm.variant.id,
        user_id=user_id,
        trigger_id=trigger_id,
        decision_id=decision,
        exposed_at=at,
    )


def assign(state: UserState, arm: Arm, at: float) -> None:
    """Write a new user's arm into the record (once: a kept arm is left as it is)."""
    experiment = arm.experiment
    if experiment.id in state.experiments:
        return
    entry: list[Any] = [arm.variant.id, int(at), 0]
    if any(m.outcomes for m in experiment.metrics):
        entry.append([])
    state.experiments[experiment.id] = entry


def note_commands(state: UserState, experiment_id: str, command_ids: list[str]) -> None:
    """Remember the experiment's commands the user got, for its outcome metrics."""
    entry = state.experiments.get(experiment_id)
    if entry is None or len(entry) < 4:  # noqa: PLR2004 - no outcome metric: nothing to keep
        return
    kept = [*entry[3], *(fingerprint(c) for c in command_ids)]
    entry[3] = kept[-COMMANDS_KEPT:]


def fingerprint(command_id: str) -> str:
    """Return the short form of a command id the record keeps."""
    return command_id.replace("-", "")[:12]


def _open(experiment: ExperimentDefinition, at: datetime) -> bool:
    return experiment.status == "running" and not (
        (experiment.starts is not None and at < experiment.starts)
        or (experiment.ends is not None and at >= experiment.ends)
    )


def _arm(ctx: FeatureContext, experiment: ExperimentDefinition) -> Arm | None:
    """Return the user's arm in one open experiment, or ``None`` when they are not in it."""
    kept = ctx.state.experiments.get(experiment.id)
    if kept is not None:
        variant = next((v for v in experiment.variants if v.id == kept[0]), None)
        return None if variant is None else Arm(experiment, variant, new=False)
    if experiment.target and not member_of_any(ctx.state, experiment.target):
        return None
    return Arm(experiment, _allocate(ctx, experiment), new=True)


def _allocate(ctx: FeatureContext, experiment: ExperimentDefinition) -> Variant:
    """Choose a new user's arm as the experiment's allocation says."""
    pool = experiment.variants
    if experiment.allocation is Allocation.SEGMENT:
        chosen = next(
            (v for v in pool if v.segments and member_of_any(ctx.state, v.segments)), None
        )
        if chosen is not None:
            return chosen
        pool = [v for v in pool if not v.segments]
    elif experiment.allocation is Allocation.BEHAVIOR:
        chosen = next((v for v in pool if ctx.state.pattern in v.patterns), None)
        if chosen is not None:
            return chosen
        pool = [v for v in pool if not v.patterns]
    salt = ctx.event.event_id if experiment.allocation is Allocation.RANDOM and ctx.event else ""
    return by_weight(pool, bucket(experiment.id, ctx.user_id, salt))


def bucket(experiment_id: str, user_id: str, salt: str = "") -> float:
    """Return a number in [0, 1) from a hash of experiment, user (and salt): stable everywhere."""
    return hash_bucket(experiment_id, user_id, salt) / BUCKETS


def hash_bucket(*parts: str) -> int:
    """Return the bucket (0 to ``BUCKETS`` - 1) of the SHA-256 of ``parts`` joined by ``:``.

    What every split of users by hash draws from: arms here, a trigger's inline holdout
    (``streams.core.decisions.eligibility``).
    """
    digest = hashlib.sha256(":".join(parts).encode()).digest()
    return int.from_bytes(digest[:4], "big") % BUCKETS


def by_weight(variants: list[Variant], point: float) -> Variant:
    """Return the arm whose share of [0, 1), by weight in order, holds ``point``."""
    total = sum(v.weight for v in variants)
    edge = 0.0
    for variant in variants:
        edge += variant.weight / total
        if point < edge:
            return variant
    return variants[-1]
