"""``nudge models train|list|promote|rollback|evaluate`` against the real database and broker.

Profiles and alert actions are inserted straight into the tables the sink fills; the
promotions are read back from ``models.active`` under this test's topic prefix.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, text
from sqlalchemy.pool import NullPool

from models.artifacts import Artefact, load
from schemas.alerts import ALERT_RECOMMENDER, ModelPromotion
from schemas.settings import Settings
from schemas.topics import MODELS_ACTIVE
from sinks.migrate import upgrade
from sinks.tables import AlertActionRow, AlertProfileRow
from streams.cli.main import build_parser
from tests.integration.harness import read_until

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def nudge(settings: Settings, *argv: str) -> int:
    args = build_parser().parse_args(["models", *argv])
    return int(args.run(settings, args))


def population(
    size: int, seed: int = 5, *, noisy: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Big spenders who watch spending and merchants; card users near their limit.

    Two in three chose alerts (one of them later switched one off again); the rest none.
    ``noisy``: they chose two alerts at random instead.
    """
    rng = random.Random(seed)
    profiles, actions = [], []
    for n in range(size):
        user, spender = f"user-{n:03}", n % 2 == 0
        features = {
            "total_amount": rng.uniform(2_000, 4_000) if spender else rng.uniform(50, 300),
            "average_transaction": rng.uniform(80, 120),
            "spending_volatility": rng.uniform(10, 30),
            "transaction_count": rng.uniform(20, 40) if spender else rng.uniform(2, 6),
            "transactions_per_day": rng.uniform(0.5, 1.5),
            "unique_merchants": rng.uniform(8, 14) if spender else rng.uniform(1, 3),
            "unique_categories": rng.uniform(2, 5),
            "credit_utilisation": rng.uniform(0, 0.2) if spender else rng.uniform(0.6, 0.95),
        }
        profiles.append({
            "user_id": user, "profile_id": f"p-{user}", "as_of": T0 + timedelta(minutes=n),
            "source_event_id": f"e-{user}", "features": features, "enabled": [],
        })  # fmt: skip
        if n % 3 == 0:
            continue
        chosen = ["high_spender", "high_merchant_diversity"] if spender else ["near_credit_limit"]
        if noisy:
            chosen = rng.sample(["high_spender", "new_merchant", "near_credit_limit"], 2)
        for i, alert in enumerate([*chosen, "location_based"]):
            actions.append({
                "user_id": user, "event_id": f"{user}-a{i}", "alert_type": alert,
                "occurred_at": T0 + timedelta(hours=i), "action": "enabled",
            })  # fmt: skip
        actions.append({
            "user_id": user, "event_id": f"{user}-off", "alert_type": "location_based",
            "occurred_at": T0 + timedelta(days=1), "action": "disabled",
        })  # fmt: skip
    return profiles, actions


def execute(settings: Settings, statement: Any, rows: Any = None) -> None:
    engine = create_engine(settings.database_url.get_secret_value(), poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(statement, rows)
    finally:
        engine.dispose()


async def promotions(settings: Settings, count: int) -> list[ModelPromotion]:
    records = await read_until(settings, MODELS_ACTIVE, lambda found: len(found) >= count)
    assert all(record.key == ALERT_RECOMMENDER.encode() for record in records)
    return [ModelPromotion.model_validate_json(record.value) for record in records]


@pytest.fixture
def settings(make_settings: Callable[..., Settings], tmp_path: Path) -> Settings:
    made = make_settings(models_dir=tmp_path / "models")
    upgrade(made)
    return made


def test_train_promote_list_rollback_and_evaluate(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert nudge(settings, "train") == 3  # nobody to learn from yet: said, not a traceback
    assert "cannot train alert_recommender: 0 users to train on" in capsys.readouterr().err
    profiles, actions = population(120)
    execute(settings, insert(AlertProfileRow), profiles)
    execute(settings, insert(AlertActionRow), actions)

    assert nudge(settings, "train", "--promote") == 0
    out = capsys.readouterr().out
    assert "alert_recommender v1, k = 5, threshold 0.40: trained on" in out
    assert "KNN beats popularity on precision@3" in out
    assert "alert_recommender v1 is active" in out and "published on models.active" in out

    assert nudge(settings, "train", "--promote") == 0  # the active one is new: nothing to do
    assert "not training (--force trains anyway)" in capsys.readouterr().out
    assert nudge(settings, "train", "--force") == 0  # a candidate, not promoted
    assert "v2" in capsys.readouterr().out
    assert nudge(settings, "promote", "2") == 0
    assert "v2 is active (v1 retired)" in capsys.readouterr().out
    assert nudge(settings, "rollback") == 0
    assert "v1 is active, v2 retired" in capsys.readouterr().out
    assert nudge(settings, "promote", "9") == 1
    assert "has no version 9" in capsys.readouterr().err

    assert nudge(settings, "list") == 0
    versions, checkpoints = capsys.readouterr().out.split("\n\n")
    listed = [line.split() for line in versions.splitlines()[2:]]
    assert checkpoints.startswith("online global models: no checkpoint yet")
    assert [(line[0], line[1]) for line in listed] == [("1", "active"), ("2", "retired")]
    assert nudge(settings, "evaluate") == 0
    table = capsys.readouterr().out
    assert table.startswith("alert_recommender v1, k = 5") and "(active)" in table
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines() if line}
    assert set(rows) >= {"knn", "popularity", "heuristics"}
    assert float(rows["knn"][0]) > float(rows["popularity"][0])

    published = asyncio.run(promotions(settings, 3))
    assert [p.version for p in published] == [1, 2, 1]
    for message in published:
        path = Path(message.artefact)
        assert path.is_absolute() and path.parent == (settings.models_dir).resolve()
        model = load(Artefact(path, path.with_suffix(".json"), message.sha256))
        assert model.k == settings.alert_neighbours


def test_a_candidate_less_precise_than_the_active_one_is_not_promoted(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    profiles, actions = population(60)
    execute(settings, insert(AlertProfileRow), profiles)
    execute(settings, insert(AlertActionRow), actions)
    assert nudge(settings, "train", "--promote") == 0
    assert "precision@3" in capsys.readouterr().out
    # Users now choose alerts at random: what neighbours chose no longer says much.
    execute(settings, text("DELETE FROM alert_actions"))
    execute(settings, insert(AlertActionRow), population(60, noisy=True)[1])
    capsys.readouterr()
    assert nudge(settings, "train", "--force", "--promote") == 0
    out = capsys.readouterr().out
    assert "not promoted: v2's held-out precision@3" in out and "below active v1's" in out
    assert nudge(settings, "list") == 0
    versions = capsys.readouterr().out.split("\n\n")[0]
    listed = [line.split()[:2] for line in versions.splitlines()[2:]]
    assert listed == [["1", "active"], ["2", "candidate"]]


def test_an_unwritable_models_folder_and_an_unreachable_broker_are_said_not_raised(
    make_settings: Callable[..., Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    stuck = make_settings(models_dir=blocker / "models")  # cannot be created under a file
    upgrade(stuck)
    profiles, actions = population(120)
    execute(stuck, insert(AlertProfileRow), profiles)
    execute(stuck, insert(AlertActionRow), actions)
    assert nudge(stuck, "train") == 1
    assert "cannot write the model file" in capsys.readouterr().err
    with create_engine(stuck.database_url.get_secret_value(), poolclass=NullPool).connect() as c:
        assert c.execute(text("SELECT count(*) FROM model_versions")).scalar() == 0
    # Trained and made active in the registry, but the broker is away: said, exit 1.
    away = stuck.model_copy(
        update={"models_dir": tmp_path / "models", "kafka_bootstrap": "127.0.0.1:9"}
    )
    assert nudge(away, "train", "--promote") == 1
    err = capsys.readouterr().err
    assert "v1 is active in the registry but was not published" in err
    assert "`nudge models promote 1` publishes it" in err
