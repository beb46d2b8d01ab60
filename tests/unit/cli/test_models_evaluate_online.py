"""``nudge models evaluate-online``: the three tables, or their figures as JSON; no database."""

from __future__ import annotations

import json

import pytest

from streams.cli.main import main


@pytest.mark.slow
def test_evaluate_online_prints_the_three_tables(capsys) -> None:
    assert main(["models", "evaluate-online", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "Unusual debits:" in out and "unusual_transaction at 0.8 (shipped)" in out
    assert "Send time:" in out and "learned is" in out
    assert "Next week's spending:" in out and "ew a=0.3 (shipped)" in out
    assert "Goal probability:" in out and "Brier score" in out


@pytest.mark.slow
def test_evaluate_online_json_holds_the_figures(capsys) -> None:
    assert main(["models", "evaluate-online", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures) == {"anomalies", "send_time", "forecasts", "goals"}
    methods = {m["name"]: m["auc"] for m in figures["anomalies"]["methods"]}
    assert methods["per-user (shipped)"] > methods["3x the usual day"]
    assert figures["send_time"]["uplift"]["random"]["last"] > 1.0
    assert 0.0 <= figures["goals"]["brier"] <= 1.0
