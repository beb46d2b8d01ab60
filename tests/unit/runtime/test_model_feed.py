"""The worker's side of a promoted model: loading it as promoted, serving it, its failures."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from models.artifacts import save
from models.features import AlertFeatures
from models.recommender import AlertRecommender
from schemas.alerts import ALERT_RECOMMENDER, AlertFeatureValues, AlertType, ModelPromotion
from streams.runtime import metrics
from streams.runtime.model_feed import load_promoted

SPENDER = AlertFeatures(5000, 500, 100, 10, 1, 5, 2, 0.2)
SMALL = AlertFeatures(100, 5, 1, 20, 3, 3, 1, 0.1)


def promoted(tmp_path: Path, sha: str | None = None) -> ModelPromotion:
    people = [SPENDER] * 5 + [SMALL] * 5
    labels = [{AlertType.HIGH_SPENDER}] * 5 + [{AlertType.HIGH_TX_VOLUME}] * 5
    artefact = save(AlertRecommender().fit(people, labels), tmp_path, name="m", version=3)
    return ModelPromotion(
        name=ALERT_RECOMMENDER, version=3, artefact=str(artefact.model_path),
        sha256=sha or artefact.sha256, promoted_at=datetime.now(UTC),
    )  # fmt: skip


def test_a_promoted_model_is_loaded_and_suggests_through_the_core_protocol(tmp_path: Path) -> None:
    model = load_promoted(promoted(tmp_path))
    assert (model.name, model.version) == (ALERT_RECOMMENDER, 3)
    values = AlertFeatureValues(
        **{
            k: float(v)
            for k, v in zip(AlertFeatures.__dataclass_fields__, SPENDER.vector(), strict=True)
        }
    )
    assert [s.alert_type for s in model.suggest(values, [])] == [AlertType.HIGH_SPENDER]
    assert model.suggest(values, [AlertType.HIGH_SPENDER]) == []


def test_a_promotion_naming_another_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="hash"):
        load_promoted(promoted(tmp_path, sha="0" * 64))


def test_a_model_that_raises_serves_nothing_and_is_counted(tmp_path: Path) -> None:
    model = load_promoted(promoted(tmp_path))
    broken = type(model)(model.name, model.version, None, model.features)  # type: ignore[arg-type]
    before = metrics.MODEL_ERRORS.labels(ALERT_RECOMMENDER)._value.get()
    values = AlertFeatureValues(**dict.fromkeys(AlertFeatures.__dataclass_fields__, 1.0))
    assert broken.suggest(values, []) == []
    assert metrics.MODEL_ERRORS.labels(ALERT_RECOMMENDER)._value.get() == before + 1


async def test_bad_promotions_are_refused_and_the_version_in_force_stays(tmp_path: Path) -> None:
    from schemas.settings import Settings
    from streams.runtime.model_feed import ModelFeed

    feed = ModelFeed(Settings())
    key = ALERT_RECOMMENDER.encode()
    feed.feed.entries[key] = promoted(tmp_path).model_dump_json().encode()
    await feed.refresh()
    assert feed.current is not None and feed.current.version == 3
    failures = metrics.MODEL_LOAD_FAILURES.labels(ALERT_RECOMMENDER)
    before = failures._value.get()
    other = tmp_path / "other"
    other.mkdir()
    (other / "m-v3.skops").write_bytes(b"PK\x03\x04 not a model")
    (other / "m-v3.json").write_bytes(b"{}")
    hostile = [
        b"not json",
        b"{}",
        promoted(tmp_path, sha="0" * 64).model_dump_json().encode(),  # the file is not it
        promoted(tmp_path).model_copy(update={"artefact": str(other / "m-v3.skops")})
        .model_dump_json().encode(),  # a file of garbage under the recorded hash's name
    ]  # fmt: skip
    for raw in hostile:
        feed.feed.entries[key] = raw
        await feed.refresh()
        assert feed.current.version == 3
    assert failures._value.get() == before + len(hostile)
    del feed.feed.entries[key]  # a tombstone: nothing to switch to, the model stays
    await feed.refresh()
    assert feed.current.version == 3
