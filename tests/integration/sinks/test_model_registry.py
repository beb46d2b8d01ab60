"""The model registry and the recommender's training data, on a real migrated PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert, text

from schemas.alerts import AlertType
from schemas.settings import Settings
from sinks.model_registry import (
    Candidate,
    RegistryError,
    active_version,
    add_version,
    get_version,
    list_versions,
    promote,
    read_training_data,
    rollback,
)
from sinks.tables import AlertActionRow, AlertProfileRow

pytestmark = pytest.mark.integration

NAME = "alert_recommender"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
FEATURES = {
    "total_amount": 120.0, "average_transaction": 40.0, "spending_volatility": 5.0,
    "transaction_count": 3.0, "transactions_per_day": 1.5, "unique_merchants": 2.0,
    "unique_categories": 1.0, "credit_utilisation": 0.2,
}  # fmt: skip


def candidate(**metrics: Any) -> Candidate:
    return Candidate(T0, T0, T0, {"k": 5}, metrics, "f" * 64)


def add(settings: Settings, written: list[int] | None = None, pause: float = 0.0) -> int:
    def write(version: int) -> tuple[str, str]:
        time.sleep(pause)  # widens the race two trainers would have
        if written is not None:
            written.append(version)
        return f"/models/{NAME}-v{version}.skops", f"{version:064x}"

    return add_version(settings, NAME, candidate(), write).version


def statuses(settings: Settings) -> dict[int, str]:
    return {row.version: row.status for row in list_versions(settings, NAME)}


def test_versions_count_up_per_name_and_the_artefact_is_told_its_version(
    settings: Settings, engine: Engine
) -> None:
    assert list_versions(settings, NAME) == [] and active_version(settings, NAME) is None
    written: list[int] = []
    assert [add(settings, written) for _ in range(3)] == [1, 2, 3] == written
    other = add_version(settings, "other_model", candidate(), lambda v: (f"o{v}", "0" * 64))
    assert other.version == 1
    row = get_version(settings, NAME, 2)
    assert row is not None and row.status == "candidate" and row.artefact.endswith("-v2.skops")
    assert row.parameters == {"k": 5} and row.promoted_at is None
    assert get_version(settings, NAME, 9) is None


def test_two_trainers_at_once_get_distinct_versions(settings: Settings, engine: Engine) -> None:
    found: list[int] = []
    start = threading.Barrier(2)

    def trainer() -> None:
        start.wait()
        for _ in range(4):
            found.append(add(settings, pause=0.02))

    threads = [threading.Thread(target=trainer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(found) == list(range(1, 9))


def test_promote_keeps_one_active_and_rollback_undoes_the_last_promotion(
    settings: Settings, engine: Engine
) -> None:
    for _ in range(3):
        add(settings)
    first = promote(settings, NAME, 1, now=T0)
    assert first.changed and first.retired is None and first.active.promoted_at == T0
    second = promote(settings, NAME, 2, now=T0 + timedelta(days=1))
    assert second.retired is not None and second.retired.version == 1
    assert statuses(settings) == {1: "retired", 2: "active", 3: "candidate"}
    again = promote(settings, NAME, 2, now=T0 + timedelta(days=2))
    assert not again.changed and again.active.promoted_at == T0 + timedelta(days=1)
    with pytest.raises(RegistryError, match="has no version 7"):
        promote(settings, NAME, 7, now=T0)

    back = rollback(settings, NAME, now=T0 + timedelta(days=3))
    assert (back.active.version, back.retired and back.retired.version) == (1, 2)
    assert statuses(settings) == {1: "active", 2: "retired", 3: "candidate"}
    one = get_version(settings, NAME, 1)
    assert one is not None and one.retired_at is None
    # A second rollback undoes the first one: v1 replaced v2.
    rollback(settings, NAME, now=T0 + timedelta(days=4))
    assert statuses(settings) == {1: "retired", 2: "active", 3: "candidate"}
    promote(settings, NAME, 3, now=T0 + timedelta(days=5))
    rollback(settings, NAME, now=T0 + timedelta(days=6))
    assert statuses(settings) == {1: "retired", 2: "active", 3: "retired"}
    with engine.connect() as connection:
        active = connection.execute(
            text("SELECT count(*) FROM model_versions WHERE status = 'active'")
        ).scalar_one()
    assert active == 1


def test_rollback_needs_an_active_version_and_one_before_it(
    settings: Settings, engine: Engine
) -> None:
    add(settings)
    with pytest.raises(RegistryError, match="no active version to roll back"):
        rollback(settings, NAME, now=T0)
    promote(settings, NAME, 1, now=T0)
    with pytest.raises(RegistryError, match="no version of alert_recommender was active before"):
        rollback(settings, NAME, now=T0)
    assert statuses(settings) == {1: "active"}


def test_an_unmigrated_database_is_a_registry_error(database_url: str) -> None:
    with pytest.raises(RegistryError, match="nudge db upgrade"):
        list_versions(Settings(database_url=database_url), NAME)
    with pytest.raises(RegistryError, match="cannot reach the database"):
        read_training_data(Settings(database_url=database_url.replace("/test_", "/absent_")))


def profile(user: str, features: dict[str, Any] | None, hours: int = 0) -> dict[str, Any]:
    return {
        "user_id": user, "profile_id": f"p-{user}", "as_of": T0 + timedelta(hours=hours),
        "source_event_id": f"e-{user}", "features": features, "enabled": [],
    }  # fmt: skip


def action(user: str, event: str, alert: str, what: str, minutes: int) -> dict[str, Any]:
    return {
        "user_id": user, "event_id": event, "occurred_at": T0 + timedelta(minutes=minutes),
        "alert_type": alert, "action": what,
    }  # fmt: skip


def test_training_data_folds_each_users_latest_action_per_alert(
    settings: Settings, engine: Engine
) -> None:
    profiles = [
        profile("ann", FEATURES, hours=2),
        profile("bob", FEATURES, hours=5),
        profile("cat", None),  # no debit yet: not a training user
        profile("dan", {**FEATURES, "credit_utilisation": None}),  # unreadable: skipped
        profile("eve", FEATURES, hours=1),  # never chose an alert
    ]
    actions = [
        # ann: high_spender on, then off; near_credit_limit created, then enabled
        action("ann", "e1", "high_spender", "enabled", 1),
        action("ann", "e2", "high_spender", "disabled", 2),
        action("ann", "e3", "near_credit_limit", "created", 1),
        action("ann", "e4", "near_credit_limit", "enabled", 3),
        # bob: two actions at the same minute: the larger event id decides (on)
        action("bob", "e5", "new_merchant", "deleted", 1),
        action("bob", "e6", "new_merchant", "created", 1),
        # bob: a later event id but an earlier time does not decide
        action("bob", "e9", "location_based", "enabled", 1),
        action("bob", "e7", "location_based", "disabled", 2),
        action("bob", "e8", "not_an_alert", "enabled", 1),  # unknown: skipped
        action("zed", "e10", "high_spender", "enabled", 1),  # no profile: not a user
    ]
    with engine.begin() as connection:
        connection.execute(insert(AlertProfileRow), profiles)
        connection.execute(insert(AlertActionRow), actions)
    data = read_training_data(settings)
    assert (data.skipped_profiles, data.skipped_actions) == (1, 1)
    found = {u.user_id: u for u in data.users}
    assert sorted(found) == ["ann", "bob", "eve"]
    assert found["ann"].enabled == {AlertType.NEAR_CREDIT_LIMIT}
    assert found["bob"].enabled == {AlertType.NEW_MERCHANT}
    assert found["eve"].enabled == frozenset()
    assert found["bob"].as_of == T0 + timedelta(hours=5)
    assert found["ann"].features.total_amount == 120.0
