"""Saved models: read back the same, refused when altered or holding untrusted types."""

from __future__ import annotations

from pathlib import Path

import pytest
import skops.io as sio

from models.artifacts import Artefact, ArtefactError, load, save
from models.features import AlertFeatures
from models.recommender import AlertRecommender
from schemas.alerts import AlertType


def trained() -> AlertRecommender:
    users = [AlertFeatures(*(float(i + j) for j in range(8))) for i in range(6)]
    labels = [{AlertType.HIGH_SPENDER} if i % 2 else {AlertType.NEW_MERCHANT} for i in range(6)]
    return AlertRecommender(k=3, threshold=0.3).fit(users, labels)


def test_a_saved_model_recommends_what_it_did_before(tmp_path: Path) -> None:
    model = trained()
    artefact = save(model, tmp_path, name="alerts", version=3)
    again = load(artefact)
    query = AlertFeatures(*(2.5 + j for j in range(8)))
    assert again.recommend(query) == model.recommend(query) != []
    assert (again.k, again.threshold) == (3, 0.3)
    assert artefact.model_path.name == "alerts-v3.skops"


def test_an_altered_file_is_refused(tmp_path: Path) -> None:
    artefact = save(trained(), tmp_path, name="alerts", version=1)
    artefact.manifest_path.write_text(artefact.manifest_path.read_text().replace("0.3", "0.9"))
    with pytest.raises(ArtefactError, match="hash is not the one recorded"):
        load(artefact)


def test_a_file_holding_other_types_is_refused_even_with_its_hash(tmp_path: Path) -> None:
    artefact = save(trained(), tmp_path, name="alerts", version=1)
    sio.dump({"model": Path("/etc/passwd")}, artefact.model_path)  # a type skops won't trust
    from models.artifacts import _digest  # noqa: PLC0415 - recompute as an attacker would

    forged = Artefact(artefact.model_path, artefact.manifest_path, _digest(
        artefact.model_path, artefact.manifest_path
    ))  # fmt: skip
    with pytest.raises(ArtefactError, match="types not trusted"):
        load(forged)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    artefact = save(trained(), tmp_path, name="alerts", version=1)
    artefact.model_path.unlink()
    with pytest.raises(ArtefactError, match="cannot read"):
        load(artefact)
