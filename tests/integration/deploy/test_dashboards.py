"""Every Grafana panel query returns data, and every alert rule evaluates, against a real
Prometheus scraping a real worker and sink (ARCHITECTURE "Observability").

Needs the ``prometheus`` binary (Debian package ``prometheus``); skipped without it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.settings import Settings
from schemas.topics import (
    ALERTS_RECOMMENDATIONS,
    BEHAVIOR_EVENTS,
    COMMS_COMMANDS,
    EXPERIMENTS_ASSIGNMENTS,
    EXPERIMENTS_CONVERSIONS,
    RISK_SCORES,
    SEGMENTS_CHANGES,
    TRIGGER_DECISIONS,
    USERS_ANALYTICS,
)
from tests.integration.harness import NudgeProcess, publish, read_until
from tests.integration.scenarios import (
    SPIKE_COPY,
    as_messages,
    income_dropper,
    ordered,
    spiker,
    steady_spender,
)
from tests.integration.sink_harness import (
    assignment,
    conversion,
    recommendation,
    segment_change,
    user_snapshot,
)
from tests.paths import ROOT
from tests.unit.factories import event

DEPLOY = ROOT / "deploy"
PROMETHEUS = shutil.which("prometheus")
# Grafana's own variables, as Grafana would expand them for a one-hour view at 1 s scrapes.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "5m"}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        PROMETHEUS is None,
        reason="prometheus not on PATH (apt-get install --no-install-recommends prometheus)",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def panel_queries() -> list[tuple[str, str]]:
    """(panel title / refId, PromQL with Grafana's variables expanded) of the dashboard."""
    dashboard = json.loads((DEPLOY / "grafana/dashboards/nudge.json").read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            queries.append((f"{panel['title']} / {target['refId']}", expr))
    return queries


class Prometheus:
    """A Prometheus server on a loopback port, scraping the given targets every second."""

    def __init__(self, tmp_path: Path, targets: dict[str, int]) -> None:
        self.port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(DEPLOY / "prometheus/rules.yml")],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
                for job, port in targets.items()
            ],
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = (tmp_path / "prometheus.log").open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - the binary found on PATH
            [str(PROMETHEUS), f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def get(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            return json.load(response)["data"]

    def has_data(self, expr: str) -> bool:
        """Whether ``expr`` returns at least one number (NaN is what an empty rate gives)."""
        return any(
            sample["value"][1] != "NaN"
            for sample in self.get("/api/v1/query", query=expr)["result"]
        )

    async def wait_for(
        self, what: str, condition: Callable[[], bool], timeout: float = 90.0
    ) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if condition():
                    return
            except OSError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                msg = f"{what}: not true after {timeout} s"
                raise AssertionError(msg)
            await asyncio.sleep(0.5)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


@pytest.fixture
def processes(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[tuple[Settings, Prometheus]]:
    """A migrated database, a worker, a sink and a Prometheus scraping both."""
    worker_port, sink_port = free_port(), free_port()
    # A clock file and a quick timer: held sends are released within the test. Quiet hours
    # off: the held send is one dated 40 minutes ahead, and from 20:20 UTC on quiet hours
    # (21:00-08:00 in the users' UTC) would move it to the morning, past the test's clock.
    settings = make_settings(
        metrics_port=worker_port,
        clock_file=str(tmp_path / "clock"),
        schedule_interval_seconds=1.0,
        quiet_hours_start=0,
        quiet_hours_end=0,
        # The waves' few fresh events close drift buckets, so the drift levels have data.
        drift_bucket_events=10,
        # The query API on, so its panel has answers to count (ask_api).
        web_port=free_port(),
        api_tokens=f"dashboard:{API_TOKEN}",
    )
    migrate = NudgeProcess(settings, "db", tmp_path / "x.log")
    subprocess.run(
        [sys.executable, "-m", "streams.cli", "db", "upgrade"],
        env=migrate.environment(), check=True, capture_output=True,
    )  # fmt: skip
    # An experiment on the spikes' messages (both arms sent), in force from the start: the
    # worker's experiment counters count the spikers' exposures and purchases.
    experiments = tmp_path / "experiments.yaml"
    experiments.write_text(yaml.safe_dump({"experiments": [SPIKE_COPY]}))
    subprocess.run(
        [sys.executable, "-m", "streams.cli", "experiments", "apply", str(experiments)],
        env=migrate.environment(), check=True, capture_output=True,
    )  # fmt: skip
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    sink_settings = settings.model_copy(update={"sink_metrics_port": sink_port})
    sink = NudgeProcess(sink_settings, "sink", tmp_path / "sink.log").start()
    prometheus = Prometheus(tmp_path, {"nudge-worker": worker_port, "nudge-sink": sink_port})
    try:
        yield settings, prometheus
    finally:
        prometheus.stop()
        sink.stop()
        worker.stop()


API_TOKEN = "dashboard-token-0123456789"


def ask_api(settings: Settings) -> None:
    """Read the trigger definitions from the worker's query API: one answer counted."""
    request = urllib.request.Request(  # noqa: S310 - the test's own worker
        f"http://127.0.0.1:{settings.web_port}/triggers",
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 200


async def send_wave(settings: Settings, tag: str) -> None:
    """Users who fire both triggers, a spike dated a little ahead (its send is held until
    then), a user at rising risk, malformed input, a sensitive field, a bad command,
    a browser whose five page views make the worker judge them into ``frequent_browsers``
    (and send their analytics), and segment changes, snapshots, experiment assignments
    and a conversion, and an alert recommendation, published as the worker would, for the
    sink's panels."""
    now = datetime.now(UTC)
    page = {"type": "page_view", "path": "/"}
    browsing = [event(f"pages-{tag}", now - timedelta(minutes=m), page) for m in range(5, 0, -1)]
    # The spiker buys after the spike's message (a conversion of SPIKE_COPY), and a quoter
    # enters the shipped quote_to_application funnel.
    bought = event(f"spiker-{tag}", now - timedelta(minutes=2),
                   {"type": "purchase", "product_id": "plan", "amount": "30.00"})  # fmt: skip
    quoted = event(f"quoter-{tag}", now - timedelta(minutes=3),
                   {"type": "quote_request", "product": "car"})  # fmt: skip
    events = ordered(spiker(f"spiker-{tag}", now), income_dropper(f"dropper-{tag}", now),
                     steady_spender(f"steady-{tag}", now), browsing,
                     spiker(f"ahead-{tag}", now + timedelta(minutes=40)),
                     [bought, quoted])  # fmt: skip
    scores = [
        event(f"risky-{tag}", now - timedelta(days=4 - i), {"type": "risk_score", "score": score})
        for i, score in enumerate((0.45, 0.5, 0.6, 0.7, 0.85))
    ]
    await publish(settings, RISK_SCORES, as_messages(scores))
    leaky = json.loads(events[-1].model_dump_json()) | {"password": "hunter2"}
    messages = [
        *as_messages(events),
        (b"x", b"not json"),
        (events[-1].user_id.encode(), json.dumps(leaky).encode()),
    ]
    await publish(settings, BEHAVIOR_EVENTS, messages)
    await publish(settings, COMMS_COMMANDS, [(b"x", b"{}")])
    changes = [
        segment_change(f"{user}-{tag}", "window_shoppers", "joined", now, f"{user}-{tag}-1")
        for user in ("shopper", "browser")
    ]
    changes.append(
        segment_change(f"browser-{tag}", "window_shoppers", "left", now, f"browser-{tag}-2")
    )
    await publish(
        settings,
        SEGMENTS_CHANGES,
        [(change.user_id.encode(), change.model_dump_json().encode()) for change in changes],
    )
    snapshots = [
        user_snapshot(f"{user}-{tag}", now, f"{user}-{tag}-1", pattern, (score,) * 4)
        for user, pattern, score in (("keen", "high_intent", 80.0), ("idle", None, 10.0))
    ]
    await publish(
        settings,
        USERS_ANALYTICS,
        [(snap.user_id.encode(), snap.model_dump_json().encode()) for snap in snapshots],
    )
    arms = [
        assignment("dashboard_test", variant, f"{variant}-{tag}", now)
        for variant in ("control", "friendly")
    ]
    await publish(
        settings,
        EXPERIMENTS_ASSIGNMENTS,
        [(arm.user_id.encode(), arm.model_dump_json().encode()) for arm in arms],
    )
    converted = conversion("dashboard_test", "friendly", f"friendly-{tag}", "purchase", now)
    await publish(
        settings,
        EXPERIMENTS_CONVERSIONS,
        [(converted.user_id.encode(), converted.model_dump_json().encode())],
    )
    recommended = recommendation(f"alerted-{tag}", "new_merchant", 1, now)
    await publish(
        settings,
        ALERTS_RECOMMENDATIONS,
        [(recommended.user_id.encode(), recommended.model_dump_json().encode())],
    )


async def test_every_panel_query_returns_data_and_every_rule_evaluates(
    processes: tuple[Settings, Prometheus],
) -> None:
    settings, prometheus = processes
    await prometheus.wait_for("both targets up", lambda: prometheus.has_data("sum(up) == 2"))
    # Two waves: labelled series are born with the first, and rates need the second.
    await send_wave(settings, "a")
    await asyncio.to_thread(ask_api, settings)
    await prometheus.wait_for(
        "first commands", lambda: prometheus.has_data("sum(nudge_commands_total) >= 4")
    )
    # Two hours on, by the worker's clock: the held send is due and the timer sends it.
    Path(settings.clock_file or "").write_text((datetime.now(UTC) + timedelta(hours=2)).isoformat())
    await send_wave(settings, "b")
    await asyncio.to_thread(ask_api, settings)
    # A replayed decision: the sink must find it already stored (a duplicate row).
    decisions = await read_until(settings, TRIGGER_DECISIONS, lambda r: len(r) >= 2)
    await publish(settings, TRIGGER_DECISIONS, [(r.key, r.value) for r in decisions])
    for name, expr in panel_queries():
        has_data = functools.partial(prometheus.has_data, expr)
        await prometheus.wait_for(f"panel {name}: {expr}", has_data)

    def rules_healthy() -> bool:
        rules = [r for g in prometheus.get("/api/v1/rules")["groups"] for r in g["rules"]]
        return bool(rules) and all(r["health"] == "ok" for r in rules)

    await prometheus.wait_for("every alert rule evaluated without error", rules_healthy)
