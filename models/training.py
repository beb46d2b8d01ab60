"""Train the alert recommender from users' features and labels, and evaluate it honestly.

The input is every user with features, each with the alerts they really have on
(``LabelledUser.enabled``, from their ``alert_rule`` events). They are split by a hash of
the user id, so the split is the same on every run and every machine:

- held out: ``HELD_OUT_PERCENT`` % of the users who have real labels (at least one alert
  on); only they can say whether a recommendation was right. The same users stay held out
  from one training to the next, so versions are compared on the same people (as far as
  the population stays the same).
- training: everyone else. A training user with no alert on is labelled from their
  behaviour (``heuristic_labels``), as the issue asks, so the neighbours of a new user are
  not all silent while few users have chosen alerts.

The model shipped is the one evaluated (trained without the held-out users): its
``metrics`` describe exactly what the workers serve. ``fingerprint`` hashes every input
row, so two versions trained on the same data say so.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.evaluation import EVALUATION_K, Evaluation, evaluate, metrics_of
from models.features import FEATURE_NAMES, AlertFeatures, heuristic_labels
from models.recommender import AlertRecommender
from schemas.alerts import AlertType

#: The share of users with real labels held out to evaluate on, in percent: a fifth keeps
#: most labels for training and, from a few hundred labelled users, tens to score.
HELD_OUT_PERCENT = 20


class TrainingError(ValueError):
    """Not enough users to train on, or none to evaluate on."""


@dataclass(frozen=True, slots=True)
class LabelledUser:
    """One user as the trainer reads them."""

    user_id: str
    features: AlertFeatures
    enabled: frozenset[AlertType]
    """The alerts the user has on (real labels); empty when they never chose one."""
    as_of: datetime
    """When the features were last updated."""


@dataclass(frozen=True, slots=True)
class Split:
    """Users to train on and users held out to evaluate on."""

    training: list[LabelledUser]
    held_out: list[LabelledUser]


@dataclass(frozen=True, slots=True)
class TrainedModel:
    """A fitted recommender, its held-out evaluation and what the registry keeps of it."""

    recommender: AlertRecommender
    evaluation: Evaluation
    training_users: int
    heuristic_labelled: int
    """Training users labelled by ``heuristic_labels`` (they had no alert on)."""
    fingerprint: str
    window_start: datetime
    window_end: datetime

    def parameters(self) -> dict[str, Any]:
        """Return the settings it was trained with (the registry row's ``parameters``)."""
        return {
            "k": self.recommender.k,
            "threshold": self.recommender.threshold,
            "metric": "cosine",
            "scaling": "standard",
            "features": list(FEATURE_NAMES),
            "held_out_percent": HELD_OUT_PERCENT,
        }

    def metrics(self) -> dict[str, Any]:
        """Return the evaluation and the training counts (the registry row's ``metrics``)."""
        return {
            **metrics_of(self.evaluation),
            "training_users": self.training_users,
            "heuristic_labelled_users": self.heuristic_labelled,
        }


def is_held_out(user_id: str) -> bool:
    """Whether a user with real labels is held out: by a hash of the id, the same anywhere."""
    digest = hashlib.sha256(user_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < HELD_OUT_PERCENT


def split_users(users: Sequence[LabelledUser]) -> Split:
    """Split users into training and held out (only users with real labels are held out)."""
    held_out = [u for u in users if u.enabled and is_held_out(u.user_id)]
    chosen = {u.user_id for u in held_out}
    return Split([u for u in users if u.user_id not in chosen], held_out)


def training_label(user: LabelledUser) -> frozenset[AlertType]:
    """Return a training user's label: their alerts, or what their behaviour suggests."""
    return user.enabled or heuristic_labels(user.features)


def fingerprint(users: Sequence[LabelledUser]) -> str:
    """Return the SHA-256 of the input rows (user, features, alerts on), sorted by user."""
    rows = [
        [u.user_id, list(u.features.vector()), sorted(a.value for a in u.enabled)]
        for u in sorted(users, key=lambda u: u.user_id)
    ]
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def train(
    users: Sequence[LabelledUser],
    *,
    k: int,
    threshold: float,
    evaluation_k: int = EVALUATION_K,
) -> TrainedModel:
    """Fit the recommender on the training users and evaluate it on the held-out ones.

    Args:
        users: Every user with features.
        k: Neighbours consulted (``NUDGE_ALERT_NEIGHBOURS``).
        threshold: Share of them that must use an alert (``NUDGE_ALERT_THRESHOLD``).
        evaluation_k: Alerts judged per held-out user.

    Raises:
        TrainingError: Fewer training users than ``k``, or no held-out user (no user
            with an alert on fell in the held-out share).
    """
    split = split_users(users)
    if len(split.training) < k:
        msg = f"{len(split.training)} users to train on; k = {k} needs at least {k}"
        raise TrainingError(msg)
    if not split.held_out:
        labelled = sum(1 for u in users if u.enabled)
        msg = (
            f"no held-out user to evaluate on: {labelled} of {len(users)} users have an "
            f"alert on, and about {HELD_OUT_PERCENT} % of those are held out"
        )
        raise TrainingError(msg)
    labels = [training_label(u) for u in split.training]
    model = AlertRecommender(k=k, threshold=threshold).fit(
        [u.features for u in split.training], labels
    )
    evaluation = evaluate(
        model,
        labels,
        [u.features for u in split.held_out],
        [u.enabled for u in split.held_out],
        k=evaluation_k,
    )
    times = [u.as_of for u in users]
    return TrainedModel(
        recommender=model,
        evaluation=evaluation,
        training_users=len(split.training),
        heuristic_labelled=sum(1 for u in split.training if not u.enabled),
        fingerprint=fingerprint(users),
        window_start=min(times),
        window_end=max(times),
    )
