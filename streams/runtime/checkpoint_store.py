"""The global online models' checkpoints a worker holds, and what a global model must offer.

Every worker reads the whole of ``models.checkpoints`` (``streams.runtime.model_checkpoints``)
into a ``CheckpointStore``: for each key (``model/partition``) the checkpoint with the
highest ``sequence``. A message that is not a checkpoint, whose key is not its own
``model/partition``, of a model this worker does not know, or whose state the model
refuses (negative counts, wrong lengths) is refused: the store is unchanged, and the
caller counts and logs the reason. An older sequence than the one held is ignored (a late
copy); an equal sequence with different content replaces it, so every reader ends with
the message the topic's compaction keeps (the last written). A tombstone removes its key.

A ``GlobalModel`` is what the checkpointer writes and restores: it learns from the
results of its partitions' events, says which partitions learned something since their
last checkpoint, gives each one's state to write, and restores a partition from its
latest checkpoint when the worker starts processing it. No Kafka and no Faust here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import Any, Protocol

from pydantic import ValidationError

from schemas.learning import ModelCheckpoint, checkpoint_key
from streams.core.decisions.result import Result


class Offer(Enum):
    """What the store did with a message of ``models.checkpoints``."""

    KEPT = "kept"
    """The newest for its key now."""
    SAME = "same"
    """Nothing changed: the checkpoint held already (a worker's own, read back), or a
    tombstone of a key not held."""
    OLDER = "older"
    """An older sequence than the one held: ignored."""
    REMOVED = "removed"
    """A tombstone: the key's checkpoint is gone."""
    INVALID = "invalid"
    """Not a checkpoint (not JSON, a field missing or wrong, a negative partition...)."""
    KEY_MISMATCH = "key_mismatch"
    """The message key is not its own ``model/partition``."""
    UNKNOWN_MODEL = "unknown_model"
    """A model this worker does not checkpoint."""
    BAD_STATE = "bad_state"
    """The model refuses the state (``GlobalModel.check``)."""

    @property
    def refused(self) -> bool:
        """Whether the message was bad (counted and logged), not merely old."""
        return self in _REFUSALS


_REFUSALS = frozenset({Offer.INVALID, Offer.KEY_MISMATCH, Offer.UNKNOWN_MODEL, Offer.BAD_STATE})


class GlobalModel(Protocol):
    """A model global to the workers, learned per input partition and checkpointed.

    The checkpointer holds the stage's lock while it asks ``changed``, ``state`` and
    ``written``, so no event is learned in between.
    """

    @property
    def name(self) -> str:
        """The model's name in checkpoints (``schemas.learning.GLOBAL_MODELS``)."""
        ...

    def check(self, state: Mapping[str, Any]) -> None:
        """Raise ``ValueError``, ``TypeError`` or ``KeyError`` unless ``state`` is one of ours."""
        ...

    def learn(self, partition: int, result: Result) -> None:
        """Learn from what one event (or timer evaluation) of ``partition`` led to."""
        ...

    def changed(self) -> set[int]:
        """Return the partitions that learned something since their last checkpoint."""
        ...

    def state(self, partition: int, latest: ModelCheckpoint | None) -> tuple[dict[str, Any], int]:
        """Return the state to checkpoint for ``partition`` and its events in total.

        ``latest`` is the partition's newest checkpoint (this worker's last, or the
        previous owner's), ``None`` when it has none.
        """
        ...

    def written(self, partition: int) -> None:
        """Note that ``state(partition, ...)`` was checkpointed."""
        ...

    def restore(self, partition: int, latest: ModelCheckpoint | None) -> None:
        """Start ``partition`` from its newest checkpoint (``None``: from nothing)."""
        ...

    def forget(self, partition: int) -> None:
        """Drop what was learned for ``partition`` (no longer this worker's)."""
        ...


#: Checks a model's state: raises when it is not one (``GlobalModel.check``).
StateCheck = Callable[[Mapping[str, Any]], None]


class CheckpointStore:
    """The newest checkpoint per ``model/partition`` key, each checked before it is kept.

    Attributes:
        version: Grows with every change, so readers can tell when to rebuild.
    """

    def __init__(self, checks: Mapping[str, StateCheck]) -> None:
        """Keep checkpoints of the models in ``checks`` (name -> its state check)."""
        self._checks = dict(checks)
        self._latest: dict[str, ModelCheckpoint] = {}
        self._raw: dict[str, bytes] = {}
        self.version = 0

    def offer(self, key: bytes | None, value: bytes | None) -> Offer:
        """Take one message of ``models.checkpoints``; return what was done with it."""
        if value is None:
            return self._remove(key)
        checked = self._checked(key, value)
        if isinstance(checked, Offer):
            return checked
        name = checkpoint_key(checked.model, checked.partition)
        self._latest[name], self._raw[name] = checked, value
        self.version += 1
        return Offer.KEPT

    def _checked(self, key: bytes | None, value: bytes) -> ModelCheckpoint | Offer:
        """Return the checkpoint to keep, or why not (refused, older, the same)."""
        try:
            checkpoint = ModelCheckpoint.model_validate_json(value)
        except ValidationError:
            return Offer.INVALID
        name = checkpoint_key(checkpoint.model, checkpoint.partition)
        if _text(key) != name:
            return Offer.KEY_MISMATCH
        check = self._checks.get(checkpoint.model)
        if check is None:
            return Offer.UNKNOWN_MODEL
        held = self._latest.get(name)
        if held is not None and checkpoint.sequence < held.sequence:
            return Offer.OLDER
        if held is not None and checkpoint.sequence == held.sequence and value == self._raw[name]:
            return Offer.SAME
        try:
            check(checkpoint.state)
        except (ValueError, TypeError, KeyError):
            return Offer.BAD_STATE
        return checkpoint

    def _remove(self, key: bytes | None) -> Offer:
        """Apply a tombstone: the key's checkpoint is gone."""
        name = _text(key)
        if name is None:
            return Offer.KEY_MISMATCH
        if name not in self._latest:
            return Offer.SAME
        del self._latest[name], self._raw[name]
        self.version += 1
        return Offer.REMOVED

    def latest(self, model: str, partition: int) -> ModelCheckpoint | None:
        """Return the newest checkpoint of ``model`` for ``partition``, if any."""
        return self._latest.get(checkpoint_key(model, partition))

    def of_model(self, model: str) -> list[ModelCheckpoint]:
        """Return the newest checkpoint of every partition of ``model``, by partition."""
        found = [c for c in self._latest.values() if c.model == model]
        return sorted(found, key=lambda c: c.partition)

    def models(self) -> Iterable[str]:
        """Return the names of the models with any checkpoint held."""
        return sorted({c.model for c in self._latest.values()})


def _text(key: bytes | None) -> str | None:
    if key is None:
        return None
    try:
        return key.decode()
    except UnicodeDecodeError:
        return None
