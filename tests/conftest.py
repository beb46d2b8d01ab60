"""Shared fixtures: the real local Kafka broker and PostgreSQL, started once per session.

Integration tests get a fresh topic prefix, consumer group and database each, so they
never see each other's messages or rows.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from schemas.settings import Settings
from tests.paths import ROOT


def _read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip()
    return values


KAFKA = str(ROOT / "deploy/local/kafka.sh")
POSTGRES = [sys.executable, str(ROOT / "deploy/local/postgres.py")]


@contextmanager
def _one_at_a_time() -> Iterator[None]:
    """Hold the lock that makes parallel test processes start the services one at a time."""
    (ROOT / ".run").mkdir(exist_ok=True)
    with (ROOT / ".run/test-services.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _stops_what_it_started() -> bool:
    """Whether this test process stops the services it started, at its end.

    Not under pytest-xdist (``make test`` runs two processes): the process that started a
    service cannot know when the other finishes with it, so it is left running
    (``make down`` stops it).
    """
    return "PYTEST_XDIST_WORKER" not in os.environ


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap address of the local broker; one the suite started is stopped after it."""
    with _one_at_a_time():
        was_running = subprocess.run([KAFKA, "status"], capture_output=True).returncode == 0
        subprocess.run([KAFKA, "up"], check=True, capture_output=True)
    bootstrap = _read_env_file(ROOT / ".run/kafka.env")["NUDGE_KAFKA_BOOTSTRAP"]
    asyncio.run(_coordinator_ready(bootstrap))
    yield bootstrap
    if not was_running and _stops_what_it_started():
        subprocess.run([KAFKA, "down"], check=True, capture_output=True)


async def _coordinator_ready(bootstrap: str, timeout: float = 60.0) -> None:
    """Wait until a fresh broker's group coordinator answers.

    ``kafka.sh up`` returns when the broker listens, but for some seconds after that the
    coordinator answers NOT_COORDINATOR (``__consumer_offsets`` is being created), and a
    worker joining then may be assigned nothing until its next metadata refresh.
    """
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                (groups,) = await admin.describe_consumer_groups(["nudge-test-warm-up"])
                if all(g["error_code"] == 0 for g in groups.to_object()["groups"]):
                    return
            except KafkaError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                msg = f"the broker's group coordinator did not answer in {timeout} s"
                raise RuntimeError(msg)
            await asyncio.sleep(0.5)
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """URL of a PostgreSQL server: ``NUDGE_DATABASE_URL``, or the local one (started if needed)."""
    if os.environ.get("NUDGE_DATABASE_URL"):
        yield os.environ["NUDGE_DATABASE_URL"]
        return
    with _one_at_a_time():
        was_running = (ROOT / ".run/postgres.env").exists()
        subprocess.run([*POSTGRES, "up"], check=True, capture_output=True)
    yield _read_env_file(ROOT / ".run/postgres.env")["NUDGE_DATABASE_URL"]
    if not was_running and _stops_what_it_started():
        subprocess.run([*POSTGRES, "down"], check=True, capture_output=True)


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _with_database(url: str, name: str) -> str:
    head, sep, query = url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}{sep}{query}"


@pytest.fixture
def database_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test; dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = _libpq(_with_database(postgres_admin_url, "postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield _with_database(postgres_admin_url, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def make_settings(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> Callable[..., Settings]:
    """Build settings for one test: its own topic prefix, app id, database and data dir."""
    tag = uuid.uuid4().hex[:10]

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "kafka_bootstrap": kafka_bootstrap,
            "database_url": database_url,
            "topic_prefix": f"t{tag}.",
            "app_id": f"nudge-test-{tag}",
            "partitions": 2,
            "data_dir": str(tmp_path / "worker"),
            "web_port": 0,
            "metrics_port": 0,
            "sink_metrics_port": 0,
            "sink_batch_timeout_seconds": 0.1,
            # A killed worker's partitions move after this; short keeps crash tests quick.
            "session_timeout_seconds": 6.0,
            # No quiet hours unless a test asks for them: the scenarios' users are in UTC,
            # and from 21:00 to 08:00 UTC every send would wait for the morning, so a test
            # waiting for a command would fail at night (as test_pipeline did at 21:50).
            "quiet_hours_start": 0,
            "quiet_hours_end": 0,
            # The scenarios of most tests publish no category consent: only a withdrawal
            # suppresses here. The specification's rule (consent required) is tested on its
            # own (test_category_consent) and by the demo, whose users give consent.
            "category_consent": "withdrawal_only",
        }
        values.update(overrides)
        return Settings(**values)

    return build
