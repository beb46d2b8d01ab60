"""The held-out figures, by hand: precision@k, recall@k, coverage and the two baselines."""

from __future__ import annotations

import pytest

from models.evaluation import (
    Scores,
    evaluate,
    heuristic_ranking,
    knn_precision,
    metrics_of,
    popularity_ranking,
    render_evaluation,
    score,
)
from models.features import AlertFeatures
from models.recommender import AlertRecommender
from schemas.alerts import AlertType

A, B, C, D = (
    AlertType.HIGH_SPENDER,
    AlertType.NEW_MERCHANT,
    AlertType.LOCATION_BASED,
    AlertType.NEAR_CREDIT_LIMIT,
)


@pytest.mark.parametrize(
    ("ranked", "relevant", "k", "expected"),
    [
        # only the first k count: A of A, B, C is right; D (4th) is not shown
        ([[A, B, C, D]], [{A, D}], 3, Scores(1 / 3, 1 / 2, 1.0, 1)),
        # fewer than k shown: precision over what is shown, not over k
        ([[A]], [{A, B}], 3, Scores(1.0, 1 / 2, 1.0, 1)),
        # nothing shown to anyone: no precision, no recall, no coverage
        ([[]], [{A}], 3, Scores(None, 0.0, 0.0, 0)),
        # two users, averaged per user: (1 + 1/2) / 2 and (1 + 1/2) / 2
        ([[A], [B, C]], [{A}, {A, C}], 3, Scores(0.75, 0.75, 1.0, 2)),
        # a silent user: out of precision, a 0 in recall, half the coverage
        ([[A, B], []], [{A}, {B}], 3, Scores(0.5, 0.5, 0.5, 1)),
        # k = 1: only the first alert is shown, and it is wrong
        ([[B, A]], [{A}], 1, Scores(0.0, 0.0, 1.0, 1)),
    ],
)
def test_scores_by_hand(ranked, relevant, k, expected) -> None:
    found = score(ranked, relevant, k=k)
    assert found.precision_at_k == pytest.approx(expected.precision_at_k)
    assert found.recall_at_k == pytest.approx(expected.recall_at_k)
    assert found.coverage == pytest.approx(expected.coverage)
    assert found.covered_users == expected.covered_users


@pytest.mark.parametrize(
    ("ranked", "relevant", "k"),
    [
        ([[A]], [{A}, {B}], 3),  # lengths differ
        ([], [], 3),  # nobody to score
        ([[A]], [{A}], 0),  # k below 1
        ([[A]], [set()], 3),  # a user with nothing on: recall means nothing
    ],
)
def test_scoring_refuses_what_means_nothing(ranked, relevant, k) -> None:
    with pytest.raises(ValueError):
        score(ranked, relevant, k=k)


def test_popularity_ranks_by_users_then_name() -> None:
    # A and B: 2 users each (a repeat within a user counts once), C: 1
    assert popularity_ranking([{A, B}, [A, A], {C}, {B}]) == [A, B, C]
    assert popularity_ranking([]) == []


def features(**values: float) -> AlertFeatures:
    base = dict.fromkeys(AlertFeatures.__dataclass_fields__, 0.0)
    return AlertFeatures(**{**base, **values})


def test_heuristics_rank_in_their_table_order() -> None:
    both = features(credit_utilisation=0.9, total_amount=5_000.0)
    assert heuristic_ranking(both) == [AlertType.NEAR_CREDIT_LIMIT, AlertType.HIGH_SPENDER]
    assert heuristic_ranking(features()) == []


def test_evaluate_scores_the_model_and_both_baselines_on_the_same_users() -> None:
    # Two groups apart in feature space: low spenders use A, high spenders use B and C.
    low = [features(total_amount=10.0 + i, transaction_count=1.0) for i in range(5)]
    high = [features(total_amount=1.0, transaction_count=10.0 + i) for i in range(5)]
    labels = [{A}] * 5 + [{B, C}] * 5
    model = AlertRecommender(k=3, threshold=0.5).fit(low + high, labels)
    held_out = [features(total_amount=12.5, transaction_count=1.0)]  # a low spender
    evaluation = evaluate(model, labels, held_out, [frozenset({A})], k=3)
    assert evaluation.users == 1
    knn, popular, rules = (evaluation.scores[m] for m in ("knn", "popularity", "heuristics"))
    assert (knn.precision_at_k, knn.recall_at_k) == (1.0, 1.0)  # A, from 3 of 3 neighbours
    # popularity: A, B, C (5 users each; by name: high_spender, location_based, new_merchant)
    assert popular.precision_at_k == pytest.approx(1 / 3) and popular.recall_at_k == 1.0
    assert rules.coverage == 0.0 and rules.precision_at_k is None  # no rule applies

    metrics = metrics_of(evaluation)
    assert metrics["k"] == 3 and metrics["held_out_users"] == 1
    assert set(metrics["methods"]) == {"knn", "popularity", "heuristics"}
    assert knn_precision(metrics) == 1.0
    table = render_evaluation(metrics)
    assert "precision@3" in table and "KNN beats popularity on precision@3" in table
    assert table.splitlines()[4].split() == ["heuristics", "-", "0.000", "0.0%"]


@pytest.mark.parametrize(
    ("knn", "popular", "says"),
    [
        (0.5, 0.4, "KNN beats popularity"),
        (0.4, 0.4, "KNN does NOT beat popularity"),  # a tie is not a win
        (None, 0.4, "KNN recommended nothing"),
    ],
)
def test_the_table_says_whether_knn_beats_popularity(knn, popular, says) -> None:
    def method(precision):
        return {"precision_at_k": precision, "recall_at_k": 0.0, "coverage": 0.0}

    metrics = {
        "k": 3,
        "held_out_users": 10,
        "methods": {"knn": method(knn), "popularity": method(popular), "heuristics": method(0.1)},
    }
    assert says in render_evaluation(metrics)
    assert knn_precision(metrics) == (knn or 0.0)
