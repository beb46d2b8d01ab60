"""The alert recommender: which alerts users like this one have switched on.

The specification's model, as its defaults: the features (``models.features``) scaled to
zero mean and unit variance, then the ``k`` = 5 nearest training users by cosine
similarity; an alert is recommended when at least 40 % of them have it on (``k`` and
``threshold`` are settings). Each recommendation carries its confidence (the share of
the neighbours that use it) and a sentence a person can read: "4 of the 5 customers most
like you use this alert". Alerts the user already has on are not recommended, and a user
with no features (no transaction yet) gets no recommendation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from models.features import AlertFeatures
from schemas.alerts import AlertType

#: Neighbours consulted, and the share of them that must use an alert.
DEFAULT_K = 5
DEFAULT_THRESHOLD = 0.40


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One alert recommended to one user."""

    alert_type: AlertType
    confidence: float
    """Share of the nearest neighbours that use the alert."""
    explanation: str


class AlertRecommender:
    """Scaled features, cosine nearest neighbours, the share of them using each alert."""

    def __init__(self, *, k: int = DEFAULT_K, threshold: float = DEFAULT_THRESHOLD) -> None:
        """Set the model's two settings.

        Raises:
            ValueError: ``k`` below 1 or ``threshold`` outside (0, 1].
        """
        if k < 1 or not 0 < threshold <= 1:
            msg = f"k >= 1 and 0 < threshold <= 1, got k={k}, threshold={threshold}"
            raise ValueError(msg)
        self.k = k
        self.threshold = threshold
        self._scaler = StandardScaler()
        self._neighbours = NearestNeighbors(metric="cosine")
        self._labels: list[frozenset[AlertType]] = []

    def fit(
        self, features: Sequence[AlertFeatures], labels: Sequence[Iterable[AlertType]]
    ) -> AlertRecommender:
        """Learn from the training users' features and the alerts each has on.

        Raises:
            ValueError: Fewer users than ``k``, or features and labels of other lengths.
        """
        if len(features) != len(labels):
            msg = f"{len(features)} users' features but {len(labels)} users' labels"
            raise ValueError(msg)
        if len(features) < self.k:
            msg = f"{len(features)} training users; k = {self.k} needs at least as many"
            raise ValueError(msg)
        matrix = np.array([f.vector() for f in features], dtype=float)
        self._neighbours.set_params(n_neighbors=self.k)
        self._neighbours.fit(self._scaler.fit_transform(matrix))
        self._labels = [frozenset(each) for each in labels]
        return self

    @property
    def pipeline(self) -> Pipeline:
        """The fitted scaler and neighbours, as one scikit-learn object (for saving)."""
        return Pipeline([("scale", self._scaler), ("neighbours", self._neighbours)])

    @property
    def labels(self) -> list[frozenset[AlertType]]:
        """The alerts each training user has on, in training order."""
        return list(self._labels)

    @classmethod
    def from_parts(
        cls,
        pipeline: Pipeline,
        labels: Sequence[frozenset[AlertType]],
        *,
        k: int,
        threshold: float,
    ) -> AlertRecommender:
        """Rebuild a fitted recommender from what ``models.artifacts`` saved."""
        model = cls(k=k, threshold=threshold)
        model._scaler = pipeline.named_steps["scale"]
        model._neighbours = pipeline.named_steps["neighbours"]
        model._labels = list(labels)
        return model

    def recommend(
        self, features: AlertFeatures | None, enabled: Iterable[AlertType] = ()
    ) -> list[Recommendation]:
        """Return the alerts to recommend, most used by the neighbours first.

        Args:
            features: The user's features; ``None`` (no transaction yet) gives none.
            enabled: Alerts the user has on already: never recommended again.
        """
        if features is None:
            return []
        scaled = self._scaler.transform(np.array([features.vector()], dtype=float))
        (indices,) = self._neighbours.kneighbors(scaled, return_distance=False)
        used = Counter(alert for i in indices for alert in self._labels[i])
        have = set(enabled)
        found = [
            Recommendation(alert, count / self.k, explanation(count, self.k))
            for alert, count in used.items()
            if count / self.k >= self.threshold and alert not in have
        ]
        return sorted(found, key=lambda r: (-r.confidence, r.alert_type.value))


def explanation(count: int, k: int) -> str:
    """Say why an alert is recommended, in words a customer reads."""
    customers = "customer" if k == 1 else "customers"
    verb = "uses" if count == 1 else "use"
    return f"{count} of the {k} {customers} most like you {verb} this alert"
