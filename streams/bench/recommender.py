"""The alert recommender's costs: training time, prediction latency and model size.

``python -m streams.bench models`` needs no broker and no database: it builds synthetic
users (``synthetic_users``: four kinds of customer, features spread around each kind's,
two in three with alerts chosen mostly by kind), then for each size (1,000 and 10,000
users by default):

- ``fit_seconds``: ``AlertRecommender.fit`` on every user (scaling and the neighbour index);
- ``train_seconds``: ``models.training.train``, what ``nudge models train`` runs between
  reading the tables and saving: the split, the fit and the held-out evaluation;
- ``predict_ms``: ``recommend`` for new users one at a time, as a worker calls it
  (median, p99, max, mean over ``predictions`` users);
- ``model_bytes``: the saved model file and its manifest (``models.artifacts.save``).

The issue's seed figures, to compare against, are in the section as ``seed_figures``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from models.artifacts import save
from models.features import AlertFeatures
from models.recommender import DEFAULT_K, DEFAULT_THRESHOLD, AlertRecommender
from models.training import LabelledUser, train
from schemas.alerts import AlertType
from streams.bench.report import machine_info, write_report_section

#: The issue's figures to beat: training seconds per 1,000 users, milliseconds per
#: prediction, model bytes.
SEED_FIGURES = {
    "train_seconds_per_1000_users": [1.0, 2.0],
    "predict_ms_per_user_below": 100.0,
    "model_bytes": [1_000_000, 5_000_000],
}

#: Kinds of customer: the centre of their features (``FEATURE_NAMES`` order) and the
#: alerts they tend to choose.
KINDS: tuple[tuple[tuple[float, ...], tuple[AlertType, ...]], ...] = (
    ((3_000, 150, 80, 20, 0.7, 12, 5, 0.1),
     (AlertType.HIGH_SPENDER, AlertType.HIGH_MERCHANT_DIVERSITY)),
    ((600, 60, 30, 10, 0.3, 4, 3, 0.85),
     (AlertType.NEAR_CREDIT_LIMIT, AlertType.LARGE_TRANSACTION)),
    ((900, 15, 5, 60, 2.5, 8, 3, 0.3),
     (AlertType.HIGH_TX_VOLUME, AlertType.SUBSCRIPTION_MONITORING)),
    ((200, 50, 20, 4, 0.1, 3, 2, 0.2),
     (AlertType.NEW_MERCHANT, AlertType.LOCATION_BASED)),
)  # fmt: skip
#: Chance that a user with alerts chose each of their kind's, and any other one.
KIND_ALERT_CHANCE = 0.8
OTHER_ALERT_CHANCE = 0.05
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ModelBenchOptions:
    """What to run.

    Attributes:
        sizes: Users trained on, one run each.
        predictions: New users whose recommendations are timed, one call each.
        seed: Seed of the synthetic users.
        out: The report; its ``models`` section is replaced, the rest kept.
    """

    sizes: tuple[int, ...] = (1_000, 10_000)
    predictions: int = 300
    seed: int = 7
    out: Path = Path("reports/bench.json")


def synthetic_users(count: int, seed: int) -> list[LabelledUser]:
    """Return ``count`` users of ``KINDS``; two in three chose alerts, the rest none."""
    rng = np.random.default_rng(seed)
    alerts = list(AlertType)
    users = []
    for n in range(count):
        centre, usual = KINDS[n % len(KINDS)]
        values = np.asarray(centre) * rng.lognormal(0.0, 0.35, len(centre))
        values[-1] = min(values[-1], 1.0)  # utilisation: a share
        enabled: set[AlertType] = set()
        if n % 3:
            enabled = {a for a in usual if rng.random() < KIND_ALERT_CHANCE}
            enabled |= {a for a in alerts if rng.random() < OTHER_ALERT_CHANCE}
        features = AlertFeatures(*(float(v) for v in values))
        users.append(LabelledUser(f"bench-{seed}-{n}", features, frozenset(enabled), EPOCH))
    return users


def quantiles(values: list[float]) -> dict[str, float]:
    """Return the median, p99, max and mean of ``values``, rounded to microseconds."""
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {
        "p50": rank(0.50),
        "p99": rank(0.99),
        "max": round(ordered[-1], 3),
        "mean": round(sum(ordered) / len(ordered), 3),
    }


def measure(size: int, options: ModelBenchOptions, directory: Path) -> dict[str, Any]:
    """Train on ``size`` synthetic users, time predictions, save; return the figures."""
    users = synthetic_users(size, options.seed)
    features = [u.features for u in users]
    labels = [u.enabled for u in users]
    started = time.perf_counter()
    AlertRecommender(k=DEFAULT_K, threshold=DEFAULT_THRESHOLD).fit(features, labels)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    trained = train(users, k=DEFAULT_K, threshold=DEFAULT_THRESHOLD)
    train_seconds = time.perf_counter() - started
    newcomers = synthetic_users(options.predictions, options.seed + 1)
    shipped = trained.recommender  # what ``nudge models train`` saves and workers serve
    latencies = []
    for user in newcomers:
        started = time.perf_counter()
        shipped.recommend(user.features, user.enabled)
        latencies.append((time.perf_counter() - started) * 1_000)
    artefact = save(shipped, directory, name="bench", version=size)
    model_bytes = artefact.model_path.stat().st_size + artefact.manifest_path.stat().st_size
    return {
        "users": size,
        "fit_seconds": round(fit_seconds, 4),
        "train_seconds": round(train_seconds, 4),
        "train_seconds_per_1000_users": round(train_seconds * 1_000 / size, 4),
        "predictions": len(latencies),
        "predict_ms": quantiles(latencies),
        "model_bytes": model_bytes,
        "held_out_precision_at_k": trained.evaluation.scores["knn"].precision_at_k,
    }


def run_models_bench(options: ModelBenchOptions) -> int:
    """Measure every size, write the ``models`` section of the report; return 0."""
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    runs = []
    with tempfile.TemporaryDirectory(prefix="nudge-bench-models-") as scratch:
        for size in options.sizes:
            print(f"bench models: {size} users ...", file=sys.stderr)
            runs.append(measure(size, options, Path(scratch)))
    section = {
        "started_at": started_at,
        "machine": machine_info(),
        "parameters": {
            **{k: v for k, v in asdict(options).items() if k != "out"},
            "k": DEFAULT_K,
            "threshold": DEFAULT_THRESHOLD,
        },
        "seed_figures": SEED_FIGURES,
        "runs": runs,
    }
    write_report_section(options.out, "models", section)
    print(format_runs(section))
    print(f"\nreport written to {options.out} (section 'models')")
    return 0


def format_runs(section: dict[str, Any]) -> str:
    """Return a short human table of the runs."""
    header = (
        f"{'users':>7} {'fit s':>7} {'train s':>8} {'s/1000':>7} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'model bytes':>12}"
    )
    lines = [header, "-" * len(header)]
    for run in section["runs"]:
        lines.append(
            f"{run['users']:>7} {run['fit_seconds']:>7.3f} {run['train_seconds']:>8.3f} "
            f"{run['train_seconds_per_1000_users']:>7.3f} {run['predict_ms']['p50']:>7.3f} "
            f"{run['predict_ms']['p99']:>7.3f} {run['model_bytes']:>12,}"
        )
    return "\n".join(lines)
