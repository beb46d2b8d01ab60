"""In-memory stand-ins for Faust's table and topics, and an ingest stage built on them.

Shared by the timer's and the ingest stage's unit tests (no tests of its own).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from streams.core.decisions.send_policy import SendPolicy
from streams.core.rendering import default_catalogue
from streams.core.risk.policy import InterventionPolicy
from streams.core.triggers.overlay import DefinitionOverlay
from streams.runtime.agents.ingest import IngestStage
from streams.runtime.user_table import MemoryUserTable

#: Where a fresh ``Clock`` starts: a Friday noon UTC.
NOW = datetime(2026, 6, 5, 12, tzinfo=UTC)


@dataclass
class Table:
    data: dict[bytes, Any] = field(default_factory=dict)
    changelog: list[tuple[int, bytes, bytes | None]] = field(default_factory=list)

    def send_changelog(self, partition: int, key: bytes, value: bytes | None) -> None:
        self.changelog.append((partition, key, value))


@dataclass
class Topic:
    sent: list[dict[str, Any]] = field(default_factory=list)
    tombstones: list[bytes] = field(default_factory=list)

    def send_soon(self, *, key: bytes, value: bytes | None) -> None:
        if value is None:
            self.tombstones.append(key)
        else:
            self.sent.append(orjson.loads(value))


class Feed:
    ready = asyncio.Event()

    def __init__(self) -> None:
        self.entries: dict[bytes, bytes] = {}

    def items(self) -> list[tuple[bytes, bytes | None]]:
        return list(self.entries.items())


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def stage(clock: Clock, keep_objects: bool = True) -> IngestStage:
    catalogue = default_catalogue()
    return IngestStage(
        users=MemoryUserTable(Table(), keep_objects=keep_objects),
        feed=Feed(),  # type: ignore[arg-type]
        decisions=Topic(),
        commands=Topic(),
        interventions=Topic(),
        segment_changes=Topic(),
        user_analytics=Topic(),
        assignments=Topic(),
        conversions=Topic(),
        funnel_steps=Topic(),
        alert_profiles=Topic(),
        recommendations=Topic(),
        dead_letters={},
        definitions=DefinitionOverlay.shipped_with(catalogue),
        catalogue=catalogue,
        max_event_age_seconds=2 * 86_400.0,
        policy=SendPolicy(quiet_start=0, quiet_end=0),
        risk_policy=InterventionPolicy(),
        clock=clock,
    )
