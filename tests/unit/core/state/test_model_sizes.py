"""What the online models add to a user's encoded record, typical and worst: pinned budgets.

Beside ``test_dedup``'s record sizes (its ``RECOMMENDER_KEYS`` leaves these keys out of the
1 KiB and 300-byte budgets): each model's state has a budget of its own, measured as the
bytes it adds to ``UserState.to_bytes()`` (its key included), on records built through the
fold and ``process``. The figures measured when the budgets were set are in the comments.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from models.online import send_time
from schemas.events import Event
from schemas.triggers import TriggerDefinition
from streams.core.decisions.process import process
from streams.core.decisions.result import Result
from streams.core.decisions.send_policy import SendPolicy
from streams.core.rendering import default_catalogue
from streams.core.state.fold import GOAL_PROGRESS_KEPT, apply_event
from streams.core.state.record import UserState
from tests.unit.factories import START, card_debit, event

USER = "user-1"
HOUR = timedelta(hours=1)

#: Budgets in bytes of encoded record, per model: typical user, worst case.
ANOMALY_BUDGET = 120  # measured: 103 at most (200 debits, 4 countries, 1 cent to $1M)
SEND_HOURS_TYPICAL = 220  # measured: 196 (a month of capped sends at five usual hours)
SEND_HOURS_WORST = 470  # measured: 445 (24 hours used at 39 sends each, 8 to credit)
GOAL_TYPICAL = 140  # measured: 116 (one goal, a uuid id, six monthly reports)
GOAL_WORST = 400  # measured: 370 (3 goals, 36-character ids, fractional times, $1M)


def added_bytes(state: UserState, key: str) -> int:
    """Bytes ``key``'s field adds to the encoded record (with its name)."""
    without = UserState.from_bytes(state.to_bytes())
    setattr(without, key, {} if key == "goal_progress" else None)
    assert key in orjson.loads(state.to_bytes()) and key not in orjson.loads(without.to_bytes())
    return len(state.to_bytes()) - len(without.to_bytes())


# --- anomaly ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_the_anomaly_state_after_200_debits_is_within_budget(seed: int) -> None:
    # Worst inputs: amounts over eight orders of magnitude (the widest figures), a home
    # country contested by four, novelty everywhere, every hour.
    rng = random.Random(seed)
    state = UserState()
    for i in range(200):
        debit = card_debit(
            USER, START + i * 7.3 * HOUR, f"{10 ** rng.uniform(-2, 6):.2f}",
            merchant=f"m-{rng.randrange(500)}", category=f"c-{rng.randrange(60)}",
            country=rng.choice(["US", "FR", "DE", "GB"]),
        )  # fmt: skip
        assert apply_event(state, debit)
        assert added_bytes(state, "anomaly") < ANOMALY_BUDGET
    assert UserState.from_bytes(state.to_bytes()) == state


# --- send_hours ---------------------------------------------------------------------------


EVERY_DEBIT = TriggerDefinition.model_validate(
    {
        "id": "every_debit", "name": "every_debit", "type": "behavioral",
        "category": "financial", "evaluate_on": {"events": ["transaction"]},
        "condition": {"feature": "transaction_direction", "eq": "debit"},
        "priority": "medium", "channels": [{"channel": "sms", "template": "spending_spike.sms"}],
    }
)  # fmt: skip


def test_a_typical_users_send_hours_are_within_budget() -> None:
    # A month of debits at the user's few usual hours, each one matched; the caps let 2 a
    # day and 5 a week through. Two messages in five are opened an hour later.
    rng = random.Random(3)
    state = UserState()
    at = datetime(2026, 3, 2, tzinfo=UTC)
    opened = 0
    for day in range(30):
        for hour in rng.sample([9, 12, 13, 18, 19], 2):
            debit = card_debit(USER, at + day * 24 * HOUR + hour * HOUR, "12.00", merchant="m")
            result = _run(state, debit)
            for command in result.commands:
                if rng.random() < 0.4:
                    _run(state, _opened(command.command_id, debit.occurred_at + HOUR))
                    opened += 1
    assert state.send_hours is not None
    sends, opens = send_time.sends_and_opens(state.send_hours)
    assert sends >= 20 and opens == opened > 0
    assert added_bytes(state, "send_hours") < SEND_HOURS_TYPICAL


def test_the_worst_send_hours_are_within_budget() -> None:
    # Every local hour used, each at 39 sends and as many opens (two digits each), and the
    # last eight sends still to credit: the most the state can hold.
    state = UserState()
    model = state.send_hours = send_time.empty()
    for hour in range(24):
        for k in range(send_time.SENDS_CAP - 1):
            command = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{hour}-{k}"))
            send_time.note_send(model, command, hour)
            send_time.note_outcome(model, command, "clicked")
    for k in range(send_time.RECENT_KEPT):
        send_time.note_send(model, str(uuid.uuid5(uuid.NAMESPACE_URL, f"x-{k}")), 10 + k)
    assert len(model[send_time.COUNTS]) == 24 and len(model[send_time.RECENT]) == 8
    assert added_bytes(state, "send_hours") < SEND_HOURS_WORST
    assert UserState.from_bytes(state.to_bytes()) == state


# --- goal_progress ------------------------------------------------------------------------


def _saving(goal: str, at: datetime, saved: str, target: str) -> Event:
    return event(
        USER, at, {"type": "savings_progress", "goal_id": goal, "saved": saved, "target": target,
                   "deadline": "2027-06-30"},
    )  # fmt: skip


def test_a_typical_goal_is_within_budget() -> None:
    state = UserState()
    goal = str(uuid.UUID(int=1))
    for month in range(6):
        at = START + month * 30 * 24 * HOUR
        assert apply_event(state, _saving(goal, at, f"{250 * (month + 1)}.00", "5000.00"))
    assert added_bytes(state, "goal_progress") < GOAL_TYPICAL


def test_the_worst_goals_are_within_budget() -> None:
    # Three goals kept (the bound), each with a 36-character id, reports at fractional
    # seconds, amounts near a million dollars, short intervals (large sums of ds**2 / dt).
    state = UserState()
    rng = random.Random(5)
    ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(GOAL_PROGRESS_KEPT + 1)]
    for n, goal in enumerate(ids):
        at = START + n * HOUR + timedelta(microseconds=123_457)
        for _ in range(12):
            saved = f"{rng.uniform(0, 999_999):.2f}"
            at += timedelta(days=0.5, microseconds=rng.randrange(10**6))
            assert apply_event(state, _saving(goal, at, saved, "999999.99"))
    assert list(state.goal_progress) == ids[-GOAL_PROGRESS_KEPT:]
    assert all(len(goal) == 36 for goal in state.goal_progress)
    assert added_bytes(state, "goal_progress") < GOAL_WORST
    assert UserState.from_bytes(state.to_bytes()) == state


def _run(state: UserState, item: Event) -> Result:
    return process(
        state, item, [EVERY_DEBIT], default_catalogue(), now=item.occurred_at,
        max_event_age_seconds=2 * 86_400, policy=SendPolicy(),
    )  # fmt: skip


def _opened(command: str, at: datetime) -> Event:
    return event(USER, at, {"type": "comms_outcome", "command_id": command, "outcome": "opened"})
