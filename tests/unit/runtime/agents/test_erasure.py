"""Erasure in the ingest stage: an erasure request deletes the user's record at once.

The stage over the in-memory stand-ins (``stand_ins``), with the real core. A user's
spending spike fires during quiet hours, so its email is held in the record; the erasure
request must leave no record, no held send in the due-index, a tombstone on the
changelog and on ``alerts.profiles``, no other output, and a later event must start a
fresh record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from schemas.events import Event
from schemas.privacy import ErasureRequest
from streams.core.decisions.send_policy import SendPolicy
from streams.runtime import metrics
from streams.runtime.agents.ingest import IngestStage
from streams.runtime.user_table import MemoryUserTable
from tests.unit.factories import spike_at, spike_history, transaction
from tests.unit.runtime.agents.stand_ins import Clock, Table, Topic, stage

USER = "ada"


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


def erasure(user: str = USER, at: datetime | None = None) -> ErasureRequest:
    when = at or spike_at(timedelta(minutes=5))
    return ErasureRequest(erasure_id="e-1", user_id=user, requested_at=when)


def batch_of(items: Sequence[Event | ErasureRequest], partition: int = 1) -> list[Message]:
    return [
        Message("behavior.events", partition, offset, item.user_id.encode(),
                item.model_dump_json().encode())
        for offset, item in enumerate(items)
    ]  # fmt: skip


def make_stage(*, keep_objects: bool = True) -> IngestStage:
    clock = Clock()
    clock.now = spike_at(timedelta(minutes=10))  # the spike is fresh: it is evaluated
    ingest = stage(clock, keep_objects=keep_objects)
    ingest.dead_letters = {"behavior.events": Topic()}
    # Quiet from 11:00 to 13:00 UTC: the spike at noon holds its email until 13:00.
    ingest.policy = SendPolicy(quiet_start=11, quiet_end=13)
    return ingest


def spike(user: str = USER) -> list[Event]:
    return [*spike_history(user), transaction(user, spike_at(), "60.00")]


def changelog(ingest: IngestStage) -> list[tuple[int, bytes, bytes | None]]:
    users = ingest.users
    assert isinstance(users, MemoryUserTable) and isinstance(users.table, Table)
    return users.table.changelog


def sent(topic: object) -> list[dict]:
    assert isinstance(topic, Topic)
    return topic.sent


@pytest.mark.parametrize("keep_objects", [True, False])
def test_an_erasure_deletes_the_record_and_its_held_sends_and_tombstones_it(
    keep_objects: bool,
) -> None:
    ingest = make_stage(keep_objects=keep_objects)
    ingest.handle(batch_of(spike()))
    before = ingest.load(USER.encode())
    assert before is not None and before.pending, "the spike's email should be held"
    assert len(ingest.due_index) == 1
    outputs = {name: len(sent(getattr(ingest, name))) for name in ("decisions", "commands")}
    erased = metrics.ERASURES._value.get()

    ingest.handle(batch_of([erasure()]))

    assert ingest.load(USER.encode()) is None
    assert ingest.load(USER.encode(), 1) is None
    assert len(ingest.due_index) == 0  # the timer will never look for its held send
    assert changelog(ingest)[-1] == (1, USER.encode(), None)
    assert ingest.alert_profiles.tombstones == [USER.encode()]
    assert {n: len(sent(getattr(ingest, n))) for n in outputs} == outputs  # nothing new
    assert metrics.ERASURES._value.get() == erased + 1
    assert sent(ingest.dead_letters["behavior.events"]) == []  # not an invalid event


def test_the_next_event_starts_a_fresh_record() -> None:
    ingest = make_stage()
    ingest.handle(batch_of(spike()))
    ingest.handle(batch_of([erasure()]))
    later = transaction(USER, spike_at(timedelta(minutes=1)), "5.00", event_id="after")
    ingest.handle(batch_of([later]))
    fresh = ingest.load(USER.encode())
    assert fresh is not None
    assert sum(fresh.counts.values()) == 1
    assert fresh.pending == [] and fresh.last_fired == {}


def test_in_one_batch_the_tombstone_goes_before_the_fresh_record() -> None:
    """Events before the request in its batch are forgotten; those after start afresh."""
    ingest = make_stage()
    later = transaction(USER, spike_at(timedelta(minutes=1)), "5.00", event_id="after")
    other = transaction("bob", spike_at(), "7.00", event_id="bob-1")
    ingest.handle(batch_of([*spike(), other, erasure(), later]))
    fresh = ingest.load(USER.encode())
    assert fresh is not None and sum(fresh.counts.values()) == 1
    assert len(ingest.due_index) == 0
    mine = [(p, value is None) for p, key, value in changelog(ingest) if key == USER.encode()]
    assert mine == [(1, True), (1, False)]  # the tombstone, then the fresh record
    bob = ingest.load(b"bob")
    assert bob is not None and sum(bob.counts.values()) == 1  # other users untouched


def test_erasing_a_user_never_seen_is_harmless() -> None:
    ingest = make_stage()
    ingest.handle(batch_of([erasure("nobody")]))
    assert ingest.load(b"nobody") is None
    assert changelog(ingest) == [(1, b"nobody", None)]


def test_an_erasure_request_keyed_by_another_user_is_a_dead_letter() -> None:
    ingest = make_stage()
    ingest.handle(batch_of(spike()))
    (message,) = batch_of([erasure()])
    message.key = b"mallory"
    ingest.handle([message])
    assert ingest.load(USER.encode()) is not None
    (letter,) = sent(ingest.dead_letters["behavior.events"])
    assert letter["kind"] == "key_mismatch"


def test_an_erasure_request_from_the_future_is_a_dead_letter() -> None:
    ingest = make_stage()
    ingest.handle(batch_of(spike()))
    ahead = datetime(2100, 1, 1, tzinfo=UTC) - timedelta(days=1)
    ingest.handle(batch_of([erasure(at=ahead)]))
    assert ingest.load(USER.encode()) is not None
    (letter,) = sent(ingest.dead_letters["behavior.events"])
    assert letter["kind"] == "invalid" and "requested_at" in letter["error"]
