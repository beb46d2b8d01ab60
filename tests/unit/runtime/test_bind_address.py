"""The web and metrics ports listen where ``NUDGE_BIND_ADDRESS`` says: loopback by default."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from schemas.settings import Settings
from sinks.worker import serve_metrics
from streams.runtime.app import create_app

ANY_INTERFACE = "0.0.0.0"  # noqa: S104 (what containers set; nothing here binds it)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_default_is_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NUDGE_BIND_ADDRESS", raising=False)
    assert Settings().bind_address == "127.0.0.1"
    monkeypatch.setenv("NUDGE_BIND_ADDRESS", ANY_INTERFACE)
    assert Settings().bind_address == ANY_INTERFACE


@pytest.mark.parametrize(
    ("address", "advertised"),
    [("127.0.0.1", "127.0.0.1"), ("10.1.2.3", "10.1.2.3"), (ANY_INTERFACE, socket.gethostname())],
)
def test_fausts_web_server_binds_the_setting(address: str, advertised: str) -> None:
    app = create_app(Settings(bind_address=address, web_port=6067))
    # web_bind is what Faust listens on (its own default is every interface).
    assert (app.conf.web_bind, app.conf.web_host) == (address, advertised)


def test_the_sinks_metrics_server_binds_the_setting() -> None:
    port = free_port()
    server = serve_metrics(Settings(bind_address="127.0.0.1", sink_metrics_port=port))
    assert server is not None
    try:
        assert server.server_address[:2] == ("127.0.0.1", port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:  # noqa: S310
            assert b"nudge_sink_messages_total" in reply.read()
    finally:
        server.shutdown()
        server.server_close()
    assert serve_metrics(Settings(sink_metrics_port=0)) is None
