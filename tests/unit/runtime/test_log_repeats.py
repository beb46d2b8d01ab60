"""Repeated library errors are rate-limited: the first of a kind, then one per interval."""

from __future__ import annotations

import io
import json
import logging

import pytest

from streams.runtime.logs import JsonFormatter, RepeatFilter, logging_config


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(
    message: str = "Unable connect to node with id %s: %s",
    args: tuple[object, ...] = (1, "refused"),
    name: str = "aiokafka",
    level: int = logging.ERROR,
) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, args, None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_the_first_of_a_kind_passes_and_the_rest_of_the_interval_is_held(clock: Clock) -> None:
    repeats = RepeatFilter(interval=10.0, clock=clock)
    assert repeats.filter(record())
    passed = []
    for n in range(1000):
        clock.now = 1000.0 + (n + 1) * 0.009  # 9.0 s in all: still inside the interval
        passed.append(repeats.filter(record(args=(1, f"refused {n}"))))
    assert not any(passed)


def test_after_the_interval_one_record_passes_with_the_count_held_back(clock: Clock) -> None:
    repeats = RepeatFilter(interval=10.0, clock=clock)
    repeats.filter(record())
    for n in range(500):
        clock.now = 1000.0 + n * 0.01
        repeats.filter(record())
    clock.now = 1010.0
    summary = record()
    assert repeats.filter(summary)
    assert (summary.repeated, summary.repeated_seconds) == (500, 10.0)  # type: ignore[attr-defined]
    clock.now += 1.0
    assert not repeats.filter(record())  # a new interval began with the summary


@pytest.mark.parametrize(
    ("interval_seconds", "held"),
    [(9.99, 0), (10.0, 1)],
)
def test_the_interval_edge(clock: Clock, interval_seconds: float, held: int) -> None:
    repeats = RepeatFilter(interval=10.0, clock=clock)
    repeats.filter(record())
    clock.now += interval_seconds
    assert repeats.filter(record()) is bool(held)


def test_a_quiet_kind_prints_without_a_count(clock: Clock) -> None:
    repeats = RepeatFilter(interval=10.0, clock=clock)
    repeats.filter(record())
    clock.now += 60.0
    again = record()
    assert repeats.filter(again)
    assert not hasattr(again, "repeated")


def test_kinds_are_counted_apart(clock: Clock) -> None:
    repeats = RepeatFilter(interval=10.0, clock=clock)
    assert repeats.filter(record())
    assert repeats.filter(record(message="Unable to update metadata from %s", args=([1],)))
    assert repeats.filter(record(name="aiokafka.consumer.fetcher"))
    assert repeats.filter(record(level=logging.WARNING))
    assert not repeats.filter(record(args=(2, "timed out")))  # same template, other values


@pytest.mark.parametrize(
    ("name", "level"),
    [
        ("streams.runtime.agents.ingest", logging.ERROR),  # Nudge's own: every line counts
        ("sinks.worker", logging.WARNING),
        ("aiokafka", logging.INFO),  # below WARNING: only shown when asked for (DEBUG runs)
        ("aiokafkaesque", logging.ERROR),  # not a child of aiokafka
    ],
)
def test_what_is_never_limited(clock: Clock, name: str, level: int) -> None:
    repeats = RepeatFilter(interval=10.0, clock=clock)
    assert all(repeats.filter(record(name=name, level=level)) for _ in range(100))


@pytest.mark.parametrize("library", ["aiokafka", "faust.transport.producer", "mode", "kafka"])
def test_every_chatty_library_is_limited(clock: Clock, library: str) -> None:
    repeats = RepeatFilter(interval=10.0, clock=clock)
    assert [repeats.filter(record(name=library)) for _ in range(3)] == [True, False, False]


def test_the_summary_line_carries_the_count() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    clock = Clock()
    handler.addFilter(RepeatFilter(interval=10.0, clock=clock))
    logger = logging.Logger("aiokafka")  # not registered: the global logging stays untouched
    logger.addHandler(handler)
    for second in range(25):
        clock.now = 1000.0 + second
        for _ in range(100):
            logger.error("Unable connect to node with id %s: %s", 1, "refused")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line.get("repeated") for line in lines] == [None, 999, 999]
    assert {line["message"] for line in lines} == {"Unable connect to node with id 1: refused"}


def test_the_process_logging_config_installs_the_filter() -> None:
    config = logging_config("INFO")
    # A malformed request's record is rewritten first, so its kind is the rewritten one.
    assert config["handlers"]["stderr"]["filters"] == ["malformed", "repeats"]
    assert config["filters"]["repeats"]["()"] == "streams.runtime.logs.RepeatFilter"
