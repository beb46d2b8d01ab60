"""The recommender's running figures: folded from events, equal to the batch arithmetic."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from models.features import Transaction, alert_features
from schemas.alerts import AlertType
from streams.core.state import alert_stats
from streams.core.state.record import UserState
from tests.unit.factories import START, event, fold

USER = "u-1"


def figures(state: UserState) -> list[Any]:
    assert state.alerts is not None
    return state.alerts


def debit(day: float, amount: str, merchant: str | None = None, category: str = "other"):
    payload = {"type": "transaction", "amount": amount, "merchant": merchant, "category": category}
    return event(USER, START + timedelta(days=day), payload)


def rule(action: str, alert: str, day: float = 0):
    payload = {"type": "alert_rule", "action": action, "alert_type": alert}
    return event(USER, START + timedelta(days=day), payload)


def balance(amount: str, limit: str | None):
    payload = {"type": "balance_snapshot", "balance": amount, "credit_limit": limit,
               "account_kind": "credit_card"}  # fmt: skip
    return event(USER, START, payload)


# (debits as (day, amount, merchant, category), balance, limit) -> the batch function's answer.
CASES = [
    ([(0, "10.00", "a", "food")], None, None),
    ([(0, "10.00", "a", "food"), (2, "25.00", "b", "food"), (4, "5.00", "a", "travel")],
     "800", "1000"),
    ([(0, "99.99", None, "other"), (0.5, "0.01", "x", "other")], "-50", "500"),
    ([(d, f"{d * 3 + 1}.25", f"m{d % 7}", f"c{d % 3}") for d in range(30)], "100", "400"),
]  # fmt: skip


@pytest.mark.parametrize(("debits", "owed", "limit"), CASES)
def test_folded_features_equal_the_batch_features(debits, owed, limit) -> None:
    events = [debit(*each) for each in debits]
    if owed is not None:
        events.append(balance(owed, limit))
    folded = alert_stats.features(figures(fold(events)))
    batch = alert_features(
        [
            Transaction(float(a), (START + timedelta(days=d)).timestamp(), m, c)
            for d, a, m, c in debits
        ],
        balance=float(owed) if owed else None,
        credit_limit=float(limit) if limit else None,
    )
    assert folded is not None and batch is not None
    exact = ("total_amount", "average_transaction", "transaction_count",
             "transactions_per_day", "credit_utilisation")  # fmt: skip
    for name in exact:
        assert getattr(folded, name) == pytest.approx(getattr(batch, name), rel=1e-12), name
    # The squared deviations are kept to 4 decimals (a shorter record).
    assert folded.spending_volatility == pytest.approx(batch.spending_volatility, rel=1e-6)
    # Distinct names are estimated (linear counting): within 5 % at these sizes.
    assert folded.unique_merchants == pytest.approx(batch.unique_merchants, rel=0.05)
    assert folded.unique_categories == pytest.approx(batch.unique_categories, rel=0.05)


def test_credits_and_balances_without_a_limit_are_not_spending() -> None:
    credit = event(USER, START, {"type": "transaction", "amount": "50", "direction": "credit"})
    state = fold([credit, balance("300", None)])
    assert state.alerts is None
    assert alert_stats.features(alert_stats.empty()) is None  # cold start: no features


def test_alert_actions_turn_alerts_on_and_off() -> None:
    state = fold([
        rule("created", "high_spender"), rule("enabled", "new_merchant", 1),
        rule("disabled", "high_spender", 2), rule("enabled", "location_based", 3),
        rule("deleted", "location_based", 4), rule("enabled", "near_credit_limit", 5),
    ])  # fmt: skip
    assert alert_stats.enabled(figures(state)) == [
        AlertType.NEAR_CREDIT_LIMIT,
        AlertType.NEW_MERCHANT,
    ]
    assert alert_stats.features(figures(state)) is None  # actions, but no debit yet


def test_the_figures_survive_the_record_codec() -> None:
    state = fold([debit(0, "12.34", "shop", "food"), rule("enabled", "high_tx_volume"),
                  balance("900", "1000")])  # fmt: skip
    again = UserState.from_bytes(state.to_bytes())
    assert again.alerts == state.alerts
    assert alert_stats.features(figures(again)) == alert_stats.features(figures(state))


@pytest.mark.parametrize(
    ("distinct", "bits", "tolerance"),
    [(15, 256, 0.1), (50, 256, 0.1), (8, 128, 0.15), (200, 256, 0.15)],
)
def test_linear_counting_error_is_small(distinct: int, bits: int, tolerance: float) -> None:
    # Mean relative error over many random name sets: the estimate is unbiased enough.
    rng = random.Random(7)
    errors = []
    for _ in range(200):
        stats = alert_stats.empty()
        names = {f"name-{rng.random()}" for _ in range(distinct)}
        merchants = bits == alert_stats.MERCHANT_BITS
        for name in names:
            alert_stats.note_debit(stats, 100, 0, *((name, None) if merchants else (None, name)))
        bitmap = stats[alert_stats.MERCHANTS if merchants else alert_stats.CATEGORIES]
        errors.append(abs(alert_stats.distinct(bitmap, bits) - distinct))
    assert sum(errors) / len(errors) / distinct < tolerance
