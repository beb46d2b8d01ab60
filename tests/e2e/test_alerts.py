"""The alert recommender end to end: worker, sink, ``nudge models`` and ``nudge report`` as
real processes on the real broker and PostgreSQL.

A hundred card holders (``streams.simulation.alert_population``) send a month of debits,
a balance and their alerts. The worker publishes their alert profiles and the sink keeps
them; ``nudge models train --promote`` trains from PostgreSQL, registers version 1 and
promotes it; the running worker loads it and its timer serves every card holder. The
recommendations on the topic and in the database are the ones the test computes itself
from the registered artefact and each user's stored features. Then: a user switches on a
recommended alert and the report counts it accepted; a promotion whose file does not
match its hash is refused and version 1 stays in force; version 2 is trained and promoted
and the worker serves it, all without a restart.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from schemas.alerts import ALERT_RECOMMENDER, AlertRecommendation, ModelPromotion
from schemas.events import Event
from schemas.settings import Settings
from schemas.topics import ALERTS_RECOMMENDATIONS, BEHAVIOR_EVENTS, MODELS_ACTIVE
from streams.demo.alerts import expected_recommendations
from streams.simulation.alert_population import cardholder_events
from tests.integration.harness import NudgeProcess, publish, read_until, rows_when, wait_until
from tests.unit.factories import event

pytestmark = pytest.mark.e2e

USERS = 100


def nudge(settings: Settings, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env=NudgeProcess(settings, "cli", tmp_path / "cli.log").environment(),
        capture_output=True, text=True, check=False, timeout=180,
    )  # fmt: skip


def query(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    url = settings.database_url.get_secret_value().replace("+psycopg", "")
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def served(records: list[Any], version: int) -> dict[str, AlertRecommendation]:
    found = (AlertRecommendation.model_validate_json(r.value) for r in records)
    return {r.recommendation_id: r for r in found if r.model_version == version}


def expected(settings: Settings, version: int) -> set[tuple[str, str, float]]:
    """Each profiled user's recommendations by the registered file, computed by the test."""
    return {
        (user, each.alert_type.value, each.confidence)
        for user, recommended in expected_recommendations(settings, version).items()
        for each in recommended
    }


async def test_train_promote_serve_accept_refuse_and_switch(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    # A timer pass every second: each promotion is served at the next one.
    settings = make_settings(models_dir=tmp_path / "models", schedule_interval_seconds=1.0)
    assert nudge(settings, tmp_path, "db", "upgrade").returncode == 0
    now = datetime.now(UTC).replace(microsecond=0)
    history = [Event.model_validate(e) for e in cardholder_events(USERS, now=now, seed=3)]
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    sink = NudgeProcess(settings, "sink", tmp_path / "sink.log").start()
    try:
        await publish(
            settings,
            BEHAVIOR_EVENTS,
            [(e.user_id.encode(), e.model_dump_json().encode()) for e in history],
        )
        await rows_when(
            settings.database_url.get_secret_value(),
            "SELECT count(*) FROM alert_profiles WHERE features IS NOT NULL",
            lambda rows: rows[0][0] == USERS,
        )
        # The history is a backfill: profiles, and nobody served before a model exists.
        assert query(settings, "SELECT count(*) FROM alert_recommendations") == [(0,)]

        trained = nudge(settings, tmp_path, "models", "train", "--promote")
        assert trained.returncode == 0, trained.stdout + trained.stderr
        assert query(settings, "SELECT version, status FROM model_versions") == [(1, "active")]
        want = expected(settings, 1)
        assert want, "the population must give some recommendations"
        records = await read_until(
            settings, ALERTS_RECOMMENDATIONS, lambda r: len(served(r, 1)) >= len(want), timeout=90
        )
        on_topic = served(records, 1)
        assert {(r.user_id, r.alert_type.value, r.confidence) for r in on_topic.values()} == want
        assert {r.cause for r in on_topic.values()} == {"promotion:1"}
        assert all(" of the 5 customers most like you " in r.explanation for r in on_topic.values())
        stored = await rows_when(
            settings.database_url.get_secret_value(),
            "SELECT recommendation_id FROM alert_recommendations WHERE model_version = 1",
            lambda rows: len(rows) == len(on_topic),
        )
        assert {row[0] for row in stored} == set(on_topic)

        # A user switches on an alert they were recommended: accepted.
        taken = min(on_topic.values(), key=lambda r: r.user_id)
        rule = {"type": "alert_rule", "action": "enabled", "alert_type": taken.alert_type.value}
        # After the recommendation (made at the worker's clock, when it served the user).
        switched = event(taken.user_id, datetime.now(UTC) + timedelta(seconds=1), rule)
        await publish(
            settings,
            BEHAVIOR_EVENTS,
            [(taken.user_id.encode(), switched.model_dump_json().encode())],
        )

        def accepted() -> bool:
            report = nudge(settings, tmp_path, "report", "recommendations", "--json")
            rows = json.loads(report.stdout)["acceptance"]
            return any(
                (row["alert_type"], row["model_version"]) == (taken.alert_type.value, 1)
                and row["accepted_users"] >= 1
                for row in rows
            )

        await wait_until(accepted, "the report to count the accepted recommendation", 60)

        # A promotion whose file is not the one its hash names: refused, v1 stays.
        forged = ModelPromotion(
            name=ALERT_RECOMMENDER, version=9, artefact=str(tmp_path / "models" / "nope.skops"),
            sha256="0" * 64, promoted_at=now,
        )  # fmt: skip
        await publish(
            settings,
            MODELS_ACTIVE,
            [(ALERT_RECOMMENDER.encode(), forged.model_dump_json().encode())],
        )
        await wait_until(
            lambda: any(
                str(e.get("message")).startswith("a promoted model was refused")
                for e in worker.log_entries()
            ),
            "the worker to refuse the forged promotion",
        )
        # A new card holder is served by version 1 still.
        newcomer = [
            event("newcomer", now + timedelta(seconds=i), {"type": "transaction", "amount": "900",
                  "merchant": f"big-{i}", "category": "electronics"})
            for i in range(3)
        ]  # fmt: skip
        await publish(
            settings,
            BEHAVIOR_EVENTS,
            [(b"newcomer", e.model_dump_json().encode()) for e in newcomer],
        )
        await read_until(
            settings, ALERTS_RECOMMENDATIONS,
            lambda r: any(x.user_id == "newcomer" for x in served(r, 1).values()), timeout=60,
        )  # fmt: skip

        # Version 2, trained and promoted by hand with the worker running: everyone served again.
        again = nudge(settings, tmp_path, "models", "train", "--force")
        assert again.returncode == 0, again.stdout + again.stderr
        promoted = nudge(settings, tmp_path, "models", "promote", "2")
        assert promoted.returncode == 0, promoted.stdout + promoted.stderr
        assert query(settings, "SELECT version, status FROM model_versions ORDER BY version") == [
            (1, "retired"), (2, "active"),
        ]  # fmt: skip
        want = expected(settings, 2)
        records = await read_until(
            settings, ALERTS_RECOMMENDATIONS, lambda r: len(served(r, 2)) >= len(want), timeout=90
        )
        assert {
            (r.user_id, r.alert_type.value, r.confidence) for r in served(records, 2).values()
        } == want
        assert worker.running() and sink.running()
    finally:
        worker.stop()
        sink.stop()
