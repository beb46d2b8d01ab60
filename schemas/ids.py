"""Deterministic identities for everything Nudge emits.

An id is derived from what caused the message, so reprocessing the same input after a
crash or a rebalance reproduces the same id. Sinks insert idempotently on it and
notification services deduplicate on it.
"""

from __future__ import annotations

import uuid

#: Fixed namespace for Nudge's UUIDv5 ids. Changing it would break deduplication.
NUDGE_NAMESPACE = uuid.UUID("6f1d3c2e-8a4b-5c7d-9e0f-1a2b3c4d5e6f")


def derived_id(kind: str, *parts: str) -> str:
    """Return a UUIDv5 over ``kind`` and ``parts``, as text.

    Args:
        kind: What is identified (``decision``, ``command``, ``dead_letter``...).
        *parts: The causes, in a fixed order.
    """
    return str(uuid.uuid5(NUDGE_NAMESPACE, "\x1f".join((kind, *parts))))


def decision_id(trigger_id: str, user_id: str, cause: str) -> str:
    """Id of the decision a trigger made for a user because of ``cause`` (event id or bucket)."""
    return derived_id("decision", trigger_id, user_id, cause)


def command_id(trigger_id: str, user_id: str, cause: str, channel: str) -> str:
    """Id of the command a firing sends on one channel."""
    return derived_id("command", trigger_id, user_id, cause, channel)


def dead_letter_id(topic: str, partition: int, offset: int) -> str:
    """Id of the dead letter for the message at ``topic``/``partition``/``offset``."""
    return derived_id("dead_letter", topic, str(partition), str(offset))


def assignment_id(experiment_id: str, user_id: str) -> str:
    """Id of a user's assignment to an experiment's arm: one per user and experiment."""
    return derived_id("assignment", experiment_id, user_id)


def conversion_id(experiment_id: str, user_id: str, metric: str) -> str:
    """Id of the conversion credited to a user's arm: one per user, experiment and metric."""
    return derived_id("conversion", experiment_id, user_id, metric)


def funnel_step_id(funnel_id: str, user_id: str, entered_at: int, step: int, kind: str) -> str:
    """Id of a funnel step row: the funnel, the user, the run (when it began), step, kind."""
    return derived_id("funnel_step", funnel_id, user_id, str(entered_at), str(step), kind)


def alert_profile_id(user_id: str, cause: str) -> str:
    """Id of a user's alert profile published because of ``cause`` (an event id)."""
    return derived_id("alert_profile", user_id, cause)


def recommendation_id(user_id: str, alert_type: str, model_version: int, cause: str) -> str:
    """Id of one alert recommended to a user by one model version because of ``cause``."""
    return derived_id("recommendation", user_id, alert_type, str(model_version), cause)
