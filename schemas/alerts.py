"""The alerts a user can switch on, which the alert recommender suggests (``models``).

The product's specification names eight alert types. ``alert_rule`` events (created,
enabled, disabled, deleted) will say which each user has on; until a user has any, the
recommender labels them from their behaviour (``models.features.heuristic_labels``).
"""

from __future__ import annotations

from enum import StrEnum


class AlertType(StrEnum):
    """An alert a user can switch on."""

    HIGH_SPENDER = "high_spender"
    HIGH_TX_VOLUME = "high_tx_volume"
    HIGH_MERCHANT_DIVERSITY = "high_merchant_diversity"
    NEAR_CREDIT_LIMIT = "near_credit_limit"
    """Balance above 70 % of the credit limit."""
    LARGE_TRANSACTION = "large_transaction"
    NEW_MERCHANT = "new_merchant"
    LOCATION_BASED = "location_based"
    SUBSCRIPTION_MONITORING = "subscription_monitoring"
