"""``nudge models ...``: train, list, promote, roll back and evaluate the alert recommender.

``list`` also prints the online global models' newest checkpoints (``model_checkpoints``,
written by the sink from ``models.checkpoints``): per model, the partitions, the events
learned from, and when the newest was taken.

``evaluate-online`` is apart: it needs no database, and prints the online models'
evaluations on synthetic data (``models.online_evaluation``; ``--json`` for the figures).

``train`` reads every user's features and alerts from PostgreSQL (``sinks.model_registry``),
trains and evaluates on held-out users (``models.training``), writes the artefact into
``NUDGE_MODELS_DIR`` (``models.artifacts``) and records it as a ``candidate``. It does
nothing while the active version is younger than ``NUDGE_MODEL_MAX_AGE_DAYS`` (``--force``
trains anyway), which lets a schedule run it daily. ``--promote`` then promotes the new
version if there is no active one or it is at least as precise on held-out users
(precision@k) as the active one; otherwise it says why not and leaves the active one.

``promote VERSION`` and ``rollback`` change the registry in one transaction, and only once
that has committed publish a ``ModelPromotion`` on ``models.active`` (keyed by the model's
name) for the workers to switch to. If the broker cannot be reached then, the registry is
already changed: ``promote`` of the active version publishes it again.

Exit codes: 0 done (or nothing to do), 1 the database, the broker or the registry refused,
3 too few users to train or to evaluate on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schemas.alerts import ALERT_RECOMMENDER, ModelPromotion
from schemas.settings import Settings

if TYPE_CHECKING:
    from models.recommender import AlertRecommender
    from models.training import LabelledUser
    from sinks.model_registry import ProfileLabels
    from sinks.tables import ModelVersionRow

#: Too few users to train on or to evaluate on: nothing is broken, there is no data yet.
EXIT_TOO_FEW_USERS = 3
SECONDS_PER_DAY = 86_400.0


def register(subcommands: Any) -> None:
    """Add ``models`` to the ``nudge`` subcommands."""
    models = subcommands.add_parser(
        "models",
        help="the alert recommender's versions: train, list, promote, evaluate; evaluate-online",
    )
    actions = models.add_subparsers(dest="action", required=True)
    train = actions.add_parser("train", help="train and evaluate a new version (a candidate)")
    train.add_argument(
        "--force", action="store_true", help="train even if the active version is recent"
    )
    train.add_argument(
        "--promote", action="store_true", help="promote it unless less precise than the active"
    )
    actions.add_parser("list", help="every version: status, held-out precision, dates")
    promote = actions.add_parser("promote", help="make VERSION the one workers serve")
    promote.add_argument("version", type=int, metavar="VERSION")
    actions.add_parser("rollback", help="re-activate the version the active one replaced")
    evaluate = actions.add_parser(
        "evaluate", help="KNN vs popularity vs heuristics on held-out users"
    )
    evaluate.add_argument(
        "version", type=int, nargs="?", metavar="VERSION", help="default: the active, else newest"
    )
    online = actions.add_parser(
        "evaluate-online",
        help="the online models on synthetic data: anomalies, send time, forecasts, goals",
    )
    online.add_argument("--json", action="store_true", help="print the figures as JSON")
    online.add_argument("--seed", type=int, default=0, help="same seed, same figures")
    for parser in actions.choices.values():
        parser.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Dispatch ``nudge models ACTION``; say why, and fail, if the registry cannot."""
    from sinks.model_registry import RegistryError

    actions = {
        "train": lambda: train(settings, force=args.force, promote=args.promote),
        "list": lambda: list_versions(settings),
        "promote": lambda: promote(settings, args.version),
        "rollback": lambda: rollback(settings),
        "evaluate": lambda: evaluate(settings, args.version),
        "evaluate-online": lambda: evaluate_online(seed=args.seed, as_json=args.json),
    }
    try:
        return actions[args.action]()
    except RegistryError as exc:
        print(f"models {args.action}: {exc}", file=sys.stderr)
        return 1


def train(settings: Settings, *, force: bool = False, promote: bool = False) -> int:
    """Train, evaluate and record a candidate version; promote it if asked and as good."""
    from models.evaluation import render_evaluation
    from models.training import TrainingError
    from models.training import train as fit
    from sinks import model_registry as registry

    now = datetime.now(UTC)
    active = registry.active_version(settings, ALERT_RECOMMENDER)
    if active is not None and not force:
        age = (now - active.trained_at).total_seconds() / SECONDS_PER_DAY
        if age < settings.model_max_age_days:
            print(
                f"{ALERT_RECOMMENDER} v{active.version} was trained {age:.1f} days ago, under "
                f"NUDGE_MODEL_MAX_AGE_DAYS ({settings.model_max_age_days:g}): not training "
                "(--force trains anyway)"
            )
            return 0
    data = registry.read_training_data(settings)
    if data.skipped_profiles or data.skipped_actions:
        print(
            f"models train: skipped {data.skipped_profiles} unreadable profiles and "
            f"{data.skipped_actions} unreadable alert actions",
            file=sys.stderr,
        )
    try:
        trained = fit(
            [labelled(user) for user in data.users],
            k=settings.alert_neighbours,
            threshold=settings.alert_threshold,
        )
    except TrainingError as exc:
        print(f"models train: cannot train {ALERT_RECOMMENDER}: {exc}", file=sys.stderr)
        return EXIT_TOO_FEW_USERS
    candidate = registry.Candidate(
        trained_at=now,
        window_start=trained.window_start,
        window_end=trained.window_end,
        parameters=trained.parameters(),
        metrics=trained.metrics(),
        data_fingerprint=trained.fingerprint,
    )
    directory = settings.models_dir.resolve()
    try:
        row = registry.add_version(
            settings,
            ALERT_RECOMMENDER,
            candidate,
            lambda version: write_artefact(trained.recommender, directory, version),
        )
    except OSError as exc:  # the models directory not writable, the disk full
        print(f"models train: cannot write the model file: {exc}", file=sys.stderr)
        return 1
    print(f"{describe(row)}: a candidate, saved to {row.artefact}\n")
    print(render_evaluation(row.metrics))
    return promote_if_as_good(settings, row) if promote else 0


def labelled(user: ProfileLabels) -> LabelledUser:
    """Return a user read from the tables as the trainer takes them."""
    from models.features import AlertFeatures
    from models.training import LabelledUser

    return LabelledUser(
        user.user_id, AlertFeatures(**user.features.model_dump()), user.enabled, user.as_of
    )


def write_artefact(model: AlertRecommender, directory: Path, version: int) -> tuple[str, str]:
    """Save the model as ``version``; return its file's absolute path and the SHA-256."""
    from models.artifacts import save

    artefact = save(model, directory, name=ALERT_RECOMMENDER, version=version)
    return str(artefact.model_path), artefact.sha256


def promote_if_as_good(settings: Settings, row: ModelVersionRow) -> int:
    """Promote ``row`` unless the active version is more precise on held-out users."""
    from models.evaluation import knn_precision
    from sinks.model_registry import active_version

    active = active_version(settings, ALERT_RECOMMENDER)
    if active is not None:
        new, old = knn_precision(row.metrics), knn_precision(active.metrics)
        if new < old:
            print(
                f"\nnot promoted: v{row.version}'s held-out precision@{row.metrics['k']} "
                f"({new:.3f}) is below active v{active.version}'s ({old:.3f})"
            )
            return 0
    print()
    return promote(settings, row.version)


def promote(settings: Settings, version: int) -> int:
    """Make ``version`` active in the registry, then publish it on ``models.active``."""
    from sinks.model_registry import promote as promote_version

    promotion = promote_version(settings, ALERT_RECOMMENDER, version, now=datetime.now(UTC))
    if not promotion.changed:
        print(f"{ALERT_RECOMMENDER} v{version} is already active; publishing it again")
    else:
        retired = "" if promotion.retired is None else f" (v{promotion.retired.version} retired)"
        print(f"{ALERT_RECOMMENDER} v{version} is active{retired}")
    return announce(settings, promotion.active)


def rollback(settings: Settings) -> int:
    """Re-activate the version the active one replaced, then publish it."""
    from sinks.model_registry import rollback as rollback_version

    promotion = rollback_version(settings, ALERT_RECOMMENDER, now=datetime.now(UTC))
    assert promotion.retired is not None  # noqa: S101 - a rollback always retires one
    print(
        f"{ALERT_RECOMMENDER} rolled back: v{promotion.active.version} is active, "
        f"v{promotion.retired.version} retired"
    )
    return announce(settings, promotion.active)


def announce(settings: Settings, row: ModelVersionRow) -> int:
    """Publish the active ``row`` on ``models.active``; say so, or why it could not be."""
    from aiokafka.errors import KafkaError

    assert row.promoted_at is not None  # noqa: S101 - an active version was promoted
    message = ModelPromotion(
        name=row.name,
        version=row.version,
        artefact=row.artefact,
        sha256=row.sha256,
        promoted_at=row.promoted_at,
    )
    try:
        asyncio.run(publish_promotion(settings, message))
    except (KafkaError, OSError, RuntimeError, TimeoutError) as exc:  # RuntimeError: topics
        print(
            f"models: v{row.version} is active in the registry but was not published "
            f"({type(exc).__name__}: {exc}); `nudge models promote {row.version}` publishes it",
            file=sys.stderr,
        )
        return 1
    print(f"published on models.active: workers switch to v{row.version}")
    return 0


async def publish_promotion(settings: Settings, message: ModelPromotion) -> None:
    """Publish ``message`` on ``models.active``, keyed by the model's name."""
    from schemas.topics import MODELS_ACTIVE
    from streams.runtime.definitions_feed import publish_entries

    record = (message.name.encode(), message.model_dump_json().encode())
    await publish_entries(settings, [record], MODELS_ACTIVE)


def list_versions(settings: Settings) -> int:
    """Print every version, then the online global models' newest checkpoints."""
    from sinks.model_registry import list_versions as versions

    rows = versions(settings, ALERT_RECOMMENDER)
    if not rows:
        print(f"{ALERT_RECOMMENDER}: no version yet (`nudge models train`)")
    else:
        print_versions(rows)
    print()
    print_checkpoints(settings)
    return 0


def print_versions(rows: list[ModelVersionRow]) -> None:
    """Print the alert recommender's versions: status, when trained, users, precision."""
    header = (
        f"{'version':>7}  {'status':<9}  {'trained (UTC)':<16}  {'trained on':>10}  "
        f"{'held out':>8}  {'precision@k':>11}  {'promoted (UTC)'}"
    )
    print(header)
    print("-" * (len(header) + 2))
    for row in rows:
        metrics = row.metrics
        print(
            f"{row.version:>7}  {row.status:<9}  {stamp(row.trained_at):<16}  "
            f"{metrics.get('training_users', '?'):>10}  {metrics.get('held_out_users', '?'):>8}  "
            f"{shown(metrics):>11}  {stamp(row.promoted_at)}"
        )


def print_checkpoints(settings: Settings) -> None:
    """Print each online global model's newest checkpoints (``models.checkpoints``)."""
    from sinks.model_registry import latest_checkpoints

    summaries = latest_checkpoints(settings)
    if not summaries:
        print("online global models: no checkpoint yet (workers write them as they learn)")
        return
    header = f"{'online global model':<20}  {'partitions':>10}  {'events':>10}  newest (UTC)"
    print(header)
    print("-" * (len(header) + 4))
    for each in summaries:
        print(f"{each.model:<20}  {each.partitions:>10}  {each.events:>10}  {stamp(each.newest)}")


def shown(metrics: dict[str, Any]) -> str:
    """The held-out precision@k for ``list``: "-" when the model recommended nothing."""
    value = metrics.get("methods", {}).get("knn", {}).get("precision_at_k")
    return "-" if value is None else f"{value:.3f}"


def evaluate(settings: Settings, version: int | None) -> int:
    """Print a version's held-out evaluation table (default: the active, else the newest)."""
    from models.evaluation import render_evaluation
    from sinks import model_registry as registry

    if version is not None:
        row = registry.get_version(settings, ALERT_RECOMMENDER, version)
        if row is None:
            print(f"models evaluate: {ALERT_RECOMMENDER} has no version {version}", file=sys.stderr)
            return 1
    else:
        row = registry.active_version(settings, ALERT_RECOMMENDER)
        if row is None:
            rows = registry.list_versions(settings, ALERT_RECOMMENDER)
            if not rows:
                print(f"models evaluate: {ALERT_RECOMMENDER} has no version yet", file=sys.stderr)
                return 1
            row = rows[-1]
    print(f"{describe(row)} ({row.status})\n")
    print(render_evaluation(row.metrics))
    return 0


def evaluate_online(*, seed: int = 0, as_json: bool = False) -> int:
    """Print the online models' evaluations (``models.online_evaluation``); no database.

    On synthetic data built to be learnable, with each evaluation's default population:
    the anomaly scores, the send-time simulation, the forecasts and the goal probability.
    """
    from models import online_evaluation as online

    anomalies = online.evaluate_anomalies(seed=seed)
    send_time = online.simulate_send_time(seed=seed)
    forecasts = online.evaluate_forecasts(seed=seed)
    goals = online.evaluate_goals(seed=seed)
    if as_json:
        print(json.dumps(online.as_dict(anomalies, send_time, forecasts, goals), indent=2))
        return 0
    print(online.render_anomalies(anomalies), end="\n\n")
    print(online.render_send_time(send_time), end="\n\n")
    print(online.render_forecasts(forecasts, goals))
    return 0


def describe(row: ModelVersionRow) -> str:
    """Return a version's one-line summary: settings, users, held-out users."""
    p, m = row.parameters, row.metrics
    return (
        f"{row.name} v{row.version}, k = {p['k']}, threshold {p['threshold']:.2f}: trained "
        f"on {m['training_users']} users ({m['heuristic_labelled_users']} labelled by "
        f"heuristics), evaluated on {m['held_out_users']} held-out users"
    )


def stamp(moment: datetime | None) -> str:
    """Return a time as ``YYYY-MM-DD HH:MM`` in UTC, or ``-``."""
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
