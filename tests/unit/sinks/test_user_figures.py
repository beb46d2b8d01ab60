"""What the users' gauges show, and which batches make the sink read them again (no database)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY

from schemas.patterns import PATTERN_LABELS
from schemas.settings import Settings
from sinks import user_figures
from sinks.refresh import Refresh
from sinks.user_figures import UserFigures, UserFiguresRefresh, publish_figures
from sinks.worker import Sink
from sinks.writer import WriteResult
from tests.unit.sinks.test_segment_sizes import Clock
from tests.unit.sinks.test_sink_order import Consumer, row


def users(pattern: str) -> float | None:
    return REGISTRY.get_sample_value("nudge_users_by_pattern", {"pattern": pattern})


def average(score: str) -> float | None:
    return REGISTRY.get_sample_value("nudge_average_score", {"score": score})


def test_every_known_pattern_and_none_has_a_series_and_falls_to_zero():
    shown = publish_figures(UserFigures({"high_intent": 3, "none": 1, "u_odd": 2}), set())
    assert {p: users(p) for p in PATTERN_LABELS} == {
        p: 3 if p == "high_intent" else 0 for p in PATTERN_LABELS
    }
    assert (users("none"), users("u_odd")) == (1, 2)
    shown = publish_figures(UserFigures({"at_risk": 4}), shown)
    # Everyone left high_intent: 0, not its last value; the unknown label is gone.
    assert (users("high_intent"), users("at_risk"), users("none"), users("u_odd")) == (
        0,
        4,
        0,
        None,
    )
    assert shown == {*PATTERN_LABELS, "none"}


def test_the_averages_are_set_only_when_there_are_users():
    averages = {"engagement": 50.0, "interest": 12.5, "intent": 100.0, "conversion": 0.0}
    publish_figures(UserFigures({"exploring": 2}, averages), set())
    assert {s: average(s) for s in averages} == averages
    publish_figures(UserFigures(), set())  # nothing read yet: the last averages stay
    assert average("interest") == 12.5


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[UserFigures]:
    answers: list[UserFigures] = []
    monkeypatch.setattr(user_figures, "read_figures", lambda engine: answers.pop(0))
    return answers


async def test_read_at_start_then_only_after_new_snapshots_at_most_once_an_interval(reads):
    clock = Clock()
    figures = UserFiguresRefresh(None, interval=15.0, clock=clock)  # type: ignore[arg-type]
    assert figures.tables == {"score_history"}
    reads.append(UserFigures({"researching": 7}))
    figures.refresh_if_due()
    await asyncio.sleep(0)
    await figures.wait()
    assert users("researching") == 7 and not figures.due()
    clock.now += 60.0
    assert not figures.due()  # time alone does not make a read
    figures.changed()
    assert figures.due()


class Stored:
    """A writer whose every batch stored new rows in ``table``."""

    def __init__(self, table: str) -> None:
        self.table = table

    def write(self, rows: list[Any], now: datetime) -> WriteResult:
        return WriteResult(inserted=Counter({self.table: len(rows)}))


class Recorded(Refresh[None]):
    def __init__(self, table: str) -> None:
        super().__init__(None, 0.0)  # type: ignore[arg-type]
        self.tables = frozenset({table})
        self.what = table
        self._stale = False

    def default_interval(self) -> float:
        return 0.0

    def read(self, engine: Any) -> None: ...

    def publish(self, figures: None) -> None: ...


@pytest.mark.parametrize("stored", ["score_history", "segment_changes", "trigger_events"])
async def test_a_gauge_is_read_again_only_after_new_rows_in_its_own_table(stored):
    history, changes = Recorded("score_history"), Recorded("segment_changes")
    consumer, writer = Consumer(), Stored(stored)
    sink = Sink(Settings(sink_batch_size=1), consumer, writer, asyncio.Event(), (history, changes))  # type: ignore[arg-type]
    sink._batch.add(row(0))
    assert await sink.write()
    assert (history.due(), changes.due()) == (
        stored == "score_history",
        stored == "segment_changes",
    )
