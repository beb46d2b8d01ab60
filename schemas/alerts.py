"""The alert recommender's contract: alert types, the events, the outputs, the promotions.

The product's specification names eight alert types. Users switch alerts on and off with
``alert_rule`` events (``schemas.events.AlertRule``): ``created`` and ``enabled`` put an
alert on, ``disabled`` and ``deleted`` take it off. Until a user has any on, the trainer
labels them from their behaviour (``models.features.heuristic_labels``).

The worker keeps each user's recommender features in their record and publishes them, with
the alerts the user has on, on the compacted ``alerts.profiles`` topic whenever they change
materially (``AlertProfile``): the sink keeps the latest per user, and ``nudge models train``
learns from those rows, so the model is trained on exactly the features it is served.
A model version is promoted by a ``ModelPromotion`` on the compacted ``models.active``
topic (keyed by model name); every worker follows it and switches without a restart. With
a model in force, a user whose profile changes, or who has not been served the active
version yet, gets their recommendations on ``alerts.recommendations``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal[1] = 1
#: The recommender's registry name, and the key of its promotions.
ALERT_RECOMMENDER = "alert_recommender"


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


class AlertAction(StrEnum):
    """What an ``alert_rule`` event did to one of the user's alerts."""

    CREATED = "created"
    ENABLED = "enabled"
    DISABLED = "disabled"
    DELETED = "deleted"

    @property
    def turns_on(self) -> bool:
        """Whether the alert is on after this action (created and enabled ones are)."""
        return self in (AlertAction.CREATED, AlertAction.ENABLED)


NonNegative = Annotated[float, Field(ge=0)]


class AlertFeatureValues(BaseModel):
    """One user's recommender features, in the specification's order.

    ``credit_utilisation`` is the latest balance over its credit limit (0 when unknown);
    ``unique_merchants`` and ``unique_categories`` are estimated from a fixed-size bitmap
    in the user's record (``streams.core.state.alert_stats``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    total_amount: NonNegative
    average_transaction: NonNegative
    spending_volatility: NonNegative
    transaction_count: NonNegative
    transactions_per_day: NonNegative
    unique_merchants: NonNegative
    unique_categories: NonNegative
    credit_utilisation: NonNegative


class _AlertMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    user_id: str


class AlertProfile(_AlertMessage):
    """A user's features and the alerts they have on (``alerts.profiles``, compacted)."""

    profile_id: str
    """``schemas.ids.alert_profile_id``: the user and the event that caused it."""
    as_of: AwareDatetime
    """The event's time."""
    source_event_id: str
    features: AlertFeatureValues | None
    """``None`` until the user's first debit (cold start: no recommendation)."""
    enabled: list[AlertType]
    """The alerts the user has on, sorted."""


class AlertRecommendation(_AlertMessage):
    """One alert recommended to one user by one model version (``alerts.recommendations``)."""

    recommendation_id: str
    """``schemas.ids.recommendation_id``: user, alert, model version and cause."""
    alert_type: AlertType
    confidence: Annotated[float, Field(gt=0, le=1)]
    """Share of the nearest neighbours that use the alert."""
    explanation: str
    """A sentence the user reads: "4 of the 5 customers most like you use this alert"."""
    model_name: str
    model_version: int
    created_at: AwareDatetime
    """The time of the event (or promotion) it answers."""
    cause: str
    """The event id, or ``promotion:<version>`` for a user served after a promotion."""


class ModelPromotion(BaseModel):
    """The version of a model in force (``models.active``, compacted, keyed by name).

    Workers load ``artefact`` (a path the workers can read: a shared volume in
    ``deploy/``), check it against ``sha256`` and switch to it; they refuse, and keep the
    version they have, if the check fails.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    name: str
    version: Annotated[int, Field(ge=1)]
    artefact: str
    """The model file's path; its manifest is beside it (``models.artifacts``)."""
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    promoted_at: AwareDatetime
