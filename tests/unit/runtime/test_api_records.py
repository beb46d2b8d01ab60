"""The query API's read of a user's live record: 404, 503 while restoring, or a copy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from streams.core.state.record import UserState
from streams.runtime.api import Answer, Api, _limit
from streams.runtime.api_gate import Gate


def api(users: dict[bytes, UserState], **app: bool) -> Api:
    stage: Any = SimpleNamespace(lock=asyncio.Lock(), users=users)
    owner: Any = SimpleNamespace(**{"rebalancing": False, "in_recovery": False, **app})
    return Api(app=owner, stage=stage, gate=Gate({}, 1.0, 1, b"key"), history=None)


@pytest.mark.parametrize(
    ("app", "status", "detail"),
    [
        ({}, 404, "no record of this user on its owning worker"),
        ({"rebalancing": True}, 503, "the user's partition is being restored; try again"),
        ({"in_recovery": True}, 503, "the user's partition is being restored; try again"),
    ],
)
async def test_a_missing_record_is_404_unless_records_are_still_coming(
    app: dict[str, bool], status: int, detail: str
) -> None:
    with pytest.raises(Answer) as raised:
        await api({}, **app)._record("nobody")
    assert (raised.value.problem.status, raised.value.problem.detail) == (status, detail)


@pytest.mark.parametrize("app", [{}, {"rebalancing": True}, {"in_recovery": True}])
async def test_a_record_there_is_answered_as_a_copy(app: dict[str, bool]) -> None:
    live = UserState()
    live.last_fired["spending_spike"] = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    found = await api({b"ada": live}, **app)._record("ada")
    assert found.last_fired == live.last_fired
    found.last_fired.clear()  # the caller's copy: the live record is untouched
    assert live.last_fired


@pytest.mark.parametrize(
    ("given", "read"),
    [
        (None, 10),  # the default
        ("5", 5),
        ("0005", 5),
        ("50", 50),
        ("51", None),  # over the most
        ("0", None),
        ("", None),
        ("-1", None),
        ("+5", None),
        (" 5", None),
        ("1e3", None),
        ("²", None),  # a digit to str.isdigit, not to int
        ("٣", None),  # another script's digit: ASCII only
        ("１２", None),
        ("9" * 5000, None),  # more digits than int reads: a 400, not a 500
        ("0" * 5000 + "7", 7),  # leading zeros, however many
    ],
)
def test_a_limit_is_a_plain_whole_number_in_range_or_a_400(
    given: str | None, read: int | None
) -> None:
    query = {} if given is None else {"limit": given}
    if read is not None:
        assert _limit(query, "limit", 10, 50) == read
        return
    with pytest.raises(Answer) as raised:
        _limit(query, "limit", 10, 50)
    assert raised.value.problem.status == 400
    assert raised.value.problem.detail == "limit must be a whole number from 1 to 50"
