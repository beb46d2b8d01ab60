"""The sink tests' database: settings pointing at this test's database, migrated."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from schemas.settings import Settings
from sinks.migrate import upgrade
from sinks.writer import create_sink_engine


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """The sink's engine on this test's database, migrated to the head."""
    upgrade(settings)
    created = create_sink_engine(settings)
    yield created
    created.dispose()
