"""What the query API shows of a record, and how ``why`` lays a decision out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import TypeAdapter

from schemas.api import DecisionView
from schemas.triggers import Condition
from streams.core.state.analytics import Analytics
from streams.core.triggers.catalogue import default_definitions
from streams.core.views import laid_out, render_why, user_view, why_view
from tests.unit.factories import fold, spike_at, spike_history

SPIKE = next(d for d in default_definitions() if d.id == "spending_spike")


def decision(
    features: dict[str, float],
    *,
    outcome: str = "fired",
    reason: str | None = None,
    trigger: str = "spending_spike",
    at: datetime | None = None,
) -> DecisionView:
    return DecisionView(
        decision_id=f"d-{len(features)}-{outcome}", trigger_id=trigger, outcome=outcome,
        reason=reason, detail="detail", occurred_at=at or datetime(2026, 6, 1, tzinfo=UTC),
        event_type="transaction", features=features, command_ids=[],
    )  # fmt: skip


def test_a_user_view_shows_the_record_without_changing_it() -> None:
    state = fold(spike_history("viewed"))
    state.pending.append({
        "command_id": "c-1", "trigger_id": "spending_spike", "channel": "sms",
        "send_at": "2026-06-02T08:00:00+00:00",
    })  # fmt: skip
    state.experiments["exp"] = ["treatment", spike_at().timestamp() - 60, 0, []]
    before = state.to_bytes()
    view = user_view("viewed", state, spike_at(), Analytics(), served_by="http://w1:6066")
    assert state.to_bytes() == before
    assert view.baselines["spend_week_baseline"] == pytest.approx(140.0)
    assert view.features["spend_week"] == view.analytics.spend_week
    assert "event_amount" not in view.features  # a read has no event
    assert [h.command_id for h in view.held_sends] == ["c-1"]
    assert view.held_sends[0].send_at == datetime(2026, 6, 2, 8, tzinfo=UTC)
    assert [(a.experiment, a.variant) for a in view.experiments] == [("exp", "treatment")]
    assert view.served_by == "http://w1:6066"
    assert view.recent_decisions is None  # not read: unknown, not "none"


@pytest.mark.parametrize(
    ("features", "holds"),
    [
        ({"spend_week_change_pct": 35.0, "spend_week": 150.0}, [True, True]),
        ({"spend_week_change_pct": 20.0, "spend_week": 100.0}, [True, True]),  # both gte
        ({"spend_week_change_pct": 19.9, "spend_week": 150.0}, [False, True]),
        ({"spend_week_change_pct": 35.0, "spend_week": 99.0}, [True, False]),
        ({"spend_week": 150.0}, [None, True]),  # not recorded: cannot be judged
    ],
)
def test_each_comparison_is_judged_from_the_recorded_values(
    features: dict[str, float], holds: list[bool | None]
) -> None:
    laid = laid_out(SPIKE, decision(features))
    by_feature = {c.feature: c for c in laid.comparisons}
    assert by_feature["spend_week_change_pct"].threshold == SPIKE.thresholds["spike_percent"]
    assert by_feature["spend_week"].threshold == SPIKE.thresholds["min_week_spend"]
    assert [by_feature["spend_week_change_pct"].holds, by_feature["spend_week"].holds] == holds


def test_why_says_when_nothing_was_recorded_and_counts_what_was() -> None:
    assert "no evaluation recorded" in why_view("u", "spending_spike", [SPIKE], []).note
    at = datetime(2026, 6, 1, tzinfo=UTC)
    answer = why_view(
        "u", "spending_spike", [SPIKE],
        [decision({"spend_week_change_pct": 40.0}, outcome="suppressed", reason="cooldown"),
         decision({"spend_week_change_pct": 30.0})],
        last_fired=(at - timedelta(days=1)).timestamp(),
    )  # fmt: skip
    assert answer.note.startswith("2 evaluation(s), 1 fired")
    assert answer.cooldown_days == 7
    assert answer.last_fired_at == at - timedelta(days=1)
    assert answer.definition is not None
    assert answer.definition["id"] == "spending_spike"
    assert answer.evaluations[0].decision.reason == "cooldown"


def test_a_decision_of_a_trigger_no_longer_in_force_is_shown_without_comparisons() -> None:
    answer = why_view("u", None, [SPIKE], [decision({"x": 1.0}, trigger="retired_trigger")])
    assert answer.evaluations[0].comparisons == []


def test_the_text_says_why_a_comparison_is_not_judged() -> None:
    # The spike's direction is text (not kept among the decision's numbers); its weekly
    # change is a number the decision did not record.
    answer = why_view("u", "spending_spike", [SPIKE], [decision({"spend_week": 150.0})])
    lines = render_why(answer).splitlines()
    direction = next(line for line in lines if "transaction_direction" in line)
    change = next(line for line in lines if "spend_week_change_pct" in line)
    week = next(line for line in lines if "spend_week =" in line)
    assert direction.endswith("-> not a number, not recorded (the sentence above gives its value)")
    assert change.endswith("-> not recorded")
    assert week.endswith("-> holds")


def test_a_comparison_under_a_not_is_met_when_it_is_false() -> None:
    # A made-up "spend_week >= 100 and not spend_week >= 1000": the negated leaf is met
    # when the comparison is false.
    guarded = SPIKE.model_copy(update={"condition": TypeAdapter(Condition).validate_python(
        {"all": [{"feature": "spend_week", "gte": 100},
                 {"not": {"feature": "spend_week", "gte": 1000}}]}
    )})  # fmt: skip
    laid = laid_out(guarded, decision({"spend_week": 150.0})).comparisons
    assert [(c.negated, c.holds) for c in laid] == [(False, True), (True, True)]
    laid = laid_out(guarded, decision({"spend_week": 1500.0})).comparisons
    assert [(c.negated, c.holds) for c in laid] == [(False, True), (True, False)]
    answer = why_view("u", "spending_spike", [guarded], [decision({"spend_week": 150.0})])
    assert "spend_week = 150  not gte 1000.0  -> holds" in render_why(answer)
