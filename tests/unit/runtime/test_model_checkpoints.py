"""Global online models' checkpoints without a broker: kept, refused, summed, written.

``CheckpointStore`` keeps the newest sequence per ``model/partition`` and refuses what is
not a checkpoint of a model it knows; ``SendTimePrior`` counts per input partition;
``ModelCheckpoints`` serves the sum and writes each partition's counts on its newest
checkpoint (here with a fake producer: the order of flush and send is part of the test).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY

from models.online.prior import HourCounts
from schemas.learning import SEND_TIME_PRIOR, ModelCheckpoint, checkpoint_key
from schemas.settings import Settings
from streams.core.decisions.result import Result
from streams.runtime.checkpoint_store import CheckpointStore, Offer
from streams.runtime.model_checkpoints import ModelCheckpoints
from streams.runtime.send_time_prior import SendTimePrior, served_counts

AT = datetime(2026, 12, 3, 9, tzinfo=UTC)


def counts(sends: dict[int, int], opens: dict[int, int] | None = None) -> dict[str, list[int]]:
    hours = HourCounts()
    for hour, n in sends.items():
        hours.add(hour, sends=n)
    for hour, n in (opens or {}).items():
        hours.add(hour, opens=n)
    return hours.to_dict()


def message(
    partition: int,
    sequence: int,
    state: dict[str, Any] | None = None,
    *,
    model: str = SEND_TIME_PRIOR,
    events: int = 1,
    key: str | None = None,
) -> tuple[bytes, bytes]:
    checkpoint = ModelCheckpoint(
        model=model, partition=partition, sequence=sequence, taken_at=AT, events=events,
        state=state if state is not None else counts({19: 1}),
    )  # fmt: skip
    name = key if key is not None else checkpoint_key(model, partition)
    return name.encode(), checkpoint.model_dump_json().encode()


def prior_store() -> CheckpointStore:
    return CheckpointStore({SEND_TIME_PRIOR: SendTimePrior().check})


# --- the store ---------------------------------------------------------------------------


def test_the_store_keeps_the_newest_sequence_per_key_whatever_the_order() -> None:
    store = prior_store()
    assert store.offer(*message(0, 2, counts({9: 2}))) is Offer.KEPT
    assert store.offer(*message(0, 1, counts({9: 1}))) is Offer.OLDER  # late: ignored
    assert store.offer(*message(1, 1, counts({10: 5}))) is Offer.KEPT
    assert store.offer(*message(0, 3, counts({9: 3}))) is Offer.KEPT
    assert store.offer(*message(0, 3, counts({9: 3}))) is Offer.SAME  # read back: no change
    latest = store.latest(SEND_TIME_PRIOR, 0)
    assert latest is not None and (latest.sequence, latest.state["sends"][9]) == (3, 3)
    assert [c.partition for c in store.of_model(SEND_TIME_PRIOR)] == [0, 1]
    assert store.version == 3  # three changes; the older and the same were none


def test_an_equal_sequence_with_other_content_replaces_it_as_compaction_would() -> None:
    # Two writers of one partition in a rebalance's overlap: every reader ends with the
    # last in the topic's order, the one compaction keeps.
    store = prior_store()
    store.offer(*message(0, 4, counts({9: 1})))
    assert store.offer(*message(0, 4, counts({9: 7}))) is Offer.KEPT
    latest = store.latest(SEND_TIME_PRIOR, 0)
    assert latest is not None and latest.state["sends"][9] == 7


def test_a_tombstone_removes_its_key() -> None:
    store = prior_store()
    key, value = message(2, 1)
    store.offer(key, value)
    assert store.offer(key, None) is Offer.REMOVED
    assert store.latest(SEND_TIME_PRIOR, 2) is None
    assert store.offer(key, None) is Offer.SAME
    assert store.offer(None, None) is Offer.KEY_MISMATCH


BAD_STATES: dict[str, dict[str, Any]] = {
    "negative sends": {"sends": [-1] + [0] * 23, "opens": [0] * 24},
    "negative opens": {"sends": [0] * 24, "opens": [0] * 23 + [-2]},
    "23 hours": {"sends": [0] * 23, "opens": [0] * 23},
    "no opens": {"sends": [0] * 24},
    "not numbers": {"sends": ["x"] * 24, "opens": [0] * 24},
    "not lists": {"sends": 3, "opens": 4},
}


@pytest.mark.parametrize("state", BAD_STATES.values(), ids=list(BAD_STATES))
def test_a_state_the_model_refuses_is_refused_and_the_previous_one_stays(
    state: dict[str, Any],
) -> None:
    store = prior_store()
    store.offer(*message(0, 1, counts({9: 1})))
    offer = store.offer(*message(0, 2, state))
    assert offer is Offer.BAD_STATE and offer.refused
    latest = store.latest(SEND_TIME_PRIOR, 0)
    assert latest is not None and latest.sequence == 1


@pytest.mark.parametrize(
    ("key", "value", "refusal"),
    [
        (b"send_time_prior/0", b"{not json", Offer.INVALID),
        (b"send_time_prior/0", b"{}", Offer.INVALID),
        (b"send_time_prior/1", message(0, 1)[1], Offer.KEY_MISMATCH),
        (None, message(0, 1)[1], Offer.KEY_MISMATCH),
        (b"\xff\xfe", message(0, 1)[1], Offer.KEY_MISMATCH),
        (*message(0, 1, {"whatever": 1}, model="drift_detectors"), Offer.UNKNOWN_MODEL),
        (*message(0, 1, model="some_other_model"), Offer.UNKNOWN_MODEL),
    ],
    ids=["not json", "empty", "wrong partition", "keyless", "not text", "drift", "other"],
)
def test_what_is_not_a_checkpoint_of_a_known_model_is_refused(
    key: bytes | None, value: bytes, refusal: Offer
) -> None:
    store = prior_store()
    assert store.offer(key, value) is refusal and refusal.refused
    assert store.version == 0


def test_a_negative_partition_or_sequence_zero_is_not_a_checkpoint() -> None:
    good = json.loads(message(0, 1)[1])
    for field, bad in (("partition", -1), ("sequence", 0), ("events", -5)):
        value = json.dumps({**good, field: bad}).encode()
        assert prior_store().offer(b"send_time_prior/0", value) is Offer.INVALID


# --- the prior ---------------------------------------------------------------------------


def test_the_served_prior_is_the_sum_of_every_partitions_newest_checkpoint() -> None:
    store = prior_store()
    store.offer(*message(0, 1, counts({19: 10}, {19: 1})))
    store.offer(*message(0, 2, counts({19: 10}, {19: 8})))  # replaces partition 0's
    store.offer(*message(1, 5, counts({9: 30, 19: 10}, {9: 3, 19: 2})))
    total = served_counts(store.of_model(SEND_TIME_PRIOR))
    assert (total.sends[19], total.opens[19], total.sends[9], total.opens[9]) == (20, 10, 30, 3)
    assert sum(total.sends) == 50
    assert HourCounts().rates() == ()


def test_served_rates_stay_within_zero_and_one_when_opens_outnumber_sends() -> None:
    # A crash lost the sends; the opens of those messages came after the restart.
    lopsided = HourCounts.from_dict(counts({9: 1}, {9: 60}))
    rates = lopsided.rates()
    assert max(rates) == 1.0 and min(rates) >= 0


def test_the_prior_counts_per_partition_only_what_was_sent_or_opened() -> None:
    prior = SendTimePrior()
    prior.learn(0, Result(sent_hours=[19, 19], opened_hours=[]))
    prior.learn(0, Result(opened_hours=[19]))
    prior.learn(1, Result(sent_hours=[8]))
    prior.learn(1, Result())  # nothing to count: not an event the prior learned from
    assert prior.changed() == {0, 1}
    assert (prior.pending(0).sends[19], prior.pending(0).opens[19]) == (2, 1)
    assert sum(prior.pending(1).sends) == 1 and sum(prior.pending(0).sends) == 2
    state, events = prior.state(0, None)
    assert state == counts({19: 2}, {19: 1}) and events == 2


def test_a_partitions_state_is_its_newest_checkpoint_plus_what_was_learned_since() -> None:
    prior = SendTimePrior()
    prior.learn(3, Result(sent_hours=[9]))
    latest = ModelCheckpoint(
        model=SEND_TIME_PRIOR, partition=3, sequence=7, taken_at=AT, events=40,
        state=counts({9: 30, 10: 5}, {9: 4}),
    )  # fmt: skip
    state, events = prior.state(3, latest)
    assert state == counts({9: 31, 10: 5}, {9: 4}) and events == 41
    prior.written(3)
    assert prior.changed() == set()
    assert prior.state(3, latest) == (latest.state, 40)


# --- writing -----------------------------------------------------------------------------


class Producer:
    """A fake producer that logs what was flushed and sent, and can refuse sends."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.sent: list[tuple[bytes, bytes]] = []
        self.refuse = False

    async def flush(self) -> None:
        self.calls.append("flush")

    async def send(self, key: bytes, value: bytes) -> None:
        if self.refuse:
            msg = "the broker is away"
            raise ConnectionError(msg)
        self.calls.append(f"send {key.decode()}")
        self.sent.append((key, value))


def checkpoints(producer: Producer) -> ModelCheckpoints:
    learning = ModelCheckpoints(
        Settings(), [SendTimePrior()], lock=asyncio.Lock(), clock=lambda: AT,
        send=producer.send, flush=producer.flush,
    )  # fmt: skip
    learning.ready.set()  # as ``run`` does once the topic is read (none here)
    return learning


def written(producer: Producer) -> list[ModelCheckpoint]:
    return [ModelCheckpoint.model_validate_json(value) for _, value in producer.sent]


def sample(name: str, **labels: str) -> float:
    return float(REGISTRY.get_sample_value(name, labels) or 0.0)


async def test_each_partition_is_written_on_its_newest_checkpoint_after_the_producer_flushed():
    producer = Producer()
    learning = checkpoints(producer)
    learning.take(*message(1, 4, counts({9: 10}, {9: 2}), events=12))  # a previous owner's
    before = sample("nudge_model_checkpoints_written_total", model=SEND_TIME_PRIOR)
    learning.learn(0, Result(sent_hours=[19]))
    learning.learn(1, Result(sent_hours=[9], opened_hours=[9]))
    assert await learning.write(why="interval") == 2
    assert producer.calls == ["flush", "send send_time_prior/0", "send send_time_prior/1"]
    zero, one = written(producer)
    assert (zero.partition, zero.sequence, zero.events, zero.taken_at) == (0, 1, 1, AT)
    assert zero.state == counts({19: 1})
    assert (one.sequence, one.events, one.state) == (5, 13, counts({9: 11}, {9: 3}))
    assert sample("nudge_model_checkpoints_written_total", model=SEND_TIME_PRIOR) == before + 2
    # Kept at once: the prior served now is the sum, and the next write builds on it.
    assert learning.hour_prior == HourCounts.from_dict(counts({9: 11, 19: 1}, {9: 3})).rates()
    assert await learning.write(why="interval") == 0  # nothing learned since
    learning.learn(0, Result(opened_hours=[19]))
    assert await learning.write(why="interval") == 1
    assert written(producer)[-1].state == counts({19: 1}, {19: 1})
    assert written(producer)[-1].sequence == 2


async def test_a_refused_send_keeps_the_counts_for_the_next_checkpoint():
    producer = Producer()
    learning = checkpoints(producer)
    learning.learn(0, Result(sent_hours=[19, 20]))
    producer.refuse = True
    failures = sample("nudge_model_checkpoint_failures_total", model=SEND_TIME_PRIOR)
    assert await learning.write(why="interval") == 0
    assert sample("nudge_model_checkpoint_failures_total", model=SEND_TIME_PRIOR) == failures + 1
    assert learning.hour_prior == ()  # nothing was written: nothing served
    producer.refuse = False
    learning.learn(0, Result(sent_hours=[19]))
    assert await learning.write(why="interval") == 1
    (only,) = written(producer)
    assert only.state == counts({19: 2, 20: 1}) and only.sequence == 1


async def test_handing_partitions_back_writes_them_and_forgets_them():
    producer = Producer()
    learning = checkpoints(producer)
    learning.learn(0, Result(sent_hours=[9]))
    learning.learn(1, Result(sent_hours=[10]))
    assert await learning.hand_back({1}, why="revoked") == 1
    assert [c.partition for c in written(producer)] == [1]
    assert await learning.write(why="interval") == 1  # partition 0 was still counting
    assert [c.partition for c in written(producer)] == [1, 0]


async def test_a_refused_message_is_counted_and_changes_nothing_served():
    learning = checkpoints(Producer())
    learning.take(*message(0, 1, counts({9: 4}, {9: 1})))
    served = learning.hour_prior
    refused = sample("nudge_model_checkpoints_refused_total", reason="bad_state")
    learning.take(*message(0, 2, BAD_STATES["negative sends"]))
    assert sample("nudge_model_checkpoints_refused_total", reason="bad_state") == refused + 1
    assert learning.hour_prior is served
    assert sample("nudge_send_time_prior_sends") == 4


async def test_a_partition_is_restored_from_its_newest_checkpoint_when_first_learned():
    restored: list[tuple[int, int | None]] = []

    class Recording(SendTimePrior):
        def restore(self, partition: int, latest: ModelCheckpoint | None) -> None:
            restored.append((partition, latest.sequence if latest else None))

    learning = ModelCheckpoints(
        Settings(), [Recording()], lock=asyncio.Lock(), clock=lambda: AT,
        send=Producer().send, flush=Producer().flush,
    )  # fmt: skip
    learning.take(*message(1, 6))
    for partition in (1, 1, 0, 1):
        learning.learn(partition, Result())
    assert restored == [(1, 6), (0, None)]
    await learning.hand_back({1}, why="revoked")
    learning.learn(1, Result())  # given back later: restored again
    assert restored[-1] == (1, 6)
