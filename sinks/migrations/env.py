"""Alembic environment, configured in code by ``sinks.migrate`` (no ``alembic.ini``).

``sinks.migrate`` hands over an open connection in ``config.attributes["connection"]``.
Run any other way (the ``alembic`` command with a hand-made config), the database URL
comes from the settings (``NUDGE_DATABASE_URL``), as everywhere else.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from schemas.settings import Settings
from sinks.tables import Base

target_metadata = Base.metadata


def run_offline() -> None:
    """Emit the migration SQL without a database (``alembic upgrade --sql``)."""
    url = Settings().database_url.get_secret_value()
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: Connection) -> None:
    """Run the migrations on an open connection, in one transaction."""
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations against the database."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    engine = create_engine(Settings().database_url.get_secret_value())
    try:
        with engine.connect() as owned:
            run_on(owned)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
