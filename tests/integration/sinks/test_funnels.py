"""Funnel steps through the broker, the running sink and ``nudge report funnel``.

Steps are published as the worker sends them (a completion is a ``reached`` row and a
``completed`` row of the last step; a drop names the last step reached); the report must
equal the counts made here by hand, and publishing everything again changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from schemas.funnels import FunnelStep
from schemas.settings import Settings
from sinks.migrate import upgrade
from streams.cli.main import main
from tests.integration.harness import wait_until
from tests.integration.sink_harness import (
    funnel_step,
    offsets_caught_up,
    publish,
    query,
    running_sink,
)

pytestmark = pytest.mark.integration

AT = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
FUNNEL = "onboarding"
NAMES = {1: "visit", 2: "quote", 3: "apply"}
WINDOW = timedelta(days=7)


def run(user: str, entered: datetime, gaps: list[float], *, ends: str) -> list[FunnelStep]:
    """One run through the funnel: step 1, then one step per gap; ``ends`` with
    ``completed`` (after the last step), ``dropped`` (at the last step reached) or
    ``open``."""

    def step(kind: str, number: int, at: datetime, gap: float | None = None) -> FunnelStep:
        return funnel_step(FUNNEL, user, kind, number, entered, at, gap=gap, name=NAMES[number])

    rows, at = [step("reached", 1, entered)], entered
    for number, gap in enumerate(gaps, start=2):
        at += timedelta(seconds=gap)
        rows.append(step("reached", number, at, gap))
    if ends == "completed":
        rows.append(step("completed", len(gaps) + 1, at))
    elif ends == "dropped":
        rows.append(step("dropped", len(gaps) + 1, entered + WINDOW))
    return rows


def scenario() -> list[FunnelStep]:
    """Six users: two complete, two drop at the quote, one at the visit, one is still in.

    Eve drops at the visit, comes back a week later and drops at the quote.
    """
    return [
        *run("ana", AT, [60, 120], ends="completed"),
        *run("ben", AT, [300], ends="dropped"),
        *run("cy", AT, [], ends="dropped"),
        *run("dee", AT + timedelta(hours=1), [30, 600], ends="completed"),
        *run("eve", AT, [], ends="dropped"),
        *run("eve", AT + timedelta(days=8), [90], ends="dropped"),
        *run("fay", AT + timedelta(days=1), [], ends="open"),
        # Another funnel's steps are not this one's.
        funnel_step("checkout", "ana", "reached", 1, AT, AT),
    ]


def percentile_cont(values: list[float], fraction: float) -> float:
    """PostgreSQL's ``percentile_cont``: linear between the two nearest ranks."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


#: Counted by hand from ``scenario``. Users who reached step 2: ana, ben, dee, eve (her
#: second run); step 3: ana, dee. Gaps into step 2: 60, 300, 30, 90; into step 3: 120, 600.
EXPECTED = [
    {
        "step": 1, "step_name": "visit", "reached": 6, "from_previous": None,
        "from_first": 1.0, "drop_off": None, "drop_off_rate": None, "dropped": 2,
        "completed": 0, "median_seconds_from_previous": None,
        "p90_seconds_from_previous": None,
    },
    {
        "step": 2, "step_name": "quote", "reached": 4, "from_previous": 4 / 6,
        "from_first": 4 / 6, "drop_off": 2, "drop_off_rate": 1 - 4 / 6, "dropped": 2,
        "completed": 0,
        "median_seconds_from_previous": percentile_cont([60, 300, 30, 90], 0.5),
        "p90_seconds_from_previous": percentile_cont([60, 300, 30, 90], 0.9),
    },
    {
        "step": 3, "step_name": "apply", "reached": 2, "from_previous": 2 / 4,
        "from_first": 2 / 6, "drop_off": 2, "drop_off_rate": 1 - 2 / 4, "dropped": 0,
        "completed": 2,
        "median_seconds_from_previous": percentile_cont([120, 600], 0.5),
        "p90_seconds_from_previous": percentile_cont([120, 600], 0.9),
    },
]  # fmt: skip


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    migrated = make_settings(sink_batch_size=20)
    upgrade(migrated)
    return migrated


def report(settings: Settings, monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("NUDGE_DATABASE_URL", settings.database_url.get_secret_value())
    capsys.readouterr()
    status = main(["report", "funnel", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


async def test_the_funnel_report_equals_hand_counts_and_a_replay_changes_nothing(
    settings, monkeypatch, capsys
):
    steps = scenario()
    async with running_sink(settings):
        await publish(settings, steps)
        await wait_until(lambda: offsets_caught_up(settings), "the sink to commit the steps")
    stored = query(settings, "SELECT step_id, kind, step FROM funnel_steps ORDER BY step_id")
    assert len(stored) == len({s.step_id for s in steps}) == len(steps)

    status, out, err = report(settings, monkeypatch, capsys, FUNNEL, "--json")
    assert status == 0, err
    document = json.loads(out)
    assert (document["report"], document["funnel_id"]) == ("funnel", FUNNEL)
    assert document["steps"] == [
        {k: pytest.approx(v) if isinstance(v, float) else v for k, v in row.items()}
        for row in EXPECTED
    ]

    status, out, _ = report(settings, monkeypatch, capsys, FUNNEL)
    lines = out.splitlines()
    assert lines[0].startswith(f"Funnel {FUNNEL} (as of ")
    assert lines[4].split() == [
        "2", "quote", "4", "66.7%", "66.7%", "2", "33.3%", "2", "0", "1m", "15s", "3m", "57s",
    ]  # fmt: skip

    async with running_sink(settings):
        await publish(settings, steps)
        await wait_until(lambda: offsets_caught_up(settings), "the sink to commit the replay")
    again = query(settings, "SELECT step_id, kind, step FROM funnel_steps ORDER BY step_id")
    assert again == stored
    _, replayed, _ = report(settings, monkeypatch, capsys, FUNNEL, "--json")
    assert json.loads(replayed)["steps"] == document["steps"]


async def test_an_unknown_funnel_is_named_with_the_ones_there_are(settings, monkeypatch, capsys):
    async with running_sink(settings):
        await publish(settings, scenario())
        await wait_until(lambda: offsets_caught_up(settings), "the sink to commit the steps")
    status, _, err = report(settings, monkeypatch, capsys, "signup")
    assert status == 1
    assert err.strip() == (
        "report: no steps of funnel 'signup' stored (funnels with steps: checkout, onboarding)"
    )
