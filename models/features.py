"""A user's features for the alert recommender, from their transactions and balance.

The specification's features, in this order (``FEATURE_NAMES``): total amount, average
transaction, spending volatility (the sample standard deviation of the amounts, 0 for one
transaction), transaction count, frequency (transactions per day between the first and
the last, at least one day), unique merchants, unique categories, and credit utilisation
(balance over limit; 0 when either is unknown). A user with no transaction has no features:
the recommender says nothing about them (cold start), it does not guess.

``heuristic_labels`` labels a user who has enabled no alert yet from their behaviour, by
the thresholds in ``HEURISTICS`` (near_credit_limit: utilisation above 70 %, from the
specification; the others are this module's, named here so they can be tuned).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import astuple, dataclass

from schemas.alerts import AlertType

SECONDS_PER_DAY = 86_400.0

#: Behaviour that labels a user who has enabled no alert yet: alert -> (feature, threshold).
#: A user is labelled when the feature is above the threshold.
HEURISTICS: dict[AlertType, tuple[str, float]] = {
    AlertType.NEAR_CREDIT_LIMIT: ("credit_utilisation", 0.70),
    AlertType.HIGH_SPENDER: ("total_amount", 3_000.0),
    AlertType.HIGH_TX_VOLUME: ("transactions_per_day", 2.0),
    AlertType.HIGH_MERCHANT_DIVERSITY: ("unique_merchants", 15.0),
    AlertType.LARGE_TRANSACTION: ("average_transaction", 250.0),
}


@dataclass(frozen=True, slots=True)
class Transaction:
    """One debit, as the recommender sees it."""

    amount: float
    at: float
    """Epoch seconds."""
    merchant: str | None = None
    category: str | None = None


@dataclass(frozen=True, slots=True)
class AlertFeatures:
    """One user's features, in the specification's order."""

    total_amount: float
    average_transaction: float
    spending_volatility: float
    transaction_count: float
    transactions_per_day: float
    unique_merchants: float
    unique_categories: float
    credit_utilisation: float

    def vector(self) -> tuple[float, ...]:
        """Return the features in ``FEATURE_NAMES`` order."""
        return astuple(self)


#: The features' names, in the order ``AlertFeatures.vector`` gives them.
FEATURE_NAMES: tuple[str, ...] = tuple(AlertFeatures.__dataclass_fields__)


def alert_features(
    transactions: Sequence[Transaction],
    *,
    balance: float | None = None,
    credit_limit: float | None = None,
) -> AlertFeatures | None:
    """Return a user's features, or ``None`` when they have no transaction (cold start)."""
    if not transactions:
        return None
    amounts = [t.amount for t in transactions]
    count = len(amounts)
    mean = sum(amounts) / count
    volatility = (
        math.sqrt(sum((a - mean) ** 2 for a in amounts) / (count - 1)) if count > 1 else 0.0
    )
    times = [t.at for t in transactions]
    days = max((max(times) - min(times)) / SECONDS_PER_DAY, 1.0)
    utilisation = (
        max(balance, 0.0) / credit_limit
        if balance is not None and credit_limit is not None and credit_limit > 0
        else 0.0
    )
    return AlertFeatures(
        total_amount=sum(amounts),
        average_transaction=mean,
        spending_volatility=volatility,
        transaction_count=float(count),
        transactions_per_day=count / days,
        unique_merchants=float(len({t.merchant for t in transactions if t.merchant})),
        unique_categories=float(len({t.category for t in transactions if t.category})),
        credit_utilisation=utilisation,
    )


def heuristic_labels(features: AlertFeatures) -> frozenset[AlertType]:
    """Return the alerts a user's behaviour suggests, by ``HEURISTICS``."""
    return frozenset(
        alert
        for alert, (name, threshold) in HEURISTICS.items()
        if getattr(features, name) > threshold
    )
