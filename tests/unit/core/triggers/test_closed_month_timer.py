"""A closed month no event judged is judged by the timer: incomes that stop are told.

``income_history`` pays $3000 on 1 March and 1 April, and the given amount in May; the
timer looks at June's state with no June event (the user went quiet, or the pay stopped).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.ids import decision_id
from schemas.records import Outcome
from streams.core.decisions.process import process, process_scheduled
from streams.core.decisions.result import Result
from streams.core.rendering import default_catalogue
from streams.core.state.record import UserState
from streams.core.triggers.catalogue import default_definitions
from streams.core.triggers.evaluation import MONTH_CLOSE_GRACE
from tests.unit.factories import fold, income_history, profile, transaction

USER = "user-1"
INCOME_DROP = next(d for d in default_definitions() if d.id == "income_drop")
JUNE_1 = datetime(2026, 6, 1, tzinfo=UTC)
MAY = "month:2026-05"


def quiet_user(may_income: str) -> UserState:
    """Paid in March and April, ``may_income`` in May, nothing since (all consenting)."""
    consent = {"sms": True, "email": True}
    name = profile(USER, datetime(2026, 2, 1, tzinfo=UTC), first_name="Ada", consent=consent)
    return fold([name, *income_history(USER, may_income)])


def tick(state: UserState, now: datetime) -> Result:
    return process_scheduled(USER, state, [INCOME_DROP], default_catalogue(), now=now)


@pytest.mark.parametrize(
    ("may_income", "drop"),
    [("0", 100.0), ("2000.00", 33.333333333), ("2600.00", 13.333333333)],
)
def test_the_timer_judges_a_month_no_event_judged_once(may_income: str, drop: float) -> None:
    state = quiet_user(may_income)
    assert tick(state, JUNE_1 + MONTH_CLOSE_GRACE - timedelta(seconds=1)) == Result()
    result = tick(state, JUNE_1 + MONTH_CLOSE_GRACE)
    assert result.judged and state.evaluated["income_drop"] == 2026 * 12 + 4  # May
    fires = drop >= 15
    assert [d.outcome for d in result.decisions] == ([Outcome.FIRED] if fires else [])
    if fires:
        (decision,) = result.decisions
        assert decision.features["income_drop_pct"] == pytest.approx(drop)
        assert decision.decision_id == decision_id("income_drop", USER, MAY)
        # 00:00 UTC is in the user's quiet hours: both sends are held for the morning.
        assert result.held == 2 and result.commands == []
    again = tick(state, JUNE_1 + timedelta(days=9))
    assert again == Result()  # judged: never twice, fired or not


def test_a_month_an_event_judged_is_not_judged_by_the_timer() -> None:
    state = quiet_user("0")
    june_event = transaction(USER, JUNE_1 + timedelta(hours=5), "12.00")
    result = process(state, june_event, [INCOME_DROP], default_catalogue(),
                     now=june_event.occurred_at, max_event_age_seconds=86_400.0)  # fmt: skip
    (decision,) = result.decisions
    assert decision.decision_id == decision_id("income_drop", USER, MAY)  # the same id
    assert tick(state, JUNE_1 + timedelta(days=3)) == Result()


def test_a_month_the_timer_judged_is_not_judged_by_a_later_event() -> None:
    state = quiet_user("0")
    assert tick(state, JUNE_1 + timedelta(days=3)).decisions
    back = transaction(USER, JUNE_1 + timedelta(days=4), "12.00")
    result = process(state, back, [INCOME_DROP], default_catalogue(),
                     now=back.occurred_at, max_event_age_seconds=86_400.0)  # fmt: skip
    assert result.decisions == []


def test_a_user_without_an_income_baseline_is_marked_but_not_told() -> None:
    state = fold([transaction(USER, datetime(2026, 5, 3, tzinfo=UTC), "40.00")])
    result = tick(state, JUNE_1 + timedelta(days=3))
    assert result.decisions == [] and result.judged  # stored, so the next pass skips it
    assert tick(state, JUNE_1 + timedelta(days=4)) == Result()
