"""Apply the sink tables' Alembic migrations, configured from the settings.

There is no ``alembic.ini``: the script location is this package's ``migrations`` folder
and the database comes from ``Settings.database_url``. To start a new revision, write it by
hand in ``migrations/versions`` (``command.revision(alembic_config(), "message",
rev_id="0002")`` renders the template) and keep ``sinks.tables`` in step: a test compares
the migrated schema with the tables.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, make_url, text

from schemas.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """Return the Alembic configuration of the sink migrations (no database yet)."""
    config = Config()
    # ConfigParser interpolates "%": escape it in the path.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    return config


def database_engine(settings: Settings) -> Engine:
    """Return an engine on the configured database (row values hidden from errors)."""
    return create_engine(settings.database_url.get_secret_value(), hide_parameters=True)


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Migrate the database up to ``revision``, in one transaction.

    Args:
        settings: Where the database is (``database_url``).
        revision: Target revision; ``"head"`` (the default) is the newest.
    """
    engine = database_engine(settings)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def head() -> str:
    """Return the newest revision of the sink migrations."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:
        msg = f"no migrations found in {MIGRATIONS}"
        raise RuntimeError(msg)
    return revision


def current(settings: Settings) -> str | None:
    """Return the database's current revision, or ``None`` if it was never migrated."""
    engine = database_engine(settings)
    try:
        with engine.connect() as connection:
            revision = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    return revision


def fresh_database(settings: Settings, name: str) -> Settings:
    """Drop and re-create database ``name`` on the same server, migrate it, return settings.

    For throw-away runs such as the demo, whose deterministic ids would otherwise meet
    the rows of the previous run (and be ignored as the replays they look like).
    Needs the right to create databases.
    """
    if not name.isidentifier():
        msg = f"database name must be an identifier, got {name!r}"
        raise ValueError(msg)
    url = make_url(settings.database_url.get_secret_value())
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    fresh = url.set(database=name).render_as_string(hide_password=False)
    fresh_settings = settings.model_copy(update={"database_url": SecretStr(fresh)})
    upgrade(fresh_settings)
    return fresh_settings
