"""``nudge experiments ...``: experiments on triggered flows, hot-reloaded by every worker.

``validate FILE`` checks a YAML file of ``experiments: [...]`` (no Kafka needed): each
definition, that it names a shipped trigger's channels and shipped templates, and prints the
sample size each arm needs. ``apply FILE`` checks the same against the triggers and
templates in force (shipped and applied, as workers see them), then publishes each
experiment on the definitions topic under ``experiment:<id>``; ``list`` prints the
experiments in force (and any the workers refuse); ``stop ID`` publishes the experiment as
stopped: nobody new is exposed, and the users already in it keep being credited
conversions until their windows close.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from schemas.experiments import EVERY_TRIGGER, ExperimentDefinition, Varies, validate_experiments
from schemas.settings import Settings
from streams.cli.analytics import in_force, publish_entries
from streams.cli.listed import add_actions, entry, print_refused, read_file

if TYPE_CHECKING:
    from schemas.triggers import TriggerDefinition
    from streams.core.rendering import Catalogue

_KEY = b"experiment:"


def register(subcommands: Any) -> None:
    """Add ``experiments`` to the ``nudge`` subcommands."""
    add_actions(
        subcommands, "experiments", "experiments on triggers (hot-reloaded)",
        file_actions={
            "validate": "check an experiments file and show the sample sizes (no Kafka needed)",
            "apply": "validate and publish an experiments file to every worker",
        },
        one=("stop", "stop exposing users to an experiment", "experiment_id"),
        run=run,
    )  # fmt: skip


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Dispatch ``nudge experiments ACTION``."""
    if args.action == "list":
        return asyncio.run(_list(settings))
    if args.action == "stop":
        return asyncio.run(_stop(settings, args.experiment_id))
    found = read_file(args.file, validate_experiments, "experiments")
    if isinstance(found, int):
        return found
    if args.action == "validate":
        problems = [p for d in found for p in catalogue_problems(d)]
    else:
        triggers, templates = asyncio.run(_in_force(settings))
        problems = [p for d in found for p in catalogue_problems(d, triggers, templates)]
    if problems:
        print("invalid experiments:\n  " + "\n  ".join(f"{args.file}: {p}" for p in problems))
        return 1
    for definition in found:
        print(summary(definition))
    if args.action == "validate":
        print(f"ok  {args.file}: {len(found)} experiments")
        return 0
    asyncio.run(publish_entries(settings, [entry(_KEY + d.id.encode(), d) for d in found]))
    print(
        f"applied {len(found)} experiments from {args.file}; workers use them from their next batch"
    )
    return 0


async def _in_force(settings: Settings) -> tuple[list[TriggerDefinition], Catalogue]:
    """Return the trigger definitions and the trigger templates every worker uses now."""
    from streams.runtime.definitions_feed import templates_in_force
    from streams.runtime.replay_input import definitions_in_force

    templates = (await templates_in_force(settings))[1]
    return (await definitions_in_force(settings, templates))[1], templates.triggers


def catalogue_problems(
    definition: ExperimentDefinition,
    triggers: Sequence[TriggerDefinition] | None = None,
    templates: Catalogue | None = None,
) -> list[str]:
    """Return what in ``definition`` the triggers and templates do not have.

    ``triggers`` and ``templates``: those to check against (the shipped ones if ``None``).
    """
    from streams.core.rendering import default_catalogue
    from streams.core.triggers.catalogue import default_definitions

    if definition.trigger == EVERY_TRIGGER:
        return []
    known = default_definitions() if triggers is None else triggers
    trigger = next((t for t in known if t.id == definition.trigger), None)
    problems = []
    templates = default_catalogue() if templates is None else templates
    for variant in definition.variants:
        for channel, template in variant.templates.items():
            if not templates.has(template):
                problems.append(f"{definition.id}.{variant.id}: unknown template {template!r}")
            if trigger is not None and channel not in {c.channel for c in trigger.channels}:
                problems.append(
                    f"{definition.id}.{variant.id}: {trigger.id} does not send on {channel.value}"
                )
        if definition.varies is Varies.CHANNEL and trigger is not None:
            missing = set(variant.channels) - {c.channel for c in trigger.channels}
            if missing:
                names = ", ".join(sorted(c.value for c in missing))
                problems.append(f"{definition.id}.{variant.id}: {trigger.id} has no {names}")
    return problems


def summary(definition: ExperimentDefinition) -> str:
    """Return one line per experiment: what it varies, its arms and the sample each needs."""
    from sinks.statistics import required_sample_size

    try:
        needed = required_sample_size(
            definition.baseline_rate,
            definition.minimum_detectable_effect,
            alpha=definition.alpha,
            power=definition.power,
        )
        sample = f"{needed:,} users per arm"
    except ValueError as error:
        sample = f"no sample size: {error}"
    arms = ", ".join(
        f"{v.id}{' (control)' if v.control else ''} {v.weight:g}" for v in definition.variants
    )
    return (
        f"{definition.id}: {definition.trigger} varies {definition.varies.value}; arms {arms}; "
        f"primary metric {definition.metrics[0].name}; needs {sample} to detect "
        f"+{definition.minimum_detectable_effect * 100:g} points over a "
        f"{definition.baseline_rate:.0%} baseline (power {definition.power:.0%}, "
        f"alpha {definition.alpha:g})"
    )


async def _stop(settings: Settings, experiment_id: str) -> int:
    applied, _ = await in_force(settings)
    definition = applied.analytics.experiments.definitions.get(experiment_id)
    if definition is None:
        print(f"no experiment {experiment_id!r} in force")
        return 1
    stopped = definition.model_copy(update={"status": "stopped"})
    await publish_entries(settings, [entry(_KEY + experiment_id.encode(), stopped)])
    print(f"stopped experiment {experiment_id}; conversions of its users are still credited")
    return 0


async def _list(settings: Settings) -> int:
    applied, entries = await in_force(settings)
    for d in applied.analytics.experiments.definitions.values():
        source = "applied" if _KEY + d.id.encode() in entries else "setting"
        arms = "/".join(v.id for v in d.variants)
        print(f"{d.id:28} {d.status:8} {source:8} {d.trigger:24} {d.varies.value:9} {arms}")
    print_refused(applied.refused, _KEY)
    return 0
