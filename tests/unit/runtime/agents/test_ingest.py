"""Issue 8: every message of a batch ends processed or dead-lettered; nothing escapes.

The ingest stage over in-memory stand-ins for Faust's table and topics (the same as the
timer's tests), with the real core. A bug in the core is simulated by making ``process``
raise for one chosen event: that event becomes a ``processing_error`` dead letter, its
user's record is as it was before it, and every other event of the batch is processed.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.events import Event
from streams.core.decisions import process as decisions
from streams.core.state.record import UserState
from streams.runtime.agents import ingest as ingest_module
from streams.runtime.agents.ingest import IngestStage
from streams.runtime.failstop import withhold
from streams.runtime.outbox import BufferedOutbox
from tests.unit.factories import START, spike_at, spike_history, transaction
from tests.unit.runtime.agents.stand_ins import Clock, Topic, stage

DLQ = "behavior.events.dlq"


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    acked: bool = False


@dataclass
class FaustEvent:
    message: Message


def batch_of(events: list[Event | bytes], partition: int = 0) -> list[Message]:
    out = []
    for offset, item in enumerate(events):
        if isinstance(item, Event):
            key, value = item.user_id.encode(), item.model_dump_json().encode()
        else:
            key, value = b"someone", item
        out.append(Message("behavior.events", partition, offset, key, value))
    return out


def make_stage(keep_objects: bool) -> IngestStage:
    clock = Clock()
    clock.now = START + timedelta(days=40)
    ingest = stage(clock, keep_objects=keep_objects)
    ingest.dead_letters = {"behavior.events": Topic()}
    return ingest


def raising_for(event_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the core raise (after changing the state, as a half-done fold would)."""
    real = decisions.process

    def process(state: UserState, event: Event, *args: Any, **kwargs: Any) -> Any:
        result = real(state, event, *args, **kwargs)
        if event.event_id == event_id:
            state.counts["poisoned"] = 1
            raise ZeroDivisionError
        return result

    monkeypatch.setattr(ingest_module, "process", process)


def stored(ingest: IngestStage, user: str) -> UserState | None:
    return ingest.load(user.encode())


@pytest.mark.parametrize("keep_objects", [True, False])
def test_an_event_whose_processing_raises_is_a_dead_letter_and_the_batch_goes_on(
    keep_objects: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest = make_stage(keep_objects)
    first = [transaction(f"u{i}", START + timedelta(days=1), "10.00") for i in range(20)]
    ingest.handle(batch_of(list(first)))
    before = {f"u{i}": stored(ingest, f"u{i}").to_bytes() for i in range(20)}  # type: ignore[union-attr]
    raising_for("poison", monkeypatch)
    earlier = transaction("u3", START + timedelta(days=2), "5.00")
    poison = transaction("u3", START + timedelta(days=3), "7.00", event_id="poison")
    later = [transaction(f"u{i}", START + timedelta(days=3), "1.00") for i in range(20)]
    batch = batch_of([earlier, poison, *later, b"{not json"])
    ingest.handle(batch)

    letters = ingest.dead_letters["behavior.events"].sent
    assert [letter["kind"] for letter in letters] == ["processing_error", "not_json"]
    error = letters[0]["error"]
    assert error.startswith(f"processing raised ZeroDivisionError at {Path(__file__).name}:")
    assert "7.00" not in error and "u3" not in error  # type, place: never values
    assert letters[0]["offset"] == 1
    assert base64.b64decode(letters[0]["value"]) == batch[1].value
    # Every other event was applied: 20 users one more debit each, u3 the earlier one too.
    for i in range(20):
        state = stored(ingest, f"u{i}")
        assert state is not None and "poisoned" not in state.counts
        assert state.counts["transaction"] == (3 if i == 3 else 2)
        assert state.to_bytes() != before[f"u{i}"]
    assert not stored(ingest, "u3").has_seen("poison")  # type: ignore[union-attr]
    assert stored(ingest, "u3").has_seen(earlier.event_id)  # type: ignore[union-attr]


def test_a_raising_event_of_a_user_seen_only_in_earlier_batches_leaves_the_record_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ingest = make_stage(keep_objects=True)
    ingest.handle(batch_of([transaction("u1", START, "10.00")]))
    before = stored(ingest, "u1").to_bytes()  # type: ignore[union-attr]
    raising_for("poison", monkeypatch)
    ingest.handle(batch_of([transaction("u1", START, "7.00", event_id="poison")]))
    assert stored(ingest, "u1").to_bytes() == before  # type: ignore[union-attr]
    # It did reach the core and raise there: it is a processing error's dead letter.
    letters = ingest.dead_letters["behavior.events"].sent
    assert [(letter["kind"], letter["offset"]) for letter in letters] == [("processing_error", 0)]


def test_a_sending_failure_escapes_the_batch_for_the_agent_to_fail_stop() -> None:
    ingest = make_stage(keep_objects=True)

    class Broken(Topic):
        def send_soon(self, *, key: bytes, value: bytes | None) -> None:
            raise BufferError

    ingest.dead_letters = {"behavior.events": Broken()}
    with pytest.raises(BufferError):
        ingest.handle(batch_of([b"{not json"]))


def test_a_withheld_batch_is_never_acknowledged_to_the_consumer() -> None:
    from faust.types.tuples import ConsumerMessage as FaustMessage

    class Consumer:
        acked: list[int] = []

        def ack(self, message: Any) -> bool:
            self.acked.append(message.offset)
            return True

    consumer = Consumer()
    messages = [
        FaustMessage("t", 0, offset, 0.0, 0, None, b"k", b"v", None, None) for offset in range(3)
    ]
    withhold([FaustEvent(m) for m in messages[:2]])  # type: ignore[arg-type]
    for message in messages:
        message.ack(consumer)  # type: ignore[arg-type]  # as take_events' finally does, for each
    assert consumer.acked == [2]


def test_a_batch_s_outputs_are_acknowledged_before_the_records_that_remember_them() -> None:
    ingest = make_stage(keep_objects=True)
    order: list[str] = []

    class Recording(Topic):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def send_soon(self, *, key: bytes, value: bytes | None) -> None:
            order.append(self.name)

    async def flush() -> None:
        order.append("flush")

    changelog = ingest.users.table.send_changelog  # type: ignore[attr-defined]

    def send_changelog(partition: int, key: bytes, value: bytes) -> None:
        order.append("changelog")
        changelog(partition, key, value)

    ingest.users.table.send_changelog = send_changelog  # type: ignore[attr-defined]
    ingest.outbox = BufferedOutbox(flush)
    ingest.users.outbox = ingest.outbox  # type: ignore[attr-defined]
    ingest.clock = lambda: spike_at(timedelta(hours=1))
    ingest.decisions, ingest.commands = Recording("decision"), Recording("command")
    ingest.user_analytics = Recording("analytics")
    ingest.dead_letters = {"behavior.events": Recording("dead letter")}
    history = spike_history("spiker")
    asyncio.run(ingest.run_batch(batch_of(list(history))))  # decides nothing...
    *snapshots, flushed, stored = order  # ...but sends the user's hourly analytics
    assert set(snapshots) == {"analytics"} and (flushed, stored) == ("flush", "changelog")
    order.clear()
    asyncio.run(ingest.run_batch(batch_of([b"nope", transaction("spiker", spike_at(), "400")])))
    sent = [name for name in order if name != "analytics"]
    assert sent == ["dead letter", "decision", "command", "command", "flush", "changelog"]
    assert order.index("flush") > max(
        (i for i, name in enumerate(order) if name == "analytics"), default=-1
    )
