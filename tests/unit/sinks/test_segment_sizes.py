"""When the sink reads segment sizes again, and what the gauge shows (no database)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError

from sinks import segment_sizes
from sinks.segment_sizes import SegmentSizes, publish_sizes


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def shown(segment: str) -> float | None:
    return REGISTRY.get_sample_value("nudge_segment_members", {"segment": segment})


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, int] | Exception]:
    """What each read of the view returns (popped in order), or raises."""
    answers: list[dict[str, int] | Exception] = []

    def read(engine: Any) -> dict[str, int]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(segment_sizes, "read_sizes", read)
    return answers


async def settle(sizes: SegmentSizes) -> None:
    await asyncio.sleep(0)  # let the read task start
    await sizes.wait()


async def test_read_at_start_then_only_after_changes_and_at_most_once_an_interval(reads):
    clock = Clock()
    sizes = SegmentSizes(None, interval=15.0, clock=clock)  # type: ignore[arg-type]
    reads.append({"u_start": 4})
    assert sizes.due()
    sizes.refresh_if_due()
    await settle(sizes)
    assert shown("u_start") == 4 and not sizes.due()  # nothing changed since

    clock.now += 60.0
    assert not sizes.due()  # time alone does not make a read
    sizes.changed()
    reads.append({"u_start": 5})
    sizes.refresh_if_due()
    await settle(sizes)
    assert shown("u_start") == 5

    sizes.changed()  # a burst of changes right after a read waits for the interval
    clock.now += 14.9
    assert not sizes.due()
    clock.now += 0.1
    assert sizes.due()


async def test_a_failed_read_is_tried_again_after_the_interval(reads):
    clock = Clock()
    sizes = SegmentSizes(None, interval=15.0, clock=clock)  # type: ignore[arg-type]
    reads.append(OperationalError("SELECT", None, ConnectionRefusedError("refused")))
    sizes.refresh_if_due()
    await settle(sizes)
    assert not sizes.due()
    clock.now += 15.0
    assert sizes.due()
    reads.append({"u_retried": 1})
    sizes.refresh_if_due()
    await settle(sizes)
    assert shown("u_retried") == 1


async def test_one_read_at_a_time(reads):
    clock = Clock()
    sizes = SegmentSizes(None, interval=0.0, clock=clock)  # type: ignore[arg-type]
    reads.append({"u_once": 2})
    sizes.refresh_if_due()
    sizes.changed()
    assert not sizes.due()  # the first read is still running
    await settle(sizes)
    assert sizes.due()


def test_the_gauge_falls_to_zero_and_forgets_segments_that_are_gone():
    known = publish_sizes({"u_a": 3, "u_b": 1}, set())
    known = publish_sizes({"u_a": 0}, known)
    assert (shown("u_a"), shown("u_b"), known) == (0, None, {"u_a"})
