"""ROC-AUC and precision/recall by hand, and against scikit-learn's."""

from __future__ import annotations

import random

import pytest
from sklearn.metrics import roc_auc_score

from models.online_evaluation.ranking import Hits, hits, roc_auc


@pytest.mark.parametrize(
    ("scores", "labels", "expected"),
    [
        ([0.1, 0.2, 0.8, 0.9], [False, False, True, True], 1.0),  # perfectly ranked
        ([0.9, 0.8, 0.2, 0.1], [False, False, True, True], 0.0),  # perfectly wrong
        ([0.5, 0.5, 0.5, 0.5], [False, True, False, True], 0.5),  # all tied: a coin
        ([0.1, 0.5, 0.5, 0.9], [False, False, True, True], 0.875),  # one tie: half a pair
    ],
)
def test_roc_auc_by_hand(scores, labels, expected) -> None:
    assert roc_auc(scores, labels) == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(5))
def test_roc_auc_is_scikit_learns_ties_and_all(seed: int) -> None:
    rng = random.Random(seed)
    labels = [rng.random() < 0.1 for _ in range(500)]
    # Rounded scores: many ties, some between a positive and a negative.
    scores = [round(rng.random() + (0.3 if label else 0.0), 1) for label in labels]
    assert roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))


def test_roc_auc_needs_both_classes_and_equal_lengths() -> None:
    assert roc_auc([0.1, 0.2], [True, True]) is None
    assert roc_auc([0.1, 0.2], [False, False]) is None
    with pytest.raises(ValueError, match="2 scores for 1 labels"):
        roc_auc([0.1, 0.2], [True])


def test_hits_count_precision_and_recall() -> None:
    counted = hits([True, True, False, True], [True, False, True, True])
    assert counted == Hits(flagged=3, true=2, positives=3)
    assert counted.precision == pytest.approx(2 / 3)
    assert counted.recall == pytest.approx(2 / 3)
    assert hits([False, False], [True, False]).precision is None  # nothing flagged
    assert hits([True, False], [False, False]).recall is None  # nothing to find
