"""Commands Nudge emits for notification services: imperative, self-contained, idempotent.

A consumer acts on a command at ``send_at`` and deduplicates on ``command_id``: Nudge
processes input at least once and may emit the same command again after a failure, always
with the same id and the same content.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.events import Channel

COMMAND_SCHEMA_VERSION: Literal[1] = 1


class Priority(StrEnum):
    """How important a message is; arbitration keeps the highest."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for critical up to 3 for low: sort by it to put the most important first."""
        return _PRIORITY_RANK[self.value]


_PRIORITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = COMMAND_SCHEMA_VERSION
    command_id: str
    """Deterministic id (see ``schemas.ids``); deduplicate on it."""
    user_id: str
    decision_id: str
    """The decision record that explains why this command exists."""
    source_event_id: str | None
    """The event that caused it, or ``None`` when a timer did."""
    created_at: AwareDatetime
    """Event time of the cause (not wall-clock), so a replay reproduces it."""


class SendCommunication(_Command):
    """Send one rendered message to one user on one channel.

    Published on ``comms.commands`` as ``CommunicationCommand``.
    """

    kind: Literal["communication"] = "communication"
    trigger_id: str
    channel: Channel
    template_id: str
    template_version: int
    subject: str | None = None
    """Email subject or push title; ``None`` for SMS."""
    body: str
    variables: dict[str, str]
    """The values the template was rendered with (already escaped for the channel)."""
    priority: Priority
    send_at: AwareDatetime
    experiment: str | None = None
    variant: str | None = None
    reason: str
    """A sentence a support agent can read: why this user got this message."""


CommunicationCommand = SendCommunication


class InterventionType(StrEnum):
    """What kind of help a risk intervention offers."""

    PAYMENT_ASSISTANCE = "payment_assistance"
    FLEXIBLE_PAYMENT = "flexible_payment"
    PAYMENT_REMINDER = "payment_reminder"
    FINANCIAL_WELLNESS = "financial_wellness"


class RiskTrend(StrEnum):
    """Direction of the last five risk scores."""

    INCREASING = "increasing"
    STABLE_HIGH = "stable_high"
    DECREASING = "decreasing"
    STABLE_LOW = "stable_low"
    UNKNOWN = "unknown"
    """Fewer than two scores (the specification's rule): no intervention."""


class ChannelMessage(BaseModel):
    """One channel's rendering of an intervention."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: Channel
    subject: str | None = None
    body: str
    template_id: str | None = None
    """The template it was rendered from (``<message>.<channel>``): an intervention's
    messages name their template as a communication command does. Absent on commands
    written before they did."""
    template_version: int | None = None
    """That template's version (``streams/templates/interventions.yaml``)."""


class StartIntervention(_Command):
    """Start a risk intervention for a user (published on ``interventions.commands``)."""

    kind: Literal["intervention"] = "intervention"
    intervention_type: InterventionType
    urgency: Priority
    actions: Annotated[list[str], Field(min_length=1)]
    timeline: str
    """When to act, in words a case worker reads (``contact within 24 hours``)."""
    channels: list[Channel]
    messages: list[ChannelMessage]
    risk_score: Annotated[float, Field(ge=0, le=1)]
    risk_level: Literal["low", "medium", "high", "critical"]
    trend: RiskTrend
    drivers: list[str]


InterventionCommand = StartIntervention
