"""The due-index: users with a held command by when it falls due, and partitions it knows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from streams.core.decisions.due_index import DueIndex, DueUser, earliest_held
from streams.core.state.record import UserState

T0 = datetime(2026, 6, 5, 12, tzinfo=UTC)


def holding(*hours: float) -> UserState:
    """A record holding commands due ``hours`` after T0 (only ``send_at`` matters here)."""
    return UserState(pending=[{"send_at": (T0 + timedelta(hours=h)).isoformat()} for h in hours])


def at(hours: float) -> float:
    return (T0 + timedelta(hours=hours)).timestamp()


def test_the_earliest_held_send_is_the_users_due_time() -> None:
    assert earliest_held(UserState()) is None
    assert earliest_held(holding(5, 2, 9)) == at(2)


def test_a_user_is_due_once_its_first_send_has_come_and_not_before() -> None:
    index = DueIndex()
    index.note(b"ada", 3, holding(2, 5))
    index.note(b"bob", 1, UserState())  # nothing held: no entry
    assert len(index) == 1
    assert index.take_due(at(1.99)) == []
    assert index.take_due(at(2)) == [DueUser(b"ada", 3, at(2))]
    assert len(index) == 0  # taken: the caller notes it again from what is still held


def test_a_store_replaces_the_users_time_and_the_old_one_is_skipped() -> None:
    index = DueIndex()
    index.note(b"ada", 0, holding(1))
    index.note(b"ada", 0, holding(4))  # released meanwhile, a later one held
    assert index.take_due(at(3)) == []
    index.note(b"ada", 0, UserState())  # nothing held any more
    assert index.take_due(at(10)) == []


def test_users_not_looked_at_are_put_back_unless_stored_since() -> None:
    index = DueIndex()
    index.note(b"ada", 0, holding(1))
    index.note(b"bob", 0, holding(1))
    taken = index.take_due(at(1))
    index.note(b"bob", 0, holding(6))  # a batch stored bob after he was taken
    index.restore(taken)
    assert index.take_due(at(2)) == [DueUser(b"ada", 0, at(1))]
    assert index.take_due(at(6)) == [DueUser(b"bob", 0, at(6))]


def test_forgotten_partitions_lose_their_users_and_completeness() -> None:
    index = DueIndex()
    index.note(b"ada", 0, holding(1))
    index.note(b"bob", 1, holding(1))
    index.complete({0, 1}, index.epoch)
    assert index.completed() == {0, 1}
    index.forget({1})
    assert index.completed() == {0} and not index.is_complete(1)
    assert index.take_due(at(1)) == [DueUser(b"ada", 0, at(1))]


def test_a_pass_that_began_before_a_forget_does_not_complete_a_partition() -> None:
    index = DueIndex()
    began = index.epoch
    index.forget({0})  # a rebalance during the pass
    index.complete({0}, began)
    assert not index.is_complete(0)
    index.complete({0}, index.epoch)
    assert index.is_complete(0)


@given(st.lists(st.tuples(st.integers(0, 20), st.one_of(st.none(), st.integers(0, 48)))))
def test_taken_users_are_exactly_those_due_whatever_the_history(
    notes: list[tuple[int, int | None]],
) -> None:
    """Many changes of many users (stale heap entries, rebuilds): each due user once."""
    index = DueIndex()
    truth: dict[bytes, float] = {}
    for user, hours in notes:
        key = f"u{user}".encode()
        index.note(key, 0, UserState() if hours is None else holding(hours))
        if hours is None:
            truth.pop(key, None)
        else:
            truth[key] = at(hours)
    taken = index.take_due(at(24))
    assert sorted(u.key for u in taken) == sorted(k for k, t in truth.items() if t <= at(24))
    assert [u.at for u in taken] == sorted(u.at for u in taken)
    assert len(index) == sum(1 for t in truth.values() if t > at(24))
