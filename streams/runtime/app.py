"""The composition root of the stream worker: a Faust app built from settings."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS
from streams.runtime import stale_records
from streams.runtime.agents.ingest import register_ingest
from streams.runtime.agents.timer import register_schedule
from streams.runtime.api import HistoryReader, register_api
from streams.runtime.health import SAMPLE_SECONDS, Progress
from streams.runtime.kafka_admin import faust_credentials
from streams.runtime.model_checkpoints import register_checkpoints

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)


def utc_now() -> datetime:
    """Return the current time, timezone-aware."""
    return datetime.now(UTC)


def file_clock(path: Path) -> Clock:
    """Return a clock that reads "now" from ``path`` (one ISO-8601 time; UTC if naive).

    For tests and demos that move time (``NUDGE_CLOCK_FILE``): the system clock is used
    while the file is missing or unreadable.
    """

    def now() -> datetime:
        try:
            moment = datetime.fromisoformat(path.read_text("utf-8").strip())
        except (OSError, ValueError):
            return utc_now()
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    return now


def create_app(
    settings: Settings, *, clock: Clock | None = None, history: HistoryReader | None = None
) -> faust.App:
    """Build the worker's Faust app with its tables, agents and timer.

    Args:
        settings: Runtime configuration.
        clock: Processing-time source; tests pass a fixed or movable clock. By default
            the system clock, or ``NUDGE_CLOCK_FILE`` when set.
        history: Where the query API reads history (PostgreSQL); ``None``: it answers
            only from the records (history endpoints say 503).
    """
    if clock is None:
        clock = file_clock(settings.clock_file) if settings.clock_file else utc_now
    stale_records.install()  # a Faust fix that at-least-once depends on; see the module
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap.split(",")],
        broker_credentials=faust_credentials(settings),
        store=settings.store,
        datadir=settings.data_dir,
        processing_guarantee=settings.processing_guarantee,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        web_enabled=settings.web_port > 0,
        web_port=settings.web_port or 6066,
        # Faust binds web_bind (default: every interface); web_host is only the address
        # it advertises, so both follow the setting.
        web_bind=settings.bind_address,
        web_host=settings.web_advertised_host or advertised_host(settings.bind_address),
        # Faust's own web apps show any table's records to anyone who asks
        # (/table/user_state/KEY): off. The query API (streams.runtime.api) asks for a token.
        web_tables_enabled=False,
        web_router_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        autodiscover=False,
        # Commit often: a crash replays at most this much (harmless, but work).
        broker_commit_interval=1.0,
        # Batch produce requests a little: at linger 0 nearly every changelog write and
        # output message was its own request (measured by make bench).
        producer_linger_ms=5,
        # Notice topics (and partitions) that appear after start-up within 30 s, not the
        # default 5 minutes: a subscription made before they showed is otherwise empty.
        consumer_metadata_max_age_ms=30_000,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_seconds / 3),
        # Our own JSON logs; Faust must not install its handlers over them.
        loghandlers=[],
    )
    stage = register_ingest(app, settings, clock)
    register_schedule(app, stage, settings)
    register_api(app, stage, settings, history)
    if stage.learning is not None:
        register_checkpoints(app, stage.learning, settings)
    _log_rebalances(app, BEHAVIOR_EVENTS.full_name(settings.topic_prefix))
    _sample_progress(app, stage.progress, set(stage.dead_letters))
    app.nudge_progress = stage.progress  # type: ignore[attr-defined] # read by the worker
    return app


def _sample_progress(app: faust.App, progress: Progress, inputs: set[str]) -> None:
    """Every ``SAMPLE_SECONDS``, record each assigned input partition's commit and end."""

    async def sample() -> None:
        consumer: Any = app.consumer
        actives: Any = app.assignor.assigned_actives()
        offsets: dict[tuple[str, int], tuple[int | None, int | None]] = {}
        for tp in actives:
            if tp.topic not in inputs:
                continue
            try:
                end = consumer.highwater(tp)
            except Exception:  # noqa: BLE001 - not fetched yet, or the client is restarting
                end = None
            # Faust keeps the offset it last committed per partition (the next to read).
            offsets[(tp.topic, tp.partition)] = (consumer._committed_offset.get(tp), end)
        busy = bool(app.rebalancing or getattr(app, "in_recovery", False))
        progress.sample(offsets, busy=busy)

    app.timer(SAMPLE_SECONDS, name="nudge.progress")(sample)


#: Bind addresses that mean "every interface": no use as an address to advertise.
WILDCARD_ADDRESSES = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 (compared, not bound)


def advertised_host(bind_address: str) -> str:
    """Return the host name Faust puts in its web URL for a worker bound to ``bind_address``.

    The bind address itself, unless it is a wildcard; then the machine's host name (Faust's
    own default), which is what other hosts can reach in a container or pod.
    """
    return socket.gethostname() if bind_address in WILDCARD_ADDRESSES else bind_address


def _log_rebalances(app: faust.App, source_topic: str) -> None:
    """Log which input partitions this worker gains and loses (INFO: rare and useful)."""

    def numbers(partitions: Iterable[Any]) -> list[int]:
        return sorted(tp.partition for tp in partitions if tp.topic == source_topic)

    def assigned(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        partitions = numbers(args[0] if args else kwargs.get("assigned", ()))
        log.info("partitions assigned", extra={"topic": source_topic, "partitions": partitions})

    def revoked(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        partitions = numbers(args[0] if args else kwargs.get("revoked", ()))
        log.info("partitions revoked", extra={"topic": source_topic, "partitions": partitions})

    # mode's SignalHandlerT is generic over the signal's sender; plain handlers match at
    # run time (mode.signals calls receiver(sender, *args, signal=..., **kwargs)).
    app.on_partitions_assigned.connect(assigned)  # type: ignore[arg-type]
    app.on_partitions_revoked.connect(revoked)  # type: ignore[arg-type]
