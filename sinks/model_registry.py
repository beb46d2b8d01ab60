"""The model registry in PostgreSQL (``model_versions``), and the alert recommender's data.

Training data: every user with features in ``alert_profiles`` (the latest profile the
sink kept), with the alerts they have on, folded from ``alert_actions``: per user and alert
type, the latest action (by ``occurred_at``, then ``event_id`` so a tie is decided the same
way every time) decides; ``created`` and ``enabled`` leave it on. Both tables are read in
one ``REPEATABLE READ`` transaction, so a profile and its actions are of the same moment.
A row the contract would not accept (features missing a field, an unknown alert type) is
skipped and counted, not a reason to stop training.

Versions: numbered from 1 per model name. ``add_version`` takes a transaction-scoped
advisory lock on the name, so two trainers running at once get versions n and n + 1
instead of one failing on the primary key; it writes the artefact (a callback told the
version) inside that transaction, so a row never names a file that was not written.

Status: ``candidate`` until promoted; ``promote`` makes a version ``active`` and retires
the one active before it, in one transaction (the old one first: the partial unique index
allows one active version per name at any instant). ``rollback`` re-activates the version
the current one replaced (the retired one whose ``retired_at`` is the latest not after the
current one's ``promoted_at``) and retires the current: it undoes the last promotion, and
a second rollback undoes the first, as ``cd -`` does; the table keeps no longer history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from schemas.alerts import AlertAction, AlertFeatureValues, AlertType
from schemas.settings import Settings
from sinks.migrate import database_engine
from sinks.tables import ModelVersionRow

#: PostgreSQL's "undefined_table": the database is not migrated.
UNDEFINED_TABLE = "42P01"

#: The latest action per user and alert type; ties on time go to the larger event id.
LATEST_ACTIONS = text(
    "SELECT DISTINCT ON (user_id, alert_type) user_id, alert_type, action"
    " FROM alert_actions ORDER BY user_id, alert_type, occurred_at DESC, event_id DESC"
)
PROFILES = text("SELECT user_id, as_of, features FROM alert_profiles ORDER BY user_id")
ALERT_TYPES = frozenset(a.value for a in AlertType)
TURNS_ON = {a.value: a.turns_on for a in AlertAction}


class RegistryError(RuntimeError):
    """The registry cannot do what was asked (no such version, database unreachable...)."""


@dataclass(frozen=True, slots=True)
class ProfileLabels:
    """One user's features and the alerts they have on, as the tables hold them."""

    user_id: str
    as_of: datetime
    features: AlertFeatureValues
    enabled: frozenset[AlertType]


@dataclass(frozen=True, slots=True)
class TrainingData:
    """The users to train on, and how many rows were skipped as unreadable."""

    users: list[ProfileLabels]
    skipped_profiles: int = 0
    skipped_actions: int = 0


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the trainer knows of a new version before it has a number."""

    trained_at: datetime
    window_start: datetime | None
    window_end: datetime | None
    parameters: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    data_fingerprint: str = ""


@dataclass(frozen=True, slots=True)
class Promotion:
    """The version now active, the one it replaced, and whether anything changed."""

    active: ModelVersionRow
    retired: ModelVersionRow | None
    changed: bool


def read_training_data(settings: Settings) -> TrainingData:
    """Return every user with features, with the alerts their actions leave on.

    Raises:
        RegistryError: The database cannot be reached or is not migrated.
    """
    with _engine(settings) as engine, _translated():
        with engine.execution_options(isolation_level="REPEATABLE READ").begin() as connection:
            profiles = connection.execute(PROFILES).all()
            actions = connection.execute(LATEST_ACTIONS).all()
    enabled: dict[str, set[AlertType]] = {}
    skipped_actions = 0
    for user_id, alert_type, action in actions:
        if alert_type not in ALERT_TYPES or action not in TURNS_ON:
            skipped_actions += 1
        elif TURNS_ON[action]:
            enabled.setdefault(user_id, set()).add(AlertType(alert_type))
    users: list[ProfileLabels] = []
    skipped_profiles = 0
    for user_id, as_of, features in profiles:
        if features is None:
            continue  # no debit yet: nothing to learn from (cold start)
        try:
            values = AlertFeatureValues.model_validate(features)
        except ValidationError:
            skipped_profiles += 1
            continue
        users.append(ProfileLabels(user_id, as_of, values, frozenset(enabled.get(user_id, ()))))
    return TrainingData(users, skipped_profiles, skipped_actions)


def add_version(
    settings: Settings,
    name: str,
    candidate: Candidate,
    write_artefact: Callable[[int], tuple[str, str]],
) -> ModelVersionRow:
    """Record a new ``candidate`` version of ``name``, numbered after the newest.

    Args:
        settings: Where the database is.
        name: The model's name.
        candidate: The version's training window, parameters, metrics and fingerprint.
        write_artefact: Called with the new version's number, inside the transaction;
            writes the model file and returns its path and SHA-256.

    Raises:
        RegistryError: The database cannot be reached or is not migrated.
    """
    with _transaction(settings, name) as session:
        newest = session.scalar(
            select(ModelVersionRow.version)
            .where(ModelVersionRow.name == name)
            .order_by(ModelVersionRow.version.desc())
            .limit(1)
        )
        version = (newest or 0) + 1
        artefact, sha256 = write_artefact(version)
        row = ModelVersionRow(
            name=name,
            version=version,
            status="candidate",
            trained_at=candidate.trained_at,
            window_start=candidate.window_start,
            window_end=candidate.window_end,
            parameters=candidate.parameters,
            metrics=candidate.metrics,
            data_fingerprint=candidate.data_fingerprint,
            artefact=artefact,
            sha256=sha256,
        )
        session.add(row)
    return row


def list_versions(settings: Settings, name: str) -> list[ModelVersionRow]:
    """Return every version of ``name``, oldest first."""
    with _transaction(settings) as session:
        query = select(ModelVersionRow).where(ModelVersionRow.name == name)
        return list(session.scalars(query.order_by(ModelVersionRow.version)))


@dataclass(frozen=True, slots=True)
class CheckpointSummary:
    """A global online model's newest checkpoints (``model_checkpoints``), added up."""

    model: str
    partitions: int
    """Input partitions with a checkpoint."""
    events: int
    """Events learned from, over the newest checkpoint of every partition."""
    newest: datetime
    """When the newest of them was taken."""


#: Each model's newest checkpoint per partition, added up per model.
NEWEST_CHECKPOINTS = text(
    "SELECT model, count(*) AS partitions, sum(events) AS events, max(taken_at) AS newest"
    " FROM (SELECT DISTINCT ON (model, partition) model, partition, events, taken_at"
    "       FROM model_checkpoints ORDER BY model, partition, sequence DESC) AS newest"
    " GROUP BY model ORDER BY model"
)


def latest_checkpoints(settings: Settings) -> list[CheckpointSummary]:
    """Return every global online model's newest checkpoints, added up, by model name."""
    with _transaction(settings) as session:
        rows = session.execute(NEWEST_CHECKPOINTS).all()
    return [CheckpointSummary(r.model, r.partitions, int(r.events), r.newest) for r in rows]


def get_version(settings: Settings, name: str, version: int) -> ModelVersionRow | None:
    """Return version ``version`` of ``name``, or ``None``."""
    with _transaction(settings) as session:
        return session.get(ModelVersionRow, (name, version))


def active_version(settings: Settings, name: str) -> ModelVersionRow | None:
    """Return the active version of ``name``, or ``None`` when none is."""
    with _transaction(settings) as session:
        return _active(session, name, lock=False)


def promote(settings: Settings, name: str, version: int, *, now: datetime) -> Promotion:
    """Make ``version`` the active one and retire the one it replaces, in one transaction.

    Promoting the active version changes nothing (``changed`` is false): the caller may
    publish it again.

    Raises:
        RegistryError: No such version, or the database cannot be reached.
    """
    with _transaction(settings, name) as session:
        chosen = session.get(ModelVersionRow, (name, version), with_for_update=True)
        if chosen is None:
            msg = f"{name} has no version {version}"
            raise RegistryError(msg)
        if chosen.status == "active":
            return Promotion(chosen, None, changed=False)
        current = _active(session, name)
        _switch(session, current, chosen, now)
    return Promotion(chosen, current, changed=True)


def rollback(settings: Settings, name: str, *, now: datetime) -> Promotion:
    """Re-activate the version the active one replaced, and retire the active one.

    Raises:
        RegistryError: No active version, none before it, or the database unreachable.
    """
    with _transaction(settings, name) as session:
        current = _active(session, name)
        if current is None:
            msg = f"{name} has no active version to roll back"
            raise RegistryError(msg)
        assert current.promoted_at is not None  # noqa: S101 - set by every promotion
        previous = session.scalar(
            select(ModelVersionRow)
            .where(
                ModelVersionRow.name == name,
                ModelVersionRow.status == "retired",
                ModelVersionRow.retired_at <= current.promoted_at,
            )
            .order_by(ModelVersionRow.retired_at.desc(), ModelVersionRow.version.desc())
            .limit(1)
        )
        if previous is None:
            msg = f"no version of {name} was active before v{current.version}"
            raise RegistryError(msg)
        _switch(session, current, previous, now)
    return Promotion(previous, current, changed=True)


def _switch(
    session: Session, current: ModelVersionRow | None, chosen: ModelVersionRow, now: datetime
) -> None:
    if current is not None:
        current.status = "retired"
        current.retired_at = now
        session.flush()  # the old one retired before the new one is active: one at a time
    chosen.status = "active"
    chosen.promoted_at = now
    chosen.retired_at = None


def _active(session: Session, name: str, *, lock: bool = True) -> ModelVersionRow | None:
    query = select(ModelVersionRow).where(
        ModelVersionRow.name == name, ModelVersionRow.status == "active"
    )
    return session.scalar(query.with_for_update() if lock else query)


@contextmanager
def _transaction(settings: Settings, lock: str | None = None) -> Iterator[Session]:
    """Yield a session in a transaction; ``lock``: hold the name's advisory lock in it."""
    with (
        _engine(settings) as engine,
        _translated(),
        Session(engine, expire_on_commit=False) as session,
        session.begin(),
    ):
        if lock is not None:
            session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"model_versions:{lock}"},
            )
        yield session


@contextmanager
def _engine(settings: Settings) -> Iterator[Engine]:
    engine = database_engine(settings)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _translated() -> Iterator[None]:
    """Turn an unreachable or unmigrated database into a ``RegistryError``."""
    try:
        yield
    except ProgrammingError as exc:
        if getattr(exc.orig, "sqlstate", None) != UNDEFINED_TABLE:
            raise
        msg = "the database has no model registry; run `nudge db upgrade`"
        raise RegistryError(msg) from exc
    except OperationalError as exc:
        msg = f"cannot reach the database ({type(exc.orig).__name__})"
        raise RegistryError(msg) from exc
