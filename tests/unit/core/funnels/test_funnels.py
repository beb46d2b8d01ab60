"""Funnels in the core: entering, reaching steps in order, completing, dropping out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from schemas.funnels import FunnelDefinition, validate_funnel, validate_funnels
from schemas.triggers import TriggerDefinition
from streams.core.decisions.process import process, process_idle
from streams.core.decisions.result import Result
from streams.core.rendering import default_catalogue
from streams.core.state.analytics import Analytics
from streams.core.state.record import UserState
from streams.core.state.studies import Funnels, default_funnels
from tests.unit.factories import START, event

CATALOGUE = default_catalogue()
PRICING = {"type": "page_view", "path": "/pricing", "category": "pricing"}
HOME = {"type": "page_view", "path": "/", "category": "home"}
START_FORM = {"type": "form_start", "form_id": "quote"}
SUBMIT = {"type": "form_submit", "form_id": "quote"}
OTHER_SUBMIT = {"type": "form_submit", "form_id": "newsletter"}
BUY = {"type": "purchase", "product_id": "plan", "amount": "10"}

FUNNEL = {
    "id": "pricing_journey",
    "name": "Pricing to purchase",
    "within": "2d",
    "steps": [
        {"event": "page_view", "where": {"category": "pricing"}, "name": "pricing"},
        {"event": "form_start"},
        {"event": "form_submit", "where": {"form_id": ["quote", "loan"]}},
        {"event": "purchase"},
    ],
}


def funnels(**changes: Any) -> Analytics:
    found = validate_funnel(FUNNEL | changes)
    assert isinstance(found, FunnelDefinition), found
    return Analytics(funnels=Funnels.of((found,)))


def run(
    steps: Sequence[tuple[float, dict[str, Any]]],
    models: Analytics,
    state: UserState | None = None,
    definitions: list[TriggerDefinition] | None = None,
) -> tuple[UserState, list[Result]]:
    state = state or UserState()
    results = []
    for hours, payload in steps:
        item = event("ada", START + timedelta(hours=hours), payload, event_id=f"e-{hours}")
        results.append(
            process(
                state,
                item,
                definitions or [],
                CATALOGUE,
                now=item.occurred_at,
                max_event_age_seconds=86_400,
                analytics=models,
            )  # fmt: skip
        )
    return state, results


def rows(results: list[Result]) -> list[tuple[str, int, str]]:
    return [(r.kind, r.step, r.step_name) for result in results for r in result.funnel_steps]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"steps": [{"event": "purchase"}]}, "steps: List should have at least 2 items"),
        ({"steps": [{"event": "nope"}, {"event": "purchase"}]}, "steps.0: event: unknown event"),
        (
            {"steps": [{"event": "page_view", "where": {"colour": "red"}}, {"event": "purchase"}]},
            "steps.0: where: page_view has no field 'colour'",
        ),
        ({"within": "200d"}, "within: between 1s and 90 days"),
        ({"id": "X"}, "id: String should match pattern"),
    ],
)
def test_a_bad_funnel_is_refused_with_the_field_and_the_reason(
    changes: dict[str, Any], problem: str
) -> None:
    found = validate_funnel(FUNNEL | changes)
    assert isinstance(found, list)
    assert any(p.startswith(problem) for p in found), found


def test_the_shipped_funnels_are_valid() -> None:
    assert len(default_funnels().definitions) >= 2
    assert isinstance(validate_funnels({"funnels": [FUNNEL, FUNNEL]}), list)  # twice: refused


def test_steps_are_reached_in_order_and_the_last_completes_the_funnel() -> None:
    steps = [(0, HOME), (1, PRICING), (2, SUBMIT), (3, START_FORM), (4, OTHER_SUBMIT),
             (5, SUBMIT), (6, PRICING), (7, BUY)]  # fmt: skip
    state, results = run(steps, funnels())
    assert rows(results) == [
        ("reached", 1, "pricing"),
        ("reached", 2, "form_start"),
        ("reached", 3, "form_submit"),
        ("reached", 4, "purchase"),
        ("completed", 4, "purchase"),
    ]
    reached = [r for result in results for r in result.funnel_steps if r.kind == "reached"]
    assert [r.seconds_from_previous for r in reached] == [None, 7200.0, 7200.0, 7200.0]
    assert state.funnels == {}
    assert len({r.step_id for result in results for r in result.funnel_steps}) == 5


def test_a_run_past_its_window_drops_at_the_last_step_and_may_start_again() -> None:
    state, results = run([(0, PRICING), (1, START_FORM), (49, PRICING)], funnels())
    assert rows(results) == [
        ("reached", 1, "pricing"),
        ("reached", 2, "form_start"),
        ("dropped", 2, "form_start"),
        ("reached", 1, "pricing"),
    ]
    dropped = results[2].funnel_steps[0]
    assert dropped.at == START + timedelta(days=2)
    assert state.funnel_drop == ["pricing_journey", 2, int((START + timedelta(days=2)).timestamp())]


def test_the_timer_drops_a_user_who_went_quiet_and_triggers_can_use_the_drop() -> None:
    models = funnels()
    state, _ = run([(0, PRICING), (1, START_FORM)], models)
    result = process_idle("ada", state, [], CATALOGUE, now=START + timedelta(days=3),
                          analytics=models, segments=True)  # fmt: skip
    assert [(r.kind, r.step, r.source_event_id) for r in result.funnel_steps] == [
        ("dropped", 2, None)
    ]
    assert result.changed_state
    nudge = TriggerDefinition.model_validate({
        "id": "finish_your_form", "name": "Finish it", "type": "behavioral",
        "category": "lead_journey", "evaluate_on": {"events": ["page_view"]},
        "condition": {"all": [
            {"feature": "funnel_dropped", "eq": "pricing_journey"},
            {"feature": "funnel_dropped_step", "eq": 2},
            {"feature": "funnel_dropped_at", "within": "2d"},
        ]},
        "channels": [{"channel": "email", "template": "quote_form_abandoned.email"}],
    })  # fmt: skip
    _, (later,) = run([(75, HOME)], models, state, [nudge])
    assert [d.trigger_id for d in later.decisions] == ["finish_your_form"]


def test_a_paused_funnel_lets_nobody_in() -> None:
    _, results = run([(0, PRICING), (1, START_FORM)], funnels(status="paused"))
    assert rows(results) == []


def test_progress_survives_the_record_codec() -> None:
    state, _ = run([(0, PRICING), (1, START_FORM)], funnels())
    again = UserState.from_bytes(state.to_bytes())
    assert (
        again.funnels
        == state.funnels
        == {
            "pricing_journey": [
                2,
                int(START.timestamp()),
                int((START + timedelta(hours=1)).timestamp()),
            ]
        }
    )
