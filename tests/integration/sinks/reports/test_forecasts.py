"""``nudge report forecasts`` on the real PostgreSQL: each user's latest forecast and goal odds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from schemas.topics import USERS_ANALYTICS
from schemas.user_analytics import UserAnalytics
from sinks.reports.build import render_text
from sinks.reports.forecasts import build_forecasts
from sinks.rows import ROUTES, ConsumedMessage, message_row
from sinks.writer import BatchWriter
from streams.cli.main import main
from tests.integration.sink_harness import user_snapshot

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def snapshot(user: str, days_ago: float, cause: str, **figures: float | None) -> UserAnalytics:
    base = user_snapshot(user, NOW - timedelta(days=days_ago), cause, "exploring")
    return base.model_copy(update=figures)


#: Ana overspends (her older snapshot said otherwise), Ben has money left and a goal at risk,
#: Cy only a likely goal, Dee nothing learned yet.
ANA_OLD = snapshot("ana", 3, "a1", spend_forecast_week=100.0, forecast_overspend_pct=-40.0)
ANA = snapshot("ana", 1, "a2", spend_week=410.0, spend_forecast_week=395.5,
               forecast_overspend_pct=12.5)  # fmt: skip
BEN = snapshot("ben", 1, "b1", spend_week=200.0, spend_forecast_week=210.0,
               forecast_overspend_pct=-30.0, goal_probability=0.21,
               goal_days_left=40.0)  # fmt: skip
CY = snapshot("cy", 2, "c1", goal_probability=0.93, goal_days_left=120.0)
DEE = snapshot("dee", 1, "d1")


def store(engine: Engine) -> None:
    rows = [
        message_row(
            ConsumedMessage("t.users.analytics", 0, offset, b"k", s.model_dump_json().encode()),
            ROUTES[USERS_ANALYTICS],
            NOW,
        )
        for offset, s in enumerate([ANA_OLD, ANA, BEN, CY, DEE])
    ]
    BatchWriter(engine, "insert").write(rows, NOW)


def test_the_report_lists_the_latest_figures_most_at_risk_first(
    settings, engine, capsys, monkeypatch
):
    store(engine)
    report = build_forecasts(settings)
    summary, users = report.sections
    assert summary.rows == [{
        "forecast_users": 2, "mean_forecast": pytest.approx(302.75), "overspend_users": 1,
        "goal_users": 2, "goals_at_risk": 1,
    }]  # fmt: skip
    # Overspend first (Ana's latest, not her older snapshot), then the least likely goal;
    # Dee, with nothing learned, is not listed.
    assert [r["user_id"] for r in users.rows] == ["ana", "ben", "cy"]
    assert users.rows[0]["overspend"] == pytest.approx(0.125)
    assert users.rows[1]["goal_probability"] == pytest.approx(0.21)
    text = render_text(report)
    assert "+12.5%" in text and "21.0%" in text and "395.50" in text

    monkeypatch.setenv("NUDGE_DATABASE_URL", settings.database_url.get_secret_value())
    assert main(["report", "forecasts", "--user", "ben", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    (one,) = printed["users"]
    assert (printed["user"], one["user_id"], one["goal_days_left"]) == ("ben", "ben", 40.0)
