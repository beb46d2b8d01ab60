"""The anomaly evaluation: the shipped scorer beats the 3x rule, and the stream is as built."""

from __future__ import annotations

import random

import pytest

from models.online import anomaly
from models.online_evaluation.anomalies import (
    PER_USER,
    RULE,
    RULE_MIN_AMOUNT,
    RULE_MULTIPLE,
    SHIPPED,
    SHIPPED_MIN_AMOUNT,
    SHIPPED_MIN_SCORE,
    _multiple,
    _views,
    evaluate_anomalies,
)
from models.online_evaluation.card_stream import ANOMALY_SHARE, KINDS, Debit, stream
from streams.core.features.baselines import baseline_weeks, mean_of
from streams.core.state import alert_stats
from streams.core.triggers.catalogue import default_definitions

USERS = 80
#: The shipped scorer's ROC-AUC over the rule's, at least, on this stream.
MARGIN = 0.15


@pytest.mark.parametrize("seed", [0, 1])
def test_the_per_user_scorer_ranks_anomalies_far_better_than_the_rule(seed: int) -> None:
    evaluation = evaluate_anomalies(users=USERS, seed=seed)
    scorer, rule = evaluation.method(PER_USER), evaluation.method(RULE)
    trees = evaluation.method("half-space trees")
    assert scorer.auc is not None and rule.auc is not None and trees.auc is not None
    assert scorer.auc >= rule.auc + MARGIN, (scorer.auc, rule.auc)
    assert scorer.auc > trees.auc + 0.05, (scorer.auc, trees.auc)
    # The rule sees amounts only: the other kinds are a coin toss to it.
    for kind in ("time", "abroad"):
        value = rule.auc_by_kind[kind]
        assert value is not None and value < 0.65, (kind, value)
    shipped = evaluation.point(SHIPPED)
    assert shipped.hits.flagged > 0 and shipped.recall_by_kind["amount"] == 0.0  # not its job


def test_a_scorer_that_learns_nothing_would_not_pass(monkeypatch) -> None:
    monkeypatch.setattr(anomaly, "learn", lambda state, **debit: None)
    evaluation = evaluate_anomalies(users=USERS, seed=0)
    scorer, rule = evaluation.method(PER_USER), evaluation.method(RULE)
    assert scorer.auc is not None and rule.auc is not None
    assert scorer.auc < rule.auc + MARGIN


def test_the_stream_injects_each_kind_as_built() -> None:
    debits = stream(60, seed=5)
    tested = [d for d in debits if d.tested]
    injected = [d for d in tested if d.kind is not None]
    assert len(injected) / len(tested) == pytest.approx(ANOMALY_SHARE, abs=0.002)
    counts = [sum(d.kind == kind for d in injected) for kind in KINDS]
    assert max(counts) - min(counts) <= 1
    assert all(1 <= d.local_hour <= 4 for d in injected if d.kind == "time")
    assert all(d.merchant.startswith("fraud-") for d in injected if d.kind == "abroad")
    assert [d.at for d in debits] == sorted(d.at for d in debits)
    assert debits == stream(60, seed=5)


def test_the_thresholds_are_the_catalogues() -> None:
    shipped = {d.id: d.thresholds for d in default_definitions()}
    assert shipped["unusual_transaction"] == {
        "min_score": SHIPPED_MIN_SCORE, "min_amount": SHIPPED_MIN_AMOUNT,
    }  # fmt: skip
    assert shipped["large_transaction"] == {
        "min_multiple": RULE_MULTIPLE, "min_amount": RULE_MIN_AMOUNT,
    }  # fmt: skip


@pytest.mark.parametrize("seed", range(5))
def test_the_rule_is_debit_multiple_of_the_spending_baseline(seed: int) -> None:
    rng = random.Random(seed)
    since, today = 100, 100 + rng.randint(0, 40)
    days = {d: rng.randint(0, 20_000) / 100 for d in range(since, today + 1) if rng.random() < 0.8}
    cents = {d: round(v * 100) for d, v in days.items()}
    mean = mean_of(baseline_weeks(cents, today, since))  # the feature's, in cents
    expected = 0.0 if not mean else 42.0 * 7 / (mean / 100)
    assert _multiple(42.0, days, today, since) == pytest.approx(expected, rel=1e-6)


def test_bitmap_novelty_is_the_records() -> None:
    names = [f"shop-{i % 300}" for i in range(600)]
    debits = [
        Debit(0, float(i), 12, 10.0, name, "groceries", "US", None) for i, name in enumerate(names)
    ]
    views = _views(debits)
    bitmap = ""
    for name, new in zip(names, views.bitmap_merchant, strict=True):
        assert new == (not alert_stats.has_name(bitmap, name, alert_stats.MERCHANT_BITS))
        bitmap = alert_stats._set_bit(bitmap, name, alert_stats.MERCHANT_BITS)
    # Past a few dozen names, some new ones read as seen: the sets know better.
    assert sum(views.new_merchant) == 300 > sum(views.bitmap_merchant)
