"""The experiments' gauges: what they show, which series go, when they are read (no database)."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from schemas.settings import Settings
from sinks import experiment_figures
from sinks.experiment_figures import (
    ExperimentFigures,
    ExperimentFiguresRefresh,
    publish_figures,
)
from sinks.worker import Sink
from tests.unit.sinks.test_segment_sizes import Clock
from tests.unit.sinks.test_sink_order import Consumer, row
from tests.unit.sinks.test_user_figures import Stored


def users(experiment: str, variant: str) -> float | None:
    labels = {"experiment": experiment, "variant": variant}
    return REGISTRY.get_sample_value("nudge_experiment_users", labels)


def rate(experiment: str, variant: str, metric: str) -> float | None:
    labels = {"experiment": experiment, "variant": variant, "metric": metric}
    return REGISTRY.get_sample_value("nudge_experiment_conversion_rate", labels)


def test_the_gauges_show_the_figures_and_forget_series_that_are_gone():
    first = ExperimentFigures(
        {("u_tone", "control"): 200, ("u_tone", "b"): 210, ("u_old", "control"): 5},
        {("u_tone", "control", "purchase"): 0.1, ("u_tone", "b", "purchase"): 36 / 210,
         ("u_old", "control", "signup"): 0.2},
    )  # fmt: skip
    series = publish_figures(first, set())
    assert (users("u_tone", "b"), rate("u_tone", "b", "purchase")) == (210, 36 / 210)
    assert ("u_old", "control", "") in series and ("u_old", "control", "signup") in series
    # u_old is no longer among the latest experiments: its series go; u_tone's stay.
    second = ExperimentFigures(
        {("u_tone", "control"): 201, ("u_tone", "b"): 210},
        {("u_tone", "control", "purchase"): 0.1, ("u_tone", "b", "purchase"): 0.2},
    )
    series = publish_figures(second, series)
    assert users("u_old", "control") is None and rate("u_old", "control", "signup") is None
    assert users("u_tone", "control") == 201 and rate("u_tone", "b", "purchase") == 0.2
    assert len(series) == 4


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[ExperimentFigures]:
    answers: list[ExperimentFigures] = []
    monkeypatch.setattr(experiment_figures, "read_figures", lambda engine: answers.pop(0))
    return answers


async def test_read_at_start_then_after_new_assignments_or_conversions(reads):
    clock = Clock()
    figures = ExperimentFiguresRefresh(None, interval=15.0, clock=clock)  # type: ignore[arg-type]
    assert figures.tables == {"experiment_assignments", "experiment_conversions"}
    reads.append(ExperimentFigures({("u_start", "control"): 3}))
    figures.refresh_if_due()
    await asyncio.sleep(0)
    await figures.wait()
    assert users("u_start", "control") == 3 and not figures.due()


@pytest.mark.parametrize(
    ("stored", "stale"),
    [("experiment_assignments", True), ("experiment_conversions", True), ("user_days", False)],
)
async def test_either_table_makes_the_figures_stale(stored, stale):
    figures = ExperimentFiguresRefresh(None, interval=0.0)  # type: ignore[arg-type]
    figures._stale = False
    consumer, writer = Consumer(), Stored(stored)
    sink = Sink(Settings(sink_batch_size=1), consumer, writer, asyncio.Event(), (figures,))  # type: ignore[arg-type]
    sink._batch.add(row(0))
    assert await sink.write()
    assert figures.due() is stale
