"""The online models' contract: their checkpoints, and the names of the global models.

Per-user model state lives in each user's record (``streams.core.state.record``): the
record's changelog is its checkpoint. What is global to the workers (the send-time prior)
is written at an interval to ``models.checkpoints`` (compacted, keyed ``model/partition``):
one message per model and input partition, with the counts that partition's events
contributed. A worker restores every partition's latest checkpoint at start and serves the
sum; the sink keeps each checkpoint in the registry (``model_checkpoints``), so the history
of a global model can be read and replayed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal[1] = 1

#: The population's sends and opens per local hour (``models.online.prior.HourCounts``).
SEND_TIME_PRIOR = "send_time_prior"
#: The global models a worker checkpoints, in the order it restores them. (The drift
#: detectors, ``models.drift``, watch one worker's flow and start again with it.)
GLOBAL_MODELS = (SEND_TIME_PRIOR,)


def checkpoint_key(model: str, partition: int) -> str:
    """Return the key of ``model``'s checkpoint for an input partition (``model/partition``)."""
    return f"{model}/{partition}"


class ModelCheckpoint(BaseModel):
    """One global model's state for one input partition, at a point in the stream.

    ``sequence`` grows with every checkpoint of the same key, so a consumer keeps the
    newest and ignores an older one delivered late. ``state`` is the model's own JSON
    (``HourCounts.to_dict`` for the prior).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    model: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{2,63}$")]
    partition: Annotated[int, Field(ge=0)]
    sequence: Annotated[int, Field(ge=1)]
    taken_at: AwareDatetime
    events: Annotated[int, Field(ge=0)]
    """Events of the partition the model has learned from, in total."""
    state: dict[str, Any]
