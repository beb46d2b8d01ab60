"""The recommendations report's rows from the view's rows, without a database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sinks.reports.build import render_text
from sinks.reports.layout import Report, Section
from sinks.reports.recommendations import COLUMNS, acceptance_report

AT = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


def found(alert: str, version: int, recommended: int, accepted: int, model: str = "m") -> dict:
    return {
        "alert_type": alert, "model_name": model, "model_version": version,
        "recommended_users": recommended, "accepted_users": accepted,
        "acceptance_rate": accepted / recommended, "first_recommended_at": AT,
        "last_recommended_at": AT,
    }  # fmt: skip


def test_rows_go_by_alert_model_and_version_each_against_the_version_before():
    rows = acceptance_report(
        [
            found("new_merchant", 3, 10, 5),
            found("high_spender", 2, 4, 1),
            found("new_merchant", 1, 10, 2),
            found("new_merchant", 10, 4, 1),  # 10 after 3: versions are numbers, not text
            found("new_merchant", 1, 5, 5, model="other"),
        ]
    )
    assert [(r["alert_type"], r["model_name"], r["model_version"]) for r in rows] == [
        ("high_spender", "m", 2),
        ("new_merchant", "m", 1),
        ("new_merchant", "m", 3),
        ("new_merchant", "m", 10),
        ("new_merchant", "other", 1),
    ]
    changes = [r["change_from_previous"] for r in rows]
    assert changes[0] is None and changes[1] is None and changes[4] is None
    assert changes[2] == pytest.approx(0.3) and changes[3] == pytest.approx(-0.25)
    assert rows[2]["recommended_users"] == 10  # the view's columns are kept
    assert acceptance_report([]) == []


def test_the_table_shows_rates_and_the_change_in_points():
    rows = acceptance_report([found("new_merchant", 1, 4, 1), found("new_merchant", 2, 5, 3)])
    report = Report("recommendations", None, AT, (Section("acceptance", "T", COLUMNS, rows),))
    lines = render_text(report).splitlines()
    assert lines[2].split() == [
        "alert", "model", "version", "recommended", "accepted", "acceptance", "vs", "previous",
        "last", "recommended",
    ]  # fmt: skip
    assert lines[3].split() == ["new_merchant", "m", "1", "4", "1", "25.0%", "-", "2025-03-14",
                                "09:30"]  # fmt: skip
    assert lines[4].split()[5:7] == ["60.0%", "+35.0"]
