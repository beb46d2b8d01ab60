"""What the online models' integration tests share: test triggers, events, checkpoints read.

``PING`` sends an email on every ``page_view`` (no cooldown): each one is a send at the
event's local hour, which the user's send-time model and the population's prior count.
``BEST_TIME`` sends on ``feature_used`` at the user's best hour (``send_at: best_time``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from models.online.prior import HourCounts
from schemas.events import Event
from schemas.ids import command_id
from schemas.learning import SEND_TIME_PRIOR
from schemas.settings import Settings
from schemas.topics import MODELS_CHECKPOINTS
from schemas.triggers import TriggerDefinition
from streams.runtime.checkpoint_store import CheckpointStore
from streams.runtime.definitions_feed import DefinitionsFeed
from streams.runtime.send_time_prior import SendTimePrior, served_counts
from tests.unit.factories import event


def _email_on(trigger_id: str, event_type: str, **fields: object) -> TriggerDefinition:
    return TriggerDefinition.model_validate({
        "id": trigger_id, "name": trigger_id.replace("_", " "), "type": "behavioral",
        "category": "engagement", "evaluate_on": {"events": [event_type]},
        "condition": {"feature": "event_type", "eq": event_type}, "priority": "low",
        "channels": [{"channel": "email", "template": "spending_spike.email"}], **fields,
    })  # fmt: skip


PING = _email_on("test_ping", "page_view")
BEST_TIME = _email_on("test_best_time", "feature_used", send_at="best_time", max_delay="12h")


def page_view(user: str, at: datetime, event_id: str) -> Event:
    """A page view: ``PING`` sends an email at ``at``'s local hour."""
    return event(user, at, {"type": "page_view", "path": "/home"}, event_id=event_id)


def opened(user: str, at: datetime, cause: str, trigger: str = PING.id) -> Event:
    """The user opened the email ``trigger`` sent because of the event ``cause``."""
    payload = {
        "type": "comms_outcome", "command_id": command_id(trigger, user, cause, "email"),
        "outcome": "opened", "channel": "email",
    }  # fmt: skip
    return event(user, at, payload, event_id=f"{cause}-opened")


async def read_checkpoints(settings: Settings, timeout: float = 30.0) -> CheckpointStore:
    """Read ``models.checkpoints`` to its end as a worker does; return the newest per key."""
    store = CheckpointStore({SEND_TIME_PRIOR: SendTimePrior().check})
    feed = DefinitionsFeed(settings, MODELS_CHECKPOINTS, on_message=store.offer)
    task = asyncio.create_task(feed.run())
    try:
        await asyncio.wait_for(feed.ready.wait(), timeout)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return store


def prior_of(store: CheckpointStore) -> HourCounts:
    """Return the send-time prior the checkpoints in ``store`` add up to."""
    return served_counts(store.of_model(SEND_TIME_PRIOR))
