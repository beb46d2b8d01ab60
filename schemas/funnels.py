"""Funnels as data: ordered steps a user goes through, and where they drop out.

A funnel is an id, a name, two to ten ordered steps and a window. A step is an event type
with optional conditions on the event's payload (``where: {category: pricing}``: each
named field equals the value, or is one of a list). A user **enters** the funnel with an
event that matches its first step, then **reaches** each next step with an event that
matches it, in order, within ``within`` of entering; reaching the last step **completes**
the funnel. When the window passes first, the user has **dropped** at the last step
reached (seen on their next event, or by the worker's timer), and may enter again.

Progress lives in the user's record (``streams.core.funnels``); each step reached,
completion and drop is a ``FunnelStep`` on ``funnels.steps``, kept by the sink
(``nudge report funnel NAME``). The last drop is a feature triggers can use
(``funnel_dropped``, ``funnel_dropped_step``, ``funnel_dropped_at``). Definitions travel on
the definitions topic under ``funnel:<id>`` (``nudge funnels apply``);
``streams/catalogue/funnels.yaml`` ships some.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from schemas.events import PAYLOADS
from schemas.triggers import Duration
from schemas.validation import validate_listed, validate_model

#: Most funnels in force: each is checked against every event.
MAX_FUNNELS_IN_FORCE = 16
#: Longest window of a funnel.
MAX_FUNNEL_WINDOW_SECONDS = 90 * 86_400.0

FunnelId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{2,63}$")]
Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(_Strict):
    """One step: an event type, and conditions on its payload."""

    event: str
    where: dict[str, Scalar | list[Scalar]] = {}
    """Payload field -> the value it must equal, or the list it must be one of."""
    name: Annotated[str, Field(max_length=64)] = ""
    """What reports call the step; the event type when not given."""

    @model_validator(mode="after")
    def _valid(self) -> Step:
        payload = PAYLOADS.get(self.event)
        if payload is None:
            msg = f"event: unknown event type {self.event!r}"
            raise ValueError(msg)
        for field in self.where:
            if field not in payload.model_fields or field == "type":
                known = ", ".join(sorted(set(payload.model_fields) - {"type"}))
                msg = f"where: {self.event} has no field {field!r} (it has {known})"
                raise ValueError(msg)
        return self

    @property
    def label(self) -> str:
        """The step's name in reports."""
        return self.name or self.event


class FunnelDefinition(_Strict):
    """One funnel."""

    id: FunnelId
    name: Annotated[str, Field(min_length=1, max_length=120)]
    status: Literal["active", "paused"] = "active"
    """``paused``: nobody enters or moves on; progress is kept until the window passes."""
    steps: Annotated[list[Step], Field(min_length=2, max_length=10)]
    within: Duration
    """From entering to completing."""

    @model_validator(mode="after")
    def _window(self) -> FunnelDefinition:
        if not 0 < self.within <= MAX_FUNNEL_WINDOW_SECONDS:
            msg = f"within: between 1s and {MAX_FUNNEL_WINDOW_SECONDS / 86_400:.0f} days"
            raise ValueError(msg)
        return self


class FunnelStep(BaseModel):
    """A user reached a step of a funnel, completed it, or dropped out (``funnels.steps``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    step_id: str
    """Derived from funnel, user, the run's start, step and kind: a replay repeats it."""
    funnel_id: str
    user_id: str
    kind: Literal["reached", "completed", "dropped"]
    """``reached`` step N (step 1 is entering); ``completed`` (also ``reached`` the last
    step); ``dropped`` at step N, the last reached, when the window passed."""
    step: Annotated[int, Field(ge=1, le=10)]
    step_name: str
    at: AwareDatetime
    """Event time of the step (for a drop: when the window closed)."""
    entered_at: AwareDatetime
    """When this run through the funnel began."""
    seconds_from_previous: Annotated[float, Field(ge=0)] | None = None
    """For ``reached`` beyond step 1: time since the step before."""
    source_event_id: str | None = None
    """The event; ``None`` for a drop the timer saw."""


def validate_funnel(document: Any) -> FunnelDefinition | list[str]:
    """Validate one funnel definition; return it, or its problems as ``path: reason``."""
    return validate_model(FunnelDefinition, document)


def validate_funnels(document: Any) -> tuple[FunnelDefinition, ...] | list[str]:
    """Validate a file's ``funnels:`` list; return the definitions, or every problem."""
    return validate_listed(document, "funnels", validate_funnel, MAX_FUNNELS_IN_FORCE)
