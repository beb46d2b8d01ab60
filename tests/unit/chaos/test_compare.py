"""The chaos comparison: lost, extra, duplicated, changed; where lost events were."""

from __future__ import annotations

from streams.chaos.compare import compare, unapplied_events, verdict
from streams.chaos.observe import Observation
from streams.chaos.recording import Message, Recording, record
from streams.core.state.dedup import fingerprint


def observation(**fields) -> Observation:
    seen = Observation(
        messages={"comms.commands": {}, "trigger.decisions": {}},
        rows={"communications": {}},
    )
    for name, value in fields.items():
        setattr(seen, name, value)
    return seen


def test_a_run_equal_to_the_reference_has_nothing_to_report() -> None:
    reference = observation(
        messages={"comms.commands": {"c1": ["x"]}, "trigger.decisions": {"d1": ["y"]}},
        rows={"communications": {"c1": "x"}},
        state={"u1": "s"},
        applied={"u1": 3},
    )
    totals = verdict(compare(reference, reference))
    assert set(totals.values()) == {0}


def test_lost_extra_duplicates_and_changed_are_counted_apart() -> None:
    reference = observation(
        messages={"comms.commands": {"c1": ["a"], "c2": ["b"]}, "trigger.decisions": {}},
        rows={"communications": {"c1": "a", "c2": "b"}},
    )
    run = observation(
        # c1 twice (at-least-once), c2 lost, c3 extra
        messages={"comms.commands": {"c1": ["a", "a"], "c3": ["c"]}, "trigger.decisions": {}},
        # c1 stored with other content
        rows={"communications": {"c1": "other", "c2": "b"}},
    )
    differences = compare(reference, run)
    commands = differences["topics"]["comms.commands"]
    assert (commands["lost"], commands["extra"], commands["duplicates"]) == (1, 1, 1)
    assert commands["lost_sample"] == ["c2"] and commands["extra_sample"] == ["c3"]
    assert differences["rows"]["communications"]["changed_sample"] == ["c1"]
    totals = verdict(differences)
    assert (totals["lost"], totals["extra"], totals["changed"]) == (1, 1, 1)
    assert totals["duplicates_on_topics"] == 1


def test_copies_of_one_id_with_different_content_conflict() -> None:
    reference = observation(messages={"comms.commands": {"c1": ["a"]}, "trigger.decisions": {}})
    run = observation(messages={"comms.commands": {"c1": ["a", "b"]}, "trigger.decisions": {}})
    assert verdict(compare(reference, run))["conflicting"] == 1


def test_events_a_state_misses_or_counts_twice() -> None:
    reference = observation(state={"u1": "s", "u2": "t"}, applied={"u1": 10, "u2": 5})
    run = observation(state={"u1": "s2", "u2": "t2"}, applied={"u1": 7, "u2": 6})
    state = compare(reference, run)["state"]
    assert (state["events_missing"], state["events_doubled"], state["changed"]) == (3, 1, 2)
    assert state["users_with_gaps"] == {"u1": -3, "u2": 1}


def test_unapplied_events_are_located_as_offset_ranges() -> None:
    located = {f"e{n}": ("behavior.events", n % 2, n // 2) for n in range(20)}
    # Records remember fingerprints of the ids, not the ids.
    reference = observation(applied_ids={fingerprint(event_id) for event_id in located})
    # partition 0 misses offsets 2..4, partition 1 offset 7
    missing = {"e4", "e6", "e8", "e15"}
    run = observation(applied_ids={fingerprint(event_id) for event_id in set(located) - missing})
    assert unapplied_events(reference, run, located) == {
        "behavior.events/0": [[2, 4]],
        "behavior.events/1": [[7, 7]],
    }


def test_a_recording_is_the_same_for_the_same_arguments_and_placed_by_key() -> None:
    first = record(users=12, seed=3, history_days=30, invalid_share=0.01, partitions=4)
    second = record(users=12, seed=3, history_days=30, invalid_share=0.01, partitions=4)
    assert first.digest() == second.digest()
    # The digest does tell recordings apart: another seed is another recording.
    other = record(users=12, seed=4, history_days=30, invalid_share=0.01, partitions=4)
    assert other.digest() != first.digest()
    assert first.events and {m.partition for m in first.events} == set(range(4))
    by_key: dict[bytes, set[int]] = {}
    for message in first.events:
        if message.key is not None:
            by_key.setdefault(message.key, set()).add(message.partition)
    assert all(len(partitions) == 1 for partitions in by_key.values())
    for partition in range(4):
        offsets = [m.offset for m in first.events if m.partition == partition]
        assert offsets == list(range(len(offsets)))


def test_locate_names_topic_partition_and_offset() -> None:
    recording = Recording(
        events=(Message(1, 0, b"u", b"{}", "e1"), Message(1, 1, b"u", b"x", None)),
        scores=(Message(0, 0, b"u", b"{}", "s1"),),
    )
    assert recording.locate() == {
        "e1": ("behavior.events", 1, 0),
        "s1": ("risk.scores", 0, 0),
    }
