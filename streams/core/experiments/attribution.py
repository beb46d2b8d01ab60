"""Crediting conversions to arms, in the stream: once per user, experiment and metric.

A user exposed to an experiment (``streams.core.experiments.arms``) converts on a metric
with the first event, after their first exposure and within the metric's window, that the
metric counts: an event of one of its ``events`` types, or a ``comms_outcome`` of one of
its ``outcomes`` on a message the experiment sent them. The record marks the metric
converted (a bit in the user's entry), so a replayed or later event is not credited again;
the ``ExperimentConversion``'s id is derived from experiment, user and metric too.

A stopped experiment still credits conversions of the users it exposed before, until
their windows close. An experiment taken out of force is forgotten (its entry dropped at
the user's next conversion check).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.events import CommsOutcome, Event
from schemas.experiments import ExperimentConversion, ExperimentDefinition, Metric
from schemas.ids import conversion_id
from streams.core.experiments.arms import fingerprint
from streams.core.state.record import UserState
from streams.core.state.studies import Experiments


def attribute(
    state: UserState, event: Event, experiments: Experiments
) -> list[ExperimentConversion]:
    """Credit ``event`` to the arms of the user's experiments it converts; mark them.

    Args:
        state: The user's record; converted metrics are marked in it.
        event: An event just applied to the record (fresh or late).
        experiments: The experiments in force.
    """
    if not state.experiments or event.type not in experiments.conversion_types:
        return []
    credited = []
    at = event.occurred_at.timestamp()
    for experiment_id, entry in list(state.experiments.items()):
        experiment = experiments.definitions.get(experiment_id)
        if experiment is None:
            del state.experiments[experiment_id]
            continue
        exposed_at = entry[1]
        for index, metric in enumerate(experiment.metrics):
            if entry[2] >> index & 1 or not exposed_at <= at <= exposed_at + metric.window:
                continue
            if not _counts(metric, event, entry):
                continue
            entry[2] |= 1 << index
            credited.append(_conversion(experiment, entry, metric, event))
    return credited


def _counts(metric: Metric, event: Event, entry: list[Any]) -> bool:
    """Whether ``event`` is a conversion of ``metric`` for this user's entry."""
    if event.type in metric.events:
        return True
    payload = event.payload
    if not isinstance(payload, CommsOutcome) or payload.outcome not in metric.outcomes:
        return False
    sent = entry[3] if len(entry) > 3 else []  # noqa: PLR2004 - [variant, at, bits, commands]
    return fingerprint(payload.command_id) in sent


def _conversion(
    experiment: ExperimentDefinition, entry: list[Any], metric: Metric, event: Event
) -> ExperimentConversion:
    value = None
    if metric.value:
        amount = getattr(event.payload, "amount", None) or getattr(event.payload, "value", None)
        value = float(amount) if amount is not None else None
    return ExperimentConversion(
        message_id=conversion_id(experiment.id, event.user_id, metric.name),
        experiment_id=experiment.id,
        variant=str(entry[0]),
        user_id=event.user_id,
        metric=metric.name,
        converted_at=event.occurred_at,
        exposed_at=datetime.fromtimestamp(float(entry[1]), UTC),
        source_event_id=event.event_id,
        event_type=event.type,
        value=value,
    )
