"""The recommendations' gauge: what it shows, which series go, when it is read (no database)."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from schemas.settings import Settings
from sinks import recommendation_figures
from sinks.recommendation_figures import (
    RecommendationFigures,
    RecommendationFiguresRefresh,
    latest_versions,
    publish_figures,
)
from sinks.worker import Sink
from tests.unit.sinks.test_segment_sizes import Clock
from tests.unit.sinks.test_sink_order import Consumer, row
from tests.unit.sinks.test_user_figures import Stored


def rate(model: str, version: str, alert: str) -> float | None:
    labels = {"model": model, "version": version, "alert_type": alert}
    return REGISTRY.get_sample_value("nudge_recommendation_acceptance_rate", labels)


def test_each_model_shows_its_highest_versions_only():
    found = [
        ("u_rec", version, alert, version / 100)
        for version in (1, 2, 9, 10)  # numbers, not text: 10 is the highest
        for alert in ("new_merchant", "high_spender")
    ]
    found.append(("u_other", 1, "new_merchant", 0.5))
    figures = latest_versions(found, shown=3)
    assert {(m, v) for m, v, _ in figures.acceptance_rates} == {
        ("u_rec", "2"), ("u_rec", "9"), ("u_rec", "10"), ("u_other", "1"),
    }  # fmt: skip
    assert figures.acceptance_rates[("u_rec", "10", "high_spender")] == 0.1
    assert latest_versions([]) == RecommendationFigures()


def test_the_gauge_shows_the_rates_and_forgets_versions_that_drop_out():
    first = RecommendationFigures({("u_rec", "1", "new_merchant"): 0.2,
                                   ("u_rec", "2", "new_merchant"): 0.5})  # fmt: skip
    series = publish_figures(first, set())
    assert rate("u_rec", "2", "new_merchant") == 0.5
    second = RecommendationFigures({("u_rec", "2", "new_merchant"): 0.6})
    series = publish_figures(second, series)
    assert rate("u_rec", "1", "new_merchant") is None and rate("u_rec", "2", "new_merchant") == 0.6
    assert series == {("u_rec", "2", "new_merchant")}


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[RecommendationFigures]:
    answers: list[RecommendationFigures] = []
    monkeypatch.setattr(recommendation_figures, "read_figures", lambda engine: answers.pop(0))
    return answers


async def test_read_at_start(reads):
    figures = RecommendationFiguresRefresh(None, interval=15.0, clock=Clock())  # type: ignore[arg-type]
    reads.append(RecommendationFigures({("u_start", "1", "new_merchant"): 0.25}))
    figures.refresh_if_due()
    await asyncio.sleep(0)
    await figures.wait()
    assert rate("u_start", "1", "new_merchant") == 0.25 and not figures.due()


@pytest.mark.parametrize(
    ("stored", "stale"),
    [("alert_recommendations", True), ("alert_actions", True), ("alert_profiles", False)],
)
async def test_recommendations_and_alert_actions_make_the_figures_stale(stored, stale):
    figures = RecommendationFiguresRefresh(None, interval=0.0)  # type: ignore[arg-type]
    figures._stale = False
    consumer, writer = Consumer(), Stored(stored)
    sink = Sink(Settings(sink_batch_size=1), consumer, writer, asyncio.Event(), (figures,))  # type: ignore[arg-type]
    sink._batch.add(row(0))
    assert await sink.write()
    assert figures.due() is stale
