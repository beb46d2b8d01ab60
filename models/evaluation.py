"""How good a trained recommender is, on users it never saw, against two simpler answers.

Every method ranks alerts for each held-out user, whose own alerts are hidden from it, and
the first ``k`` (``EVALUATION_K`` = 3) are compared with the alerts the user really has on:

- ``knn``: the recommender (``models.recommender``), most used by the neighbours first; it
  may say fewer than ``k``, or nothing, when too few neighbours agree (its threshold);
- ``popularity``: the ``k`` alerts most training users have on, the same to everyone (the
  baseline the issue names); it counts the labels the recommender learns from, heuristic
  ones included, so the two differ in method, not in data;
- ``heuristics``: the behaviour rules alone (``models.features.heuristic_labels``), in
  ``HEURISTICS`` order: what a user would be told with no model at all.

The figures, per method:

- ``precision_at_k``: of the alerts shown (at most ``k``), the share the user has on,
  averaged over the users shown at least one; ``None`` when nobody was shown any. Dividing
  by what is shown, not by ``k``, judges what the product displays (a recommender that
  stays silent is not padded with wrong answers); silence is counted by the next two.
- ``recall_at_k``: of the alerts the user has on, the share among those shown, averaged
  over every held-out user (nothing shown: 0).
- ``coverage``: the share of held-out users shown at least one alert.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from models.features import HEURISTICS, AlertFeatures, heuristic_labels
from models.recommender import AlertRecommender
from schemas.alerts import AlertType

#: Alerts judged per user: about what a screen of suggestions shows at once, and no more
#: than the one to three alerts most users have on (more would only measure the padding).
EVALUATION_K = 3
#: The methods compared, in the order the table shows them.
METHODS = ("knn", "popularity", "heuristics")


@dataclass(frozen=True, slots=True)
class Scores:
    """One method's figures over the held-out users."""

    precision_at_k: float | None
    recall_at_k: float
    coverage: float
    covered_users: int


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every method's figures, at one ``k``, over ``users`` held-out users."""

    k: int
    users: int
    scores: dict[str, Scores]


def score(
    ranked: Sequence[Sequence[AlertType]], relevant: Sequence[Iterable[AlertType]], *, k: int
) -> Scores:
    """Return the figures of one method's rankings against the alerts users have on.

    Args:
        ranked: Per user, the method's alerts, best first (only the first ``k`` count).
        relevant: Per user, in the same order, the alerts they have on (at least one).
        k: How many of each ranking count.

    Raises:
        ValueError: Rankings and users of other lengths, no user, ``k`` below 1, or a user
            with no alert on (recall would mean nothing for them).
    """
    if len(ranked) != len(relevant) or not ranked or k < 1:
        msg = f"{len(ranked)} rankings for {len(relevant)} users at k = {k}"
        raise ValueError(msg)
    precisions: list[float] = []
    recalls: list[float] = []
    for ranking, wanted in zip(ranked, relevant, strict=True):
        on = set(wanted)
        if not on:
            msg = "a held-out user with no alert on cannot be scored"
            raise ValueError(msg)
        shown = list(ranking)[:k]
        hits = len(on.intersection(shown))
        if shown:
            precisions.append(hits / len(shown))
        recalls.append(hits / len(on))
    return Scores(
        precision_at_k=sum(precisions) / len(precisions) if precisions else None,
        recall_at_k=sum(recalls) / len(recalls),
        coverage=len(precisions) / len(ranked),
        covered_users=len(precisions),
    )


def popularity_ranking(labels: Iterable[Iterable[AlertType]]) -> list[AlertType]:
    """Return every alert some user has on, most users first (ties: by name)."""
    counts = Counter(alert for each in labels for alert in set(each))
    return sorted(counts, key=lambda alert: (-counts[alert], alert.value))


def heuristic_ranking(features: AlertFeatures) -> list[AlertType]:
    """Return the alerts the behaviour rules give a user, in ``HEURISTICS`` order."""
    found = heuristic_labels(features)
    return [alert for alert in HEURISTICS if alert in found]


def evaluate(
    model: AlertRecommender,
    training_labels: Sequence[Iterable[AlertType]],
    features: Sequence[AlertFeatures],
    relevant: Sequence[frozenset[AlertType]],
    *,
    k: int = EVALUATION_K,
) -> Evaluation:
    """Score the model and both baselines on held-out users.

    Args:
        model: The fitted recommender.
        training_labels: The labels it was trained on (for the popularity baseline).
        features: The held-out users' features.
        relevant: The alerts each held-out user has on, hidden from every method.
        k: Alerts judged per user.
    """
    popular = popularity_ranking(training_labels)
    ranked = {
        "knn": [[r.alert_type for r in model.recommend(f)] for f in features],
        "popularity": [popular for _ in features],
        "heuristics": [heuristic_ranking(f) for f in features],
    }
    return Evaluation(
        k=k,
        users=len(features),
        scores={method: score(ranked[method], relevant, k=k) for method in METHODS},
    )


def metrics_of(evaluation: Evaluation) -> dict[str, Any]:
    """Return the evaluation as the registry row's ``metrics`` (JSON)."""
    return {
        "k": evaluation.k,
        "held_out_users": evaluation.users,
        "methods": {
            method: {
                "precision_at_k": s.precision_at_k,
                "recall_at_k": s.recall_at_k,
                "coverage": s.coverage,
                "covered_users": s.covered_users,
            }
            for method, s in evaluation.scores.items()
        },
    }


def knn_precision(metrics: dict[str, Any]) -> float:
    """Return the recommender's held-out precision@k from a row's ``metrics`` (none: 0)."""
    value = metrics.get("methods", {}).get("knn", {}).get("precision_at_k")
    return float(value) if value is not None else 0.0


def render_evaluation(metrics: dict[str, Any]) -> str:
    """Return the evaluation table of a registry row's ``metrics``, and what it says."""
    k = metrics["k"]
    header = f"{'method':<12} {f'precision@{k}':>12} {f'recall@{k}':>10} {'coverage':>9}"
    lines = [header, "-" * len(header)]
    methods = metrics["methods"]
    for method in METHODS:
        s = methods[method]
        precision = "-" if s["precision_at_k"] is None else f"{s['precision_at_k']:.3f}"
        lines.append(
            f"{method:<12} {precision:>12} {s['recall_at_k']:>10.3f} {s['coverage']:>9.1%}"
        )
    lines.append("")
    lines.append(verdict(metrics))
    return "\n".join(lines)


def verdict(metrics: dict[str, Any]) -> str:
    """Say in one sentence whether the recommender beats the popularity baseline."""
    k = metrics["k"]
    methods = metrics["methods"]
    knn, popular = methods["knn"]["precision_at_k"], methods["popularity"]["precision_at_k"]
    if knn is None:
        return f"KNN recommended nothing to any of the {metrics['held_out_users']} users."
    if popular is None or knn > popular:
        return f"KNN beats popularity on precision@{k} ({knn:.3f} vs {popular or 0:.3f})."
    return (
        f"KNN does NOT beat popularity on precision@{k} ({knn:.3f} vs {popular:.3f}): "
        "here, what the most similar users have on predicts no better than what most have on."
    )
