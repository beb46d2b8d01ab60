"""Each role has its own metrics port, and a port it cannot have is one clear line.

``nudge worker`` and ``nudge sink`` bind their metrics port before anything reaches Kafka:
a process that cannot serve its metrics (and the worker its ``/healthz``) does not start
consuming. A port in use ends it with exit status 2 and one line on stderr that names the
variable to change, no traceback. The command-line tests need no broker: the bootstrap
address they get has nothing listening, so reaching for Kafka first would fail them.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from schemas.settings import SettingError, Settings
from sinks.worker import serve_metrics
from streams.runtime.health import Progress
from streams.runtime.health_server import HealthJudge, serve
from streams.runtime.worker import bind_metrics_port

#: The port settings of the long-running processes, by role.
PORT_FIELDS = {"worker": "metrics_port", "sink": "sink_metrics_port"}
#: What ``0`` turns off, in each role's message.
SERVES = {"worker": "metrics and /healthz", "sink": "metrics"}
LOOPBACK = "127.0.0.1"
#: Nothing listens here: a process that reached for Kafka first would fail on it.
NO_BROKER = "127.0.0.1:1"


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port held by a listening socket, as another process would hold it."""
    with socket.socket() as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_the_worker_and_the_sink_default_to_different_ports() -> None:
    defaults = {role: Settings.model_fields[name].default for role, name in PORT_FIELDS.items()}
    assert defaults == {"worker": 9464, "sink": 9465}
    assert len(set(defaults.values())) == len(defaults)
    assert Settings.model_fields["web_port"].default not in defaults.values()


def test_a_setting_names_its_variable() -> None:
    assert Settings.variable("sink_metrics_port") == "NUDGE_SINK_METRICS_PORT"
    with pytest.raises(KeyError, match="no setting"):
        Settings.variable("metrics")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            errno.EADDRINUSE,
            "metrics port 9465 on 0.0.0.0 is in use; "
            "set NUDGE_SINK_METRICS_PORT to a free port (0 turns metrics off)",
        ),
        (
            errno.EADDRNOTAVAIL,
            "cannot listen on 0.0.0.0 port 9465 (Cannot assign requested address); "
            "check NUDGE_BIND_ADDRESS and NUDGE_SINK_METRICS_PORT",
        ),
    ],
)
def test_the_message_says_what_to_change(code: int, expected: str) -> None:
    settings = Settings(bind_address="0.0.0.0")  # noqa: S104 (nothing is bound)
    error = OSError(code, os.strerror(code))
    assert str(SettingError.metrics_port(settings, "sink_metrics_port", error)) == expected


def test_the_sinks_port_in_use_is_a_setting_error(taken_port: int) -> None:
    settings = Settings(bind_address=LOOPBACK, sink_metrics_port=taken_port)
    with pytest.raises(SettingError, match=f"port {taken_port} .* in use.*SINK_METRICS_PORT"):
        serve_metrics(settings)


def test_the_workers_port_in_use_is_a_setting_error(taken_port: int) -> None:
    settings = Settings(bind_address=LOOPBACK, metrics_port=taken_port)
    with pytest.raises(SettingError, match=f"port {taken_port} .* in use.*NUDGE_METRICS_PORT"):
        bind_metrics_port(settings)
    assert bind_metrics_port(Settings(metrics_port=0)) is None


def test_the_workers_port_answers_once_served() -> None:
    server = bind_metrics_port(Settings(bind_address=LOOPBACK, metrics_port=free_port()))
    assert server is not None
    try:
        judge = HealthJudge(Progress(), stall_seconds=60.0, tick_interval_seconds=1.0)
        serve(judge, server)
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/healthz", timeout=5) as reply:  # noqa: S310
            assert orjson.loads(reply.read()) == {"healthy": True, "problems": []}
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/metrics", timeout=5) as reply:  # noqa: S310
            assert b"nudge_events_total" in reply.read()
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("role", sorted(PORT_FIELDS))
def test_nudge_stops_on_a_port_in_use_with_one_line(
    role: str, taken_port: int, tmp_path: Path
) -> None:
    variable = Settings.variable(PORT_FIELDS[role])
    env = {name: value for name, value in os.environ.items() if not name.startswith("NUDGE_")}
    env |= {
        variable: str(taken_port),
        "NUDGE_BIND_ADDRESS": LOOPBACK,
        "NUDGE_KAFKA_BOOTSTRAP": NO_BROKER,
        "NUDGE_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/nothing",
    }
    # In an empty folder, so no local .run/*.env file supplies settings.
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", role],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    expected = (
        f"nudge {role}: metrics port {taken_port} on {LOOPBACK} is in use; "
        f"set {variable} to a free port (0 turns {SERVES[role]} off)"
    )
    assert (result.returncode, result.stderr.splitlines(), result.stdout) == (2, [expected], "")
    assert "Traceback" not in result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])
