"""A trained recommender on disk, in a safe format, read back only if it is the one recorded.

One file per model version: the fitted scikit-learn pipeline (scaler and neighbours) in
skops' format, which rebuilds objects from a list of allowed types instead of unpickling
(nothing in the file can run code), next to a JSON manifest with the training users'
labels and the settings. ``save`` returns the SHA-256 of both bytes together; the registry
records it, and ``load`` refuses a file whose hash differs (replaced, truncated, another
version's) or that holds any type outside scikit-learn's and numpy's own.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import skops.io as sio

from models.recommender import AlertRecommender
from schemas.alerts import AlertType

#: What a model file may hold besides what skops trusts by default: none.
EXTRA_TRUSTED: list[str] = []


class ArtefactError(Exception):
    """A model file that must not be used: missing, altered, or holding unknown types."""


@dataclass(frozen=True, slots=True)
class Artefact:
    """Where a saved model is and the hash the registry keeps for it."""

    model_path: Path
    manifest_path: Path
    sha256: str


def save(recommender: AlertRecommender, directory: Path, *, name: str, version: int) -> Artefact:
    """Write ``recommender`` as ``<name>-v<version>.skops`` and ``.json`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / f"{name}-v{version}.skops"
    manifest_path = directory / f"{name}-v{version}.json"
    sio.dump(recommender.pipeline, model_path)
    manifest = {
        "name": name,
        "version": version,
        "k": recommender.k,
        "threshold": recommender.threshold,
        "labels": [sorted(a.value for a in labels) for labels in recommender.labels],
    }
    manifest_path.write_bytes(json.dumps(manifest, sort_keys=True).encode())
    return Artefact(model_path, manifest_path, _digest(model_path, manifest_path))


def load(artefact: Artefact) -> AlertRecommender:
    """Read a saved recommender back, after checking its hash and the types it holds.

    Raises:
        ArtefactError: A file is missing, the hash is not the recorded one, or the model
            file holds a type outside the trusted ones.
    """
    try:
        digest = _digest(artefact.model_path, artefact.manifest_path)
    except OSError as error:
        msg = f"cannot read the model files: {error}"
        raise ArtefactError(msg) from error
    if digest != artefact.sha256:
        msg = f"{artefact.model_path.name}: its hash is not the one recorded; not loaded"
        raise ArtefactError(msg)
    untrusted = [
        t for t in sio.get_untrusted_types(file=artefact.model_path) if t not in EXTRA_TRUSTED
    ]
    if untrusted:
        msg = f"{artefact.model_path.name}: holds types not trusted: {', '.join(untrusted)}"
        raise ArtefactError(msg)
    pipeline = sio.load(artefact.model_path, trusted=EXTRA_TRUSTED or None)
    manifest = json.loads(artefact.manifest_path.read_bytes())
    labels = [frozenset(AlertType(a) for a in each) for each in manifest["labels"]]
    return AlertRecommender.from_parts(
        pipeline, labels, k=int(manifest["k"]), threshold=float(manifest["threshold"])
    )


def _digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()
