"""A smaller pay deposit is told when it arrives, and never doubles with the month's drop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.records import Outcome, SuppressionReason
from streams.core.decisions.process import process
from streams.core.rendering import default_catalogue
from streams.core.state.record import UserState
from streams.core.triggers.catalogue import default_definitions
from tests.unit.factories import fold, income, match_of, transaction

USER = "user-1"
DEFINITIONS = [d for d in default_definitions() if d.id in ("pay_cut", "income_drop")]
#: Paid on the 1st and the 15th from November 2025; March 2026 is where the tests happen.
PAYDAYS = [
    datetime(year, month, day, 9, tzinfo=UTC)
    for year, month in ((2025, 11), (2025, 12), (2026, 1), (2026, 2))
    for day in (1, 15)
]
STEADY = ("2000.00",) * 8


def paid(*amounts: str) -> UserState:
    """Deposits of ``amounts`` on the paydays, oldest first."""
    return fold([income(USER, day, amount) for day, amount in zip(PAYDAYS, amounts, strict=False)])


@pytest.mark.parametrize(
    ("history", "deposit", "usual", "fires"),
    [
        (("2000.00",) * 4, "1700.00", 2000.0, True),  # exactly 15 % below
        (("2000.00",) * 4, "1700.01", 2000.0, False),
        (("2000.00",) * 3, "1200.00", 2000.0, True),  # three earlier deposits are enough
        (("2000.00",) * 2, "1200.00", None, False),  # two are not: not yet "regular"
        (("2000.00", "2000.00", "1800.00", "2200.00"), "1500.00", 2000.0, True),  # within 10 %
        (
            ("2000.00", "2000.00", "2000.00", "2300.00"),
            "1500.00",
            None,
            False,
        ),  # irregular
        (("80.00",) * 4, "40.00", 80.0, False),  # below the $100 minimum
    ],
)
def test_a_deposit_below_the_usual_regular_pay(
    history: tuple[str, ...], deposit: str, usual: float | None, fires: bool
) -> None:
    state = paid(*history)
    cut = income(USER, datetime(2026, 3, 1, 9, tzinfo=UTC), deposit)
    match = match_of("pay_cut", state, cut)
    assert (match is not None) is fires
    if match is not None:
        assert match.features["usual_deposit"] == usual


Decided = list[tuple[str, Outcome, SuppressionReason | None]]


def run(state: UserState, at: datetime, event_kind: str, amount: str) -> Decided:
    make = income if event_kind == "income" else transaction
    item = make(USER, at, amount)
    result = process(state, item, DEFINITIONS, default_catalogue(), now=at,
                     max_event_age_seconds=86_400.0)  # fmt: skip
    return [(d.trigger_id, d.outcome, d.reason) for d in result.decisions]


def test_a_pay_cut_told_in_march_is_not_told_again_as_march_s_income_drop() -> None:
    state = paid(*STEADY)
    assert run(state, datetime(2026, 3, 1, 9, tzinfo=UTC), "income", "1400.00") == [
        ("pay_cut", Outcome.FIRED, None)
    ]
    run(state, datetime(2026, 3, 15, 9, tzinfo=UTC), "income", "1400.00")  # cooldown
    # April's first event judges March: 2800 against 4000 a month, but told already.
    assert run(state, datetime(2026, 4, 2, 9, tzinfo=UTC), "debit", "5.00") == [
        ("income_drop", Outcome.SUPPRESSED, SuppressionReason.EXCLUDED)
    ]


def test_a_pay_cut_soon_after_an_income_drop_is_not_told() -> None:
    state = paid(*STEADY)
    fold([income(USER, datetime(2026, 3, 1, 9, tzinfo=UTC), "2000.00")], state)  # no 15th
    # March: 2000 against 4000 a month, told at April's first event...
    april = datetime(2026, 4, 1, 8, tzinfo=UTC)
    assert run(state, april, "debit", "5.00") == [("income_drop", Outcome.FIRED, None)]
    # ...and April's smaller pay an hour later is the same news: not told again.
    assert run(state, april + timedelta(hours=1), "income", "1400.00") == [
        ("pay_cut", Outcome.SUPPRESSED, SuppressionReason.EXCLUDED)
    ]
