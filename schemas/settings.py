"""The one settings object: every knob Nudge reads, from ``NUDGE_*`` environment variables.

Nothing else in the code base reads ``os.environ``. Locally, ``make kafka-up`` and
``make db-up`` write the broker and database addresses to ``.run/kafka.env`` and
``.run/postgres.env``; those files are read as defaults, and a real environment variable
always wins over them.
"""

from __future__ import annotations

import errno
import ssl
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Files written by the local infrastructure scripts (see ``deploy/local``).
LOCAL_ENV_FILES = (".run/kafka.env", ".run/postgres.env")


class Settings(BaseSettings):
    """Runtime configuration of workers, sinks and tools.

    Each field's environment variable is ``NUDGE_`` followed by the field name in capitals.
    """

    model_config = SettingsConfigDict(
        env_prefix="NUDGE_",
        env_file=LOCAL_ENV_FILES,
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        use_attribute_docstrings=True,
        # An error must not echo what was given: it may be a token or a password.
        hide_input_in_errors=True,
    )

    app_id: str = "nudge"
    """NUDGE_APP_ID: Faust application id and consumer group; workers sharing it share work."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    """NUDGE_KAFKA_BOOTSTRAP: comma-separated ``host:port`` list of brokers."""

    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """NUDGE_KAFKA_SECURITY_PROTOCOL: how clients talk to the brokers."""

    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    """NUDGE_KAFKA_SASL_MECHANISM: SASL mechanism when the protocol is SASL_*."""

    kafka_sasl_username: str | None = None
    """NUDGE_KAFKA_SASL_USERNAME: SASL user name."""

    kafka_sasl_password: SecretStr | None = None
    """NUDGE_KAFKA_SASL_PASSWORD: SASL password (never logged)."""

    kafka_ssl_cafile: str | None = None
    """NUDGE_KAFKA_SSL_CAFILE: CA bundle that signed the brokers' certificates."""

    kafka_ssl_certfile: str | None = None
    """NUDGE_KAFKA_SSL_CERTFILE: client certificate for mutual TLS."""

    kafka_ssl_keyfile: str | None = None
    """NUDGE_KAFKA_SSL_KEYFILE: client private key for mutual TLS."""

    database_url: SecretStr = SecretStr("postgresql+psycopg://postgres@127.0.0.1:5432/nudge")
    """NUDGE_DATABASE_URL: SQLAlchemy URL of PostgreSQL (``postgresql+psycopg://...``)."""

    topic_prefix: str = ""
    """NUDGE_TOPIC_PREFIX: prepended to every topic name, to run several copies on one cluster."""

    partitions: int = Field(default=4, ge=1, le=1024)
    """NUDGE_PARTITIONS: partitions of every user-keyed topic and of the state changelog."""

    replication_factor: int = Field(default=1, ge=1, le=7)
    """NUDGE_REPLICATION_FACTOR: replicas of every topic Nudge creates (3 in production)."""

    processing_guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"
    """NUDGE_PROCESSING_GUARANTEE: Faust's guarantee; the fault tests cover at_least_once.
    ``exactly_once`` lost events under ``make chaos`` and is refused unless
    ``NUDGE_UNSAFE_EXACTLY_ONCE`` is set."""

    unsafe_exactly_once: bool = False
    """NUDGE_UNSAFE_EXACTLY_ONCE: run ``exactly_once`` although ``make chaos`` shows it loses
    events (8,176 events and 60 decisions in one fault run); for testing it, not for use."""

    producer_path: Literal["direct", "buffered"] = "direct"
    """NUDGE_PRODUCER_PATH: how the worker's outputs and state records reach the producer.
    ``direct`` (the default) hands each batch's messages to Faust's producer in one loop and
    ends the process if the broker refuses one; ``buffered`` is Faust's own ``send_soon``
    buffer, one task hop per message (kept to compare, see docs/benchmark.md).
    ``exactly_once`` always uses ``buffered``: Faust picks its transactional producer per
    message."""

    ingest_path: Literal["fetch", "stream"] = "fetch"
    """NUDGE_INGEST_PATH: how input events reach the ingest stage. ``fetch`` (the default)
    hands each fetch of the input topics to the stage as batches, past Faust's per-message
    delivery; ``stream`` is a Faust agent reading batches off its stream, one message at a
    time (kept to compare, see docs/benchmark.md; it keeps a hole Faust's loop can leave
    after a rebalance, see docs/delivery.md)."""

    session_timeout_seconds: float = Field(default=30.0, ge=6.0, le=300.0)
    """NUDGE_SESSION_TIMEOUT_SECONDS: a worker silent this long is presumed dead and its
    partitions move to the others (the broker allows 6 s at the least)."""

    store: str = "memory://"
    """NUDGE_STORE: Faust table store, ``memory://`` (rebuilt from the changelog) or
    ``rocksdb://`` (one database per partition under ``NUDGE_DATA_DIR``; a record reaches it
    only once the changelog has it, so after a crash Faust recovers the rest from the
    changelog)."""

    data_dir: str = ".run/worker"
    """NUDGE_DATA_DIR: where a worker keeps its local table files; give each worker its own."""

    web_port: int = Field(default=0, ge=0, le=65535)
    """NUDGE_WEB_PORT: the worker's Faust web views, where the query API is served (Faust's
    default is 6066); 0, the default, turns them off, so a second worker on the host does
    not collide on it. Metrics and health are on ``NUDGE_METRICS_PORT``."""

    web_advertised_host: str | None = Field(default=None, min_length=1, max_length=255)
    """NUDGE_WEB_ADVERTISED_HOST: the host name or address other workers reach this one's web
    port at, to hand it a query API request for a user it owns. None: the bind address, or
    the host name when binding every interface (in Kubernetes give the pod IP)."""

    api_tokens: SecretStr | None = None
    """NUDGE_API_TOKENS: who may read the query API, as ``name:token`` pairs separated by
    commas (``support:s3cret,grafana:t0ken``); a request sends ``Authorization: Bearer
    TOKEN`` and the audit log names the caller by ``name``. None, the default, turns the API
    off; it also needs ``NUDGE_WEB_PORT``. Tokens of fewer than 16 characters are refused."""

    api_rate_per_second: float = Field(default=20.0, gt=0, le=10_000)
    """NUDGE_API_RATE_PER_SECOND: requests each caller (token name) may make per second to
    one worker, on average; more are answered 429 with ``Retry-After``."""

    api_burst: int = Field(default=40, ge=1, le=100_000)
    """NUDGE_API_BURST: requests a caller may make at once before the rate applies."""

    api_audit_key: SecretStr | None = None
    """NUDGE_API_AUDIT_KEY: the key of the keyed hash that names a user in the audit log
    (``subject``): whoever holds it can find the reads of a given user, the log alone
    names nobody. None: derived from the tokens (set it, so rotating a token keeps the
    audit trail searchable)."""

    metrics_port: int = Field(default=9464, ge=0, le=65535)
    """NUDGE_METRICS_PORT: the stream worker's Prometheus ``/metrics`` and ``/healthz``
    port; 0 turns both off."""

    sink_metrics_port: int = Field(default=9465, ge=0, le=65535)
    """NUDGE_SINK_METRICS_PORT: the sink's Prometheus ``/metrics`` port; 0 turns it off.
    Not the worker's, so a worker and a sink run side by side on one host as they are."""

    stall_seconds: float = Field(default=120.0, ge=10.0, le=3600.0)
    """NUDGE_STALL_SECONDS: a worker whose assigned partition has lag and no commit for
    this long (or whose event loop or timer stopped) is unhealthy and ends itself."""

    bind_address: str = Field(default="127.0.0.1", min_length=1, max_length=255)
    """NUDGE_BIND_ADDRESS: interface the web and metrics ports listen on: loopback by
    default, so nothing is exposed by accident; ``0.0.0.0`` (or ``::``) in containers,
    where the scraper is on another host (``deploy/`` sets it)."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """NUDGE_LOG_LEVEL: root log level of the JSON logs on stderr; INFO stays quiet (start,
    stop, rebalances, errors). At DEBUG the libraries (Kafka, Faust, SQLAlchemy) stay at
    INFO: their DEBUG prints whole messages and rows."""

    max_event_age_seconds: float = Field(default=2 * 86400, gt=0)
    """NUDGE_MAX_EVENT_AGE_SECONDS: older events (by ``occurred_at``) update state but fire nothing.

    Backfills and replays of old history must not message users about last month.
    """

    schedule_interval_seconds: float = Field(default=60.0, ge=0.2, le=3600.0)
    """NUDGE_SCHEDULE_INTERVAL_SECONDS: how often a worker's timer looks at its own users
    for held sends that are due and time-based triggers whose schedule has come round
    (time-based triggers wait while the worker is still reading events older than
    ``NUDGE_MAX_EVENT_AGE_SECONDS``: replayed history cannot tell what did not happen)."""
    segments_every_seconds: float = Field(default=3600.0, ge=60.0, le=86_400.0)
    """NUDGE_SEGMENTS_EVERY_SECONDS: how often the timer judges every user's live segments
    with no event (a user gone quiet joins "inactive 14 days" within this long)."""

    global_control_percent: float = Field(default=0.0, ge=0.0, le=50.0)
    """NUDGE_GLOBAL_CONTROL_PERCENT: share of users (by a hash of the user) who get no
    marketing message at all: every trigger's decision for them is recorded, with the
    reason ``global_control``, and they are counted in the experiment ``global_control``
    beside the users who were messaged, so ``nudge report experiments`` shows the overall
    lift. Risk interventions are never held back. 0 turns the group off."""
    global_control_conversions: str = "purchase,application_complete"
    """NUDGE_GLOBAL_CONTROL_CONVERSIONS: the event types (comma-separated) that count as a
    conversion for the global control group's lift."""
    global_control_window_days: float = Field(default=30.0, gt=0.0, le=90.0)
    """NUDGE_GLOBAL_CONTROL_WINDOW_DAYS: how long after a user's first exposure a
    conversion is credited to their arm of the global control group."""

    models_dir: Path = Path(".run/models")
    """NUDGE_MODELS_DIR: where trained model files are written and read (``models.artifacts``):
    a volume the trainer writes and every worker reads (``deploy/k8s``)."""
    alert_neighbours: int = Field(default=5, ge=1, le=100)
    """NUDGE_ALERT_NEIGHBOURS: k, how many most similar users the alert recommender asks."""
    alert_threshold: float = Field(default=0.40, gt=0.0, le=1.0)
    """NUDGE_ALERT_THRESHOLD: the share of those neighbours that must use an alert for it to
    be recommended (the specification's 40 %)."""
    model_max_age_days: float = Field(default=7.0, gt=0.0)
    """NUDGE_MODEL_MAX_AGE_DAYS: ``nudge models train`` trains only when the active model is
    older than this (``--force`` trains anyway)."""

    model_checkpoint_seconds: float = Field(default=300.0, ge=1.0, le=86_400.0)
    """NUDGE_MODEL_CHECKPOINT_SECONDS: how often a worker writes its global online models
    (the send-time prior, the drift detectors) to ``models.checkpoints``; a crash loses at
    most this much of their learning (``docs/learning.md``)."""
    drift_bucket_events: int = Field(default=1000, ge=10, le=1_000_000)
    """NUDGE_DRIFT_BUCKET_EVENTS: events a worker processes per point of the drift
    detectors: each trigger's firings per event, and the mean anomaly score, over this many."""

    @field_validator("global_control_conversions")
    @classmethod
    def _event_types(cls, value: str) -> str:
        from schemas.events import EVENT_TYPES  # noqa: PLC0415 - settings import little

        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = sorted(set(names) - set(EVENT_TYPES))
        if unknown or not names:
            msg = f"unknown event type(s): {', '.join(unknown) or '(none given)'}"
            raise ValueError(msg)
        return ",".join(names)

    clock_file: Path | None = None
    """NUDGE_CLOCK_FILE: for tests and demos only: read "now" from this file (one ISO-8601
    time) instead of the system clock, so time-based triggers can be shown without waiting."""

    risk_critical: float = Field(default=0.80, ge=0, le=1)
    """NUDGE_RISK_CRITICAL: risk score from which the tier is critical (payment assistance,
    contact within 24 h)."""

    risk_high: float = Field(default=0.60, ge=0, le=1)
    """NUDGE_RISK_HIGH: score from which the tier is high (flexible payment); also where a
    stable trend counts as stable_high."""

    risk_medium: float = Field(default=0.40, ge=0, le=1)
    """NUDGE_RISK_MEDIUM: score from which, with a rising trend, the tier is medium (payment
    reminder)."""

    risk_low: float = Field(default=0.20, ge=0, le=1)
    """NUDGE_RISK_LOW: ``early_warning`` rule only: score from which the tier is low
    (financial wellness resources)."""

    risk_trend_rule: Literal["specification", "early_warning"] = "specification"
    """NUDGE_RISK_TREND_RULE: how a user's last five risk scores are read. ``specification``
    (the default) is the intervention engine's rule as the specification gives it;
    ``early_warning`` is Nudge's first rule, which reacts to a single score and a single
    jump and adds a financial-wellness tier (docs/risk.md compares them)."""

    risk_trend_change: float = Field(default=0.05, ge=0, le=1)
    """NUDGE_RISK_TREND_CHANGE: ``specification``: with a recent mean (newest two scores) at
    or above NUDGE_RISK_HIGH, a rise over the older mean (oldest two) above this is
    increasing. ``early_warning``: a change of at least this is increasing or decreasing."""

    risk_trend_change_low: float = Field(default=0.10, ge=0, le=1)
    """NUDGE_RISK_TREND_CHANGE_LOW: ``specification`` rule: with a recent mean below
    NUDGE_RISK_HIGH, a rise above this is increasing and a fall beyond it decreasing."""

    risk_trend_jump: float = Field(default=0.10, ge=0, le=1)
    """NUDGE_RISK_TREND_JUMP: ``early_warning`` rule only: rise of the newest score over the
    one before that alone makes the trend increasing."""

    risk_cooloff_days: float = Field(default=7.0, ge=0, le=365)
    """NUDGE_RISK_COOLOFF_DAYS: no intervention this close to the user's last one, unless it
    escalates (NUDGE_RISK_ESCALATION)."""

    risk_escalation: bool = True
    """NUDGE_RISK_ESCALATION: inside the cool-off, a tier higher than the last
    intervention's starts anyway (decision reason ``escalated``); the same or a lower tier
    waits, and a recent missed payment still holds back every tier."""

    risk_missed_payment_days: float = Field(default=7.0, ge=0, le=365)
    """NUDGE_RISK_MISSED_PAYMENT_DAYS: no intervention this close to a missed payment (such
    users go to collections, not nudges)."""

    session_gap_seconds: float = Field(default=1800.0, gt=0, le=86_400)
    """NUDGE_SESSION_GAP_SECONDS: a user's visit (session) of web, app and email activity
    ends after this long without activity, in event time; events with a producer's
    ``session_id`` stay in that id's visit whatever the gap."""

    session_lateness_seconds: float = Field(default=21_600.0, ge=0, le=7 * 86_400)
    """NUDGE_SESSION_LATENESS_SECONDS: how long after a visit ended a late event may still
    join it (or merge two visits); a later event is counted, but not sessionised."""

    behavior_change: bool = True
    """NUDGE_BEHAVIOR_CHANGE: the timer judges each user's last complete week of every
    tracked activity (transactions, sessions, page views, feature use, logins) against the
    four weeks before, and records a ``behavior_change`` decision for each change (it
    sends nothing; triggers may use the ``*_week_change_pct`` features)."""

    behavior_change_rise_pct: float = Field(default=100.0, gt=0, le=10_000)
    """NUDGE_BEHAVIOR_CHANGE_RISE_PCT: a week at least this much above the user's baseline
    (percent) is a rise: 100 is twice the usual."""

    behavior_change_fall_pct: float = Field(default=50.0, gt=0, le=100)
    """NUDGE_BEHAVIOR_CHANGE_FALL_PCT: a week at least this much below the baseline
    (percent) is a fall: 50 is half the usual, 100 none at all."""

    behavior_change_min_baseline: float = Field(default=5.0, ge=0, le=10_000)
    """NUDGE_BEHAVIOR_CHANGE_MIN_BASELINE: fewest events a week, on average over the four
    baseline weeks, for an activity to be judged; below it a change of one or two events
    is a percentage of noise (docs/behavior-change.md)."""

    consent_categories: str = "health,financial"
    """NUDGE_CONSENT_CATEGORIES: trigger categories (comma separated; empty: none) whose
    triggers message only users who gave consent to the category (``category_consent`` on
    a profile_update); the others are suppressed with reason ``no_consent``. The
    specification's: health and financial."""

    category_consent: Literal["required", "withdrawal_only"] = "required"
    """NUDGE_CATEGORY_CONSENT: ``required`` (the specification): a sensitive category needs
    consent given; ``withdrawal_only``: only a consent withdrawn suppresses (for a producer
    that cannot send consent yet: every user counts as consenting until they say no)."""

    @field_validator("consent_categories")
    @classmethod
    def _categories(cls, value: str) -> str:
        from typing import get_args  # noqa: PLC0415 - settings import little

        from schemas.events import TriggerCategory  # noqa: PLC0415

        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = sorted(set(names) - set(get_args(TriggerCategory)))
        if unknown:
            msg = f"unknown trigger categor(ies): {', '.join(unknown)}"
            raise ValueError(msg)
        return ",".join(names)

    cap_per_channel_day: int = Field(default=2, ge=0, le=100)
    """NUDGE_CAP_PER_CHANNEL_DAY: most messages a user gets per channel in any 24 hours,
    all triggers together; the most important trigger gets the slots first."""

    cap_per_channel_week: int = Field(default=5, ge=0, le=500)
    """NUDGE_CAP_PER_CHANNEL_WEEK: most messages a user gets per channel in any 7 days."""

    quiet_hours_start: int = Field(default=21, ge=0, le=23)
    """NUDGE_QUIET_HOURS_START: local hour (user's time zone) quiet hours begin."""

    quiet_hours_end: int = Field(default=8, ge=0, le=23)
    """NUDGE_QUIET_HOURS_END: local hour they end; sends in them are moved to this hour, not
    dropped. Equal start and end turn quiet hours off."""

    sink_batch_size: int = Field(default=500, ge=1, le=100_000)
    """NUDGE_SINK_BATCH_SIZE: most messages a sink writes in one database transaction."""

    sink_batch_timeout_seconds: float = Field(default=0.5, gt=0)
    """NUDGE_SINK_BATCH_TIMEOUT_SECONDS: longest a sink waits to fill a batch before writing."""

    sink_retry_max_seconds: float = Field(default=30.0, gt=0)
    """NUDGE_SINK_RETRY_MAX_SECONDS: cap of the exponential back-off while the database is down."""

    sink_write: Literal["copy", "insert"] = "copy"
    """NUDGE_SINK_WRITE: how a sink writes a batch: ``copy`` streams each table's rows into a
    session-local staging table with ``COPY`` and moves the new ones over with one
    ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``; ``insert`` sends them as a multi-row
    ``INSERT ... ON CONFLICT DO NOTHING`` (the earlier way, slower; kept to compare the
    two, and for a server where temporary tables are not allowed). Either stores the
    same rows and counts the same duplicates."""

    @field_validator("api_tokens", "api_audit_key", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        # ``NUDGE_API_TOKENS=`` (compose's ``${NUDGE_API_TOKENS:-}``) means "not set".
        return None if value == "" else value

    @field_validator("api_tokens")
    @classmethod
    def _api_tokens(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            api_callers(value.get_secret_value())  # raises ValueError, naming no token
        return value

    def api_callers(self) -> dict[str, str]:
        """Return token -> caller name from ``api_tokens``; empty when the API is off."""
        return {} if self.api_tokens is None else api_callers(self.api_tokens.get_secret_value())

    retention_days: str = ""
    """NUDGE_RETENTION_DAYS: days each database table keeps its rows, overriding the
    defaults: ``table=days`` pairs separated by commas, such as
    ``trigger_events=30,dead_letters=14``; ``0`` keeps a table's rows forever. ``nudge db
    purge`` deletes older rows (the defaults and the purgeable tables: docs/privacy.md)."""

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, value: str) -> str:
        from schemas.privacy import parse_retention  # noqa: PLC0415 - settings import little

        parse_retention(value)  # the tables are the sink's to check (sinks.retention)
        return value

    @classmethod
    def variable(cls, field: str) -> str:
        """Return the environment variable of ``field``: ``NUDGE_`` and the name in capitals."""
        if field not in cls.model_fields:
            msg = f"no setting {field!r}"
            raise KeyError(msg)
        return f"{cls.model_config.get('env_prefix', '')}{field.upper()}"

    def kafka_ssl_context(self) -> ssl.SSLContext | None:
        """Return the TLS context for SSL and SASL_SSL, ``None`` for the other protocols."""
        if self.kafka_security_protocol not in ("SSL", "SASL_SSL"):
            return None
        context = ssl.create_default_context(cafile=self.kafka_ssl_cafile)
        if self.kafka_ssl_certfile:
            context.load_cert_chain(self.kafka_ssl_certfile, self.kafka_ssl_keyfile)
        return context

    def kafka_client_options(self) -> dict[str, Any]:
        """Return the connection keyword arguments of every aiokafka client."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.kafka_bootstrap,
            "security_protocol": self.kafka_security_protocol,
            "ssl_context": self.kafka_ssl_context(),
        }
        if self.kafka_security_protocol.startswith("SASL"):
            password = self.kafka_sasl_password
            options |= {
                "sasl_mechanism": self.kafka_sasl_mechanism,
                "sasl_plain_username": self.kafka_sasl_username,
                "sasl_plain_password": password.get_secret_value() if password else None,
            }
        return options


#: The shortest API token accepted: a guessable token is no authentication.
MIN_API_TOKEN_CHARS = 16


def api_callers(text: str) -> dict[str, str]:
    """Parse ``name:token,name:token`` into token -> name.

    Raises:
        ValueError: A pair without a name or a token, a name or a token given twice, or a
            token shorter than ``MIN_API_TOKEN_CHARS`` (the message names the caller, never
            the token).
    """
    callers: dict[str, str] = {}
    for number, pair in enumerate(text.split(","), start=1):
        name, _, token = pair.strip().partition(":")
        name, token = name.strip(), token.strip()
        if not name or not token:
            msg = f"pair {number} is not name:token"
            raise ValueError(msg)
        if len(token) < MIN_API_TOKEN_CHARS:
            msg = f"the token of {name!r} is shorter than {MIN_API_TOKEN_CHARS} characters"
            raise ValueError(msg)
        if token in callers or name in callers.values():
            msg = f"{name!r} or its token is given twice"
            raise ValueError(msg)
        callers[token] = name
    return callers


class SettingError(Exception):
    """A setting's value cannot be used by this process; the message names its variable.

    ``nudge`` prints the message as one line and exits with status 2, without a traceback:
    the fix is a setting, not the code.
    """

    @classmethod
    def metrics_port(
        cls, settings: Settings, field: str, error: OSError, *, serves: str = "metrics"
    ) -> SettingError:
        """Return the error for a metrics port that could not be bound.

        Args:
            settings: The settings in force (``bind_address`` and the port).
            field: The port's field, such as ``sink_metrics_port``.
            error: What binding the port raised.
            serves: What the port serves, which ``0`` turns off.
        """
        port, host = getattr(settings, field), settings.bind_address
        variable = Settings.variable(field)
        if error.errno == errno.EADDRINUSE:
            msg = (
                f"metrics port {port} on {host} is in use; "
                f"set {variable} to a free port (0 turns {serves} off)"
            )
        else:
            msg = (
                f"cannot listen on {host} port {port} ({error.strerror or error}); "
                f"check {Settings.variable('bind_address')} and {variable}"
            )
        return cls(msg)
