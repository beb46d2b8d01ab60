"""Each user's way through the funnels in force, one event at a time.

The record keeps, per funnel the user is in, ``[steps reached, entered at, last step at]``
(epoch seconds), and the last drop as ``[funnel, step, at]`` for the ``funnel_dropped*``
features. ``advance`` moves the user on with an event and returns the ``FunnelStep`` rows
(reached, completed, dropped); ``expire`` ends the runs whose window has passed with no
event (the worker's timer). A run whose window has passed is also ended by the next event,
before that event is matched, so the event may start a new run.

Steps match in order: an event that matches a later step but not the next one is not
counted (the user skipped a step: funnels measure the path as defined). An event that
matches step 1 again while a run is open does not restart it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.events import Event
from schemas.funnels import FunnelDefinition, FunnelStep, Step
from schemas.ids import funnel_step_id
from streams.core.state.record import UserState
from streams.core.state.studies import Funnels


def advance(state: UserState, event: Event, funnels: Funnels) -> list[FunnelStep]:
    """Move the user through the funnels with ``event``; return the rows it makes.

    Args:
        state: The user's record; their runs are updated in it.
        event: An event just applied to the record.
        funnels: The funnels in force.
    """
    if not state.funnels and event.type not in funnels.entering:
        return []
    rows: list[FunnelStep] = []
    at = event.occurred_at.timestamp()
    if state.funnels:
        rows.extend(expire(state, at, funnels, event.user_id))
    if event.type not in funnels.watched:
        return rows
    for funnel in funnels.definitions:
        if funnel.status != "active":
            continue
        run = state.funnels.get(funnel.id)
        if run is None:
            if matches(funnel.steps[0], event):
                state.funnels[funnel.id] = [1, int(at), int(at)]
                rows.append(
                    _row(funnel, event.user_id, "reached", 1, at=at, entered=int(at), event=event)
                )
            continue
        done, entered, last = run
        if not matches(funnel.steps[done], event) or at < last:
            continue
        run[0], run[2] = done + 1, int(at)
        rows.append(
            _row(
                funnel, event.user_id, "reached", done + 1,
                at=at, entered=entered, event=event, gap=at - last,
            )
        )  # fmt: skip
        if done + 1 == len(funnel.steps):
            del state.funnels[funnel.id]
            rows.append(
                _row(
                    funnel, event.user_id, "completed", done + 1,
                    at=at, entered=entered, event=event,
                )
            )  # fmt: skip
    return rows


def expire(state: UserState, now: float, funnels: Funnels, user_id: str) -> list[FunnelStep]:
    """End the user's runs whose window closed before ``now``: each a ``dropped`` row.

    A run of a funnel no longer in force is forgotten without a row.
    """
    rows = []
    for funnel_id, (done, entered, _) in list(state.funnels.items()):
        funnel = funnels.by_id.get(funnel_id)
        if funnel is None:
            del state.funnels[funnel_id]
            continue
        closed = entered + funnel.within
        if now <= closed:
            continue
        del state.funnels[funnel_id]
        state.funnel_drop = [funnel_id, done, int(closed)]
        rows.append(_row(funnel, user_id, "dropped", done, at=closed, entered=entered, event=None))
    return rows


def matches(step: Step, event: Event) -> bool:
    """Whether ``event`` is of the step's type and its payload meets the step's conditions."""
    if event.type != step.event:
        return False
    payload = event.payload
    for name, wanted in step.where.items():
        actual = getattr(payload, name, None)
        actual = getattr(actual, "value", actual)  # enums compare by their value
        if isinstance(wanted, list):
            if actual not in wanted:
                return False
        elif actual != wanted:
            return False
    return True


def _row(  # noqa: PLR0913 - one row's fields
    funnel: FunnelDefinition,
    user_id: str,
    kind: str,
    step: int,
    *,
    at: float,
    entered: int,
    event: Event | None,
    gap: float | None = None,
) -> FunnelStep:
    return FunnelStep(
        step_id=funnel_step_id(funnel.id, user_id, entered, step, kind),
        funnel_id=funnel.id,
        user_id=user_id,
        kind=kind,
        step=step,
        step_name=funnel.steps[step - 1].label,
        at=datetime.fromtimestamp(at, UTC),
        entered_at=datetime.fromtimestamp(entered, UTC),
        seconds_from_previous=gap if kind == "reached" and step > 1 else None,
        source_event_id=event.event_id if event is not None else None,
    )
