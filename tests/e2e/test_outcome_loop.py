"""The outcome loop end to end: scripted risk scores and payments become interventions,
notification services report outcomes, and ``nudge report`` computes the rates from the
database — worker, sink and CLI as real processes on the real broker and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.events import Event
from schemas.settings import Settings
from schemas.topics import (
    BEHAVIOR_EVENTS,
    COMMS_COMMANDS,
    COMMS_OUTCOMES,
    INTERVENTIONS_COMMANDS,
    RISK_SCORES,
)
from tests.integration.harness import NudgeProcess, caught_up, publish, read_until, rows_when
from tests.integration.scenarios import as_messages, ordered, risk_scores, spiker
from tests.unit.factories import event, profile

pytestmark = pytest.mark.e2e


def outcome(user: str, command_id: str, what: str, at: datetime, **extra: Any) -> Event:
    return event(user, at, {"type": "comms_outcome", "command_id": command_id, "outcome": what,
                            **extra})  # fmt: skip


def nudge(settings: Settings, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env=NudgeProcess(settings, "cli", tmp_path / "cli.log").environment(),
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


async def test_interventions_outcomes_and_reports(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(quiet_hours_start=0, quiet_hours_end=0)
    url = settings.database_url.get_secret_value()
    assert nudge(settings, tmp_path, "db", "upgrade").returncode == 0
    now = datetime.now(UTC)
    due = {"type": "payment", "status": "due", "amount": "180.00",
           "due_date": (now + timedelta(days=9)).date().isoformat()}  # fmt: skip
    behaviour = ordered(
        [profile(u, now - timedelta(days=20), first_name=u.title()) for u in ("ana", "ben", "cy")],
        [event("ana", now - timedelta(days=2), due)],
        [
            event(
                "cy",
                now - timedelta(days=2),
                {"type": "payment", "status": "missed", "amount": "95.00"},
            )
        ],  # fmt: skip
        spiker("dee", now),
    )
    drivers = ("utilisation", "late_fees")
    risk = [
        *risk_scores("ana", now, (0.40, 0.45, 0.52, 0.58, 0.64), drivers),  # flexible payment
        *risk_scores("ben", now, (0.55, 0.62, 0.70, 0.78, 0.86), drivers),  # assistance
        *risk_scores("cy", now, (0.60, 0.70, 0.80, 0.85, 0.90), drivers),  # missed: none
        *risk_scores("eve", now, (0.75, 0.70, 0.62, 0.55, 0.50), drivers),  # easing: none
    ]
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    sink = NudgeProcess(settings, "sink", tmp_path / "sink.log").start()
    try:
        await publish(settings, BEHAVIOR_EVENTS, as_messages(behaviour))
        await caught_up(settings, BEHAVIOR_EVENTS)
        await publish(settings, RISK_SCORES, as_messages(risk))
        started = await read_until(settings, INTERVENTIONS_COMMANDS, lambda r: len(r) >= 2,
                                   settle=2.0)  # fmt: skip
        sent = await read_until(settings, COMMS_COMMANDS, lambda r: len(r) >= 2, settle=1.0)
        interventions = {c["user_id"]: c for c in (json.loads(r.value) for r in started)}
        messages = {c["channel"]: c for c in (json.loads(r.value) for r in sent)}
        later = now + timedelta(minutes=5)
        outcomes = [
            outcome("ana", interventions["ana"]["command_id"], "accepted_offer", later),
            outcome("ben", interventions["ben"]["command_id"], "no_response", later),
            outcome("dee", messages["email"]["command_id"], "delivered", later),
            outcome("dee", messages["email"]["command_id"], "opened", later),
            outcome("dee", messages["email"]["command_id"], "converted", later, value="49.00"),
            outcome("dee", messages["sms"]["command_id"], "delivered", later),
        ]
        await publish(settings, COMMS_OUTCOMES, as_messages(outcomes))
        await rows_when(url, "SELECT command_id FROM interventions WHERE response IS NOT NULL",
                        lambda rows: len(rows) == 2)  # fmt: skip
        await rows_when(url, "SELECT command_id FROM communications WHERE converted_at IS NOT NULL",
                        lambda rows: len(rows) == 1)  # fmt: skip
        stored = await rows_when(url, "SELECT user_id, outcome, reason FROM trigger_events "
                                 "WHERE trigger_id = 'risk_intervention' ORDER BY 1",
                                 lambda rows: len(rows) == 3)  # fmt: skip
    finally:
        assert sink.stop() == 0
        assert worker.stop() == 0

    assert {u: c["intervention_type"] for u, c in interventions.items()} == {
        "ana": "flexible_payment",
        "ben": "payment_assistance",
    }
    ana_sms = next(m["body"] for m in interventions["ana"]["messages"] if m["channel"] == "sms")
    assert "Ana" in ana_sms and "$180.00" in ana_sms
    assert stored == [("ana", "fired", None), ("ben", "fired", None),
                      ("cy", "suppressed", "recent_missed_payment")]  # fmt: skip

    report = nudge(settings, tmp_path, "report", "interventions", "--days", "7", "--json")
    assert report.returncode == 0, report.stderr
    rows = {r["intervention_type"]: r for r in json.loads(report.stdout)["interventions"]}
    assert set(rows) == {"flexible_payment", "payment_assistance"}
    assert (rows["flexible_payment"]["interventions"], rows["flexible_payment"]["accepted"]) == (
        1,
        1,
    )
    assert rows["flexible_payment"]["acceptance_rate"] == 1.0
    assert rows["payment_assistance"]["response_rate"] == 0.0  # no_response is no response
    assert rows["payment_assistance"]["pending"] == 1  # the 30-day follow-up is still open
    assert rows["payment_assistance"]["prevented_default_rate"] is None

    effectiveness = nudge(settings, tmp_path, "report", "effectiveness", "--json")
    assert effectiveness.returncode == 0, effectiveness.stderr
    document = json.loads(effectiveness.stdout)
    # Risk decisions are in the interventions report, not among the message triggers.
    assert "risk_intervention" not in {r["trigger_id"] for r in document["triggers"]}
    spike = next(r for r in document["triggers"] if r["trigger_id"] == "spending_spike")
    assert (spike["fired"], spike["sent"], spike["engaged"], spike["converted"]) == (1, 2, 1, 1)
    assert spike["engagement_rate"] == 0.5 and spike["conversion_rate"] == 0.5
    table = nudge(settings, tmp_path, "report", "effectiveness")
    assert table.returncode == 0 and "spending_spike" in table.stdout
