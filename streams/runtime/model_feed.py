"""The models in force: every worker follows ``models.active`` and switches without a restart.

``nudge models promote`` (and ``rollback``) publish a ``ModelPromotion`` keyed by model name
on the compacted ``models.active`` topic. Each worker reads the whole topic from the
beginning, as it reads the trigger definitions (``DefinitionsFeed``), and loads the
promoted version of the alert recommender: the artefact at the path the promotion names,
checked against its SHA-256 and for untrusted types (``models.artifacts``), in a thread so
the event loop keeps processing meanwhile. A version that cannot be loaded is refused,
logged and counted (``nudge_model_load_failures_total``), and the version in force stays:
a bad promotion never leaves users with no model, nor stops the worker. The worker's first
batch waits for the versions promoted before its start (``ready``), so a replay after a
restart serves what was served before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from schemas.alerts import ALERT_RECOMMENDER, AlertFeatureValues, AlertType, ModelPromotion
from schemas.settings import Settings
from schemas.topics import MODELS_ACTIVE
from streams.runtime import metrics
from streams.runtime.definitions_feed import DefinitionsFeed

if TYPE_CHECKING:  # scikit-learn and skops load when a model does, not with every worker
    from models.features import AlertFeatures
    from models.recommender import AlertRecommender, Recommendation

log = logging.getLogger(__name__)

#: How often the feed's entries are compared with the version loaded (seconds).
WATCH_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class ServedModel:
    """A loaded alert recommender, as the core asks for one (``AlertModel``)."""

    name: str
    version: int
    recommender: AlertRecommender
    features: type[AlertFeatures]
    """``models.features.AlertFeatures``, kept here so the module imports it only on load."""

    def suggest(
        self, features: AlertFeatureValues, enabled: Sequence[AlertType]
    ) -> Sequence[Recommendation]:
        """Return the recommender's alerts; none, counted and logged, if it raises."""
        try:
            return self.recommender.recommend(self.features(**features.model_dump()), enabled)
        except Exception as error:  # noqa: BLE001 - a model's bug must not cost the event
            metrics.MODEL_ERRORS.labels(self.name).inc()
            log.warning(
                "the model raised; the user is served nothing",
                extra={"model": self.name, "version": self.version,
                       "error": type(error).__name__},
            )  # fmt: skip
            return []


def load_promoted(promotion: ModelPromotion) -> ServedModel:
    """Load a promoted version (blocking: reads and checks the file).

    Raises:
        models.artifacts.ArtefactError: The file is missing, its hash differs, or it holds
            untrusted types (and whatever reading a damaged file raises).
    """
    from models.artifacts import Artefact, load  # noqa: PLC0415 - see ``ServedModel``
    from models.features import AlertFeatures  # noqa: PLC0415

    path = Path(promotion.artefact)
    artefact = Artefact(path, path.with_suffix(".json"), promotion.sha256)
    return ServedModel(promotion.name, promotion.version, load(artefact), AlertFeatures)


class ModelFeed:
    """Follows ``models.active``; ``current`` is the alert recommender in force, if any.

    Attributes:
        ready: Set once the promotions published before the start were read and the
            version they name loaded (or refused).
    """

    def __init__(self, settings: Settings) -> None:
        self.feed = DefinitionsFeed(
            settings, MODELS_ACTIVE, noun="model promotion", key_name="model"
        )
        self.current: ServedModel | None = None
        self.ready = asyncio.Event()
        self._seen: bytes | None = None
        # Born at zero, so dashboards and alerts see them before anything happens.
        metrics.MODEL_VERSION.labels(ALERT_RECOMMENDER).set(0)
        metrics.MODEL_LOAD_FAILURES.labels(ALERT_RECOMMENDER)
        metrics.MODEL_ERRORS.labels(ALERT_RECOMMENDER)
        for alert in AlertType:
            metrics.ALERT_RECOMMENDATIONS.labels(alert.value)

    async def run(self) -> None:
        """Follow the topic and load each new promotion, until cancelled."""
        follow = asyncio.create_task(self.feed.run())
        try:
            await self._watch(follow)
        finally:
            follow.cancel()
            await asyncio.gather(follow, return_exceptions=True)

    async def _watch(self, follow: asyncio.Task[None]) -> None:
        while True:
            ready = asyncio.ensure_future(self.feed.ready.wait())
            await asyncio.wait({follow, ready}, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            if follow.done():
                follow.result()  # the feed died: raise what it raised
                return
            if self.feed.ready.is_set():
                break
        while True:
            await self.refresh()
            self.ready.set()
            await asyncio.sleep(WATCH_SECONDS)
            if follow.done():
                follow.result()
                return

    async def refresh(self) -> None:
        """Load the promoted version if it is not the one loaded (or refused) already."""
        raw = self.feed.entries.get(ALERT_RECOMMENDER.encode())
        if raw is None or raw == self._seen:
            return
        self._seen = raw
        try:
            promotion = ModelPromotion.model_validate_json(raw)
            model = await asyncio.to_thread(load_promoted, promotion)
        except Exception as error:  # noqa: BLE001 - any bad file or message: refused, not fatal
            metrics.MODEL_LOAD_FAILURES.labels(ALERT_RECOMMENDER).inc()
            log.error(  # noqa: TRY400 - the reason is the message; no traceback wanted
                "a promoted model was refused; the version in force stays",
                extra={"model": ALERT_RECOMMENDER, "error": str(error)[:300],
                       "in_force": self.current.version if self.current else None},
            )  # fmt: skip
            return
        self.current = model
        metrics.MODEL_VERSION.labels(model.name).set(model.version)
        log.info("model in force", extra={"model": model.name, "version": model.version})
