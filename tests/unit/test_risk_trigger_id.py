"""Risk decisions have one trigger id: ``schemas.records.RISK_INTERVENTION_TRIGGER_ID``."""

from __future__ import annotations

from schemas.records import RISK_INTERVENTION_TRIGGER_ID
from sinks.reports.build import TRIGGERS
from streams.core.risk import intervention


def test_the_risk_core_records_its_decisions_under_the_contracts_id() -> None:
    assert intervention.TRIGGER_ID == RISK_INTERVENTION_TRIGGER_ID


def test_the_trigger_report_leaves_risk_decisions_to_the_interventions_report() -> None:
    assert TRIGGERS.where == f"trigger_id <> '{RISK_INTERVENTION_TRIGGER_ID}'"
