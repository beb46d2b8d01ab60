"""The alert recommender's features, its 40 % rule, its sentences and its cold start."""

from __future__ import annotations

import math

import pytest

from models.features import (
    FEATURE_NAMES,
    AlertFeatures,
    Transaction,
    alert_features,
    heuristic_labels,
)
from models.recommender import AlertRecommender, explanation
from schemas.alerts import AlertType

DAY = 86_400.0


def tx(amount: float, day: float, merchant: str | None = None, category: str | None = None):
    return Transaction(amount=amount, at=day * DAY, merchant=merchant, category=category)


@pytest.mark.parametrize(
    ("transactions", "balance", "limit", "expected"),
    [
        # one transaction: no volatility, frequency over a whole day
        ([tx(50, 0, "a", "food")], None, None, (50, 50, 0, 1, 1, 1, 1, 0)),
        # 10, 20, 30 over two days: sample sd 10, 1.5 a day
        (
            [tx(10, 0, "a", "food"), tx(20, 1, "b", "food"), tx(30, 2, "a", "travel")],
            800,
            1000,
            (60, 20, 10, 3, 1.5, 2, 2, 0.8),
        ),  # fmt: skip
        # no merchant or category named; a negative balance is no debt; no limit: 0
        ([tx(5, 0), tx(15, 0.5)], -50, 1000, (20, 10, math.sqrt(50), 2, 2, 0, 0, 0)),
        ([tx(5, 0), tx(15, 0.5)], 500, None, (20, 10, math.sqrt(50), 2, 2, 0, 0, 0)),
    ],
)
def test_the_features_are_the_specifications(
    transactions: list[Transaction],
    balance: float | None,
    limit: float | None,
    expected: tuple[float, ...],
) -> None:
    found = alert_features(transactions, balance=balance, credit_limit=limit)
    assert found is not None
    assert found.vector() == pytest.approx(expected)
    assert FEATURE_NAMES == (
        "total_amount", "average_transaction", "spending_volatility", "transaction_count",
        "transactions_per_day", "unique_merchants", "unique_categories", "credit_utilisation",
    )  # fmt: skip


def test_a_user_with_no_transaction_has_no_features_and_no_recommendation() -> None:
    assert alert_features([], balance=900, credit_limit=1000) is None
    model = AlertRecommender().fit([user(i) for i in range(5)], [{AlertType.HIGH_SPENDER}] * 5)
    assert model.recommend(None) == []


@pytest.mark.parametrize(
    ("utilisation", "labelled"), [(0.70, False), (0.7001, True), (0.95, True), (0.0, False)]
)
def test_near_credit_limit_is_above_70_percent(utilisation: float, labelled: bool) -> None:
    features = user(0, utilisation=utilisation)
    assert (AlertType.NEAR_CREDIT_LIMIT in heuristic_labels(features)) is labelled


def user(n: float, *, utilisation: float = 0.1) -> AlertFeatures:
    """A user along one direction of the feature space, further out with ``n``."""
    return AlertFeatures(100 + n, 10 + n, 1 + n, 10 + n, 1 + n / 10, 3 + n, 2 + n / 5, utilisation)


def twin(base: AlertFeatures, wiggle: float) -> AlertFeatures:
    return AlertFeatures(*(v * (1 + wiggle) for v in base.vector()))


@pytest.mark.parametrize(("users_with_it", "recommended"), [(1, False), (2, True), (4, True)])
def test_an_alert_is_recommended_when_40_percent_of_the_5_neighbours_use_it(
    users_with_it: int, recommended: bool
) -> None:
    # Five users close to the query (scaled alike), five far away in another direction.
    near = [twin(user(1), w) for w in (0.01, 0.02, 0.03, 0.04, 0.05)]
    far = [AlertFeatures(1, 900, 1, 900, 0.1, 1, 9, 0.9) for _ in range(5)]
    labels = [{AlertType.HIGH_SPENDER} if i < users_with_it else set() for i in range(5)] + [
        {AlertType.HIGH_SPENDER, AlertType.NEAR_CREDIT_LIMIT}
    ] * 5
    model = AlertRecommender().fit(near + far, labels)
    found = {r.alert_type: r for r in model.recommend(twin(user(1), 0.025))}
    assert (AlertType.HIGH_SPENDER in found) is recommended
    assert AlertType.NEAR_CREDIT_LIMIT not in found  # only the far users have it
    if recommended:
        assert found[AlertType.HIGH_SPENDER].confidence == users_with_it / 5
        assert found[AlertType.HIGH_SPENDER].explanation == (
            f"{users_with_it} of the 5 customers most like you use this alert"
        )


def test_k_and_the_threshold_are_settings_and_enabled_alerts_are_not_offered_again() -> None:
    near = [twin(user(1), w) for w in (0.01, 0.02, 0.03)]
    labels = [{AlertType.LARGE_TRANSACTION}, set(), set()]
    query = twin(user(1), 0.015)
    strict = AlertRecommender(k=3, threshold=0.5).fit(near, labels)
    assert strict.recommend(query) == []
    loose = AlertRecommender(k=3, threshold=0.3).fit(near, labels)
    assert [r.alert_type for r in loose.recommend(query)] == [AlertType.LARGE_TRANSACTION]
    assert loose.recommend(query, enabled=[AlertType.LARGE_TRANSACTION]) == []
    with pytest.raises(ValueError, match="k = 5 needs at least as many"):
        AlertRecommender().fit(near, labels)
    with pytest.raises(ValueError, match="threshold"):
        AlertRecommender(threshold=0)


@pytest.mark.parametrize(
    ("count", "k", "sentence"),
    [
        (4, 5, "4 of the 5 customers most like you use this alert"),
        (1, 5, "1 of the 5 customers most like you uses this alert"),
        (1, 1, "1 of the 1 customer most like you uses this alert"),
    ],
)
def test_the_explanation_reads_as_a_sentence(count: int, k: int, sentence: str) -> None:
    assert explanation(count, k) == sentence
