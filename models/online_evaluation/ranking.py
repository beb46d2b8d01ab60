"""How well scores rank labelled items: ROC-AUC, and precision and recall at a threshold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Hits:
    """Flagged items against labelled ones, at one operating point.

    Attributes:
        flagged: Items the method flagged.
        true: Flagged items that are positives.
        positives: Positives in all.
    """

    flagged: int
    true: int
    positives: int

    @property
    def precision(self) -> float | None:
        """Share of the flagged items that are positives (``None``: nothing flagged)."""
        return self.true / self.flagged if self.flagged else None

    @property
    def recall(self) -> float | None:
        """Share of the positives flagged (``None``: no positive)."""
        return self.true / self.positives if self.positives else None


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Return the area under the ROC curve: P(a positive outscores a negative), ties half.

    The Mann-Whitney statistic over the average ranks of the scores (ties share their
    ranks), as ``sklearn.metrics.roc_auc_score`` computes it. ``None`` without a positive
    or a negative.

    Raises:
        ValueError: Scores and labels of different lengths.
    """
    if len(scores) != len(labels):
        msg = f"{len(scores)} scores for {len(labels)} labels"
        raise ValueError(msg)
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    order = sorted(range(len(scores)), key=scores.__getitem__)
    rank_sum = 0.0
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        rank = (start + end) / 2 + 1  # the tied items' average rank, counting from 1
        rank_sum += rank * sum(labels[order[i]] for i in range(start, end + 1))
        start = end + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def hits(flags: Sequence[bool], labels: Sequence[bool]) -> Hits:
    """Count what ``flags`` flagged against ``labels`` (same order and length)."""
    if len(flags) != len(labels):
        msg = f"{len(flags)} flags for {len(labels)} labels"
        raise ValueError(msg)
    return Hits(
        flagged=sum(flags),
        true=sum(1 for flag, label in zip(flags, labels, strict=True) if flag and label),
        positives=sum(labels),
    )
