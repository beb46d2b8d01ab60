"""Experiments in the core: allocation, exposure of every arm, variants, attribution."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.experiments import (
    ExperimentDefinition,
    validate_experiment,
    validate_experiments,
)
from schemas.records import Outcome, SuppressionReason
from schemas.triggers import TriggerDefinition
from streams.core.decisions.process import process
from streams.core.decisions.result import Result
from streams.core.decisions.send_policy import SendPolicy, at_hour
from streams.core.experiments.arms import bucket, by_weight
from streams.core.rendering import default_catalogue
from streams.core.risk.policy import InterventionPolicy
from streams.core.state.analytics import Analytics
from streams.core.state.record import UserState
from streams.core.state.studies import Experiments, global_control
from tests.unit.factories import START, event

CATALOGUE = default_catalogue()
QUOTE = {"type": "quote_request", "product": "car"}
PURCHASE = {"type": "purchase", "amount": "120.50", "product_id": "car"}
NO_QUIET = SendPolicy(quiet_start=0, quiet_end=0, cap_per_channel_day=100, cap_per_channel_week=100)

TRIGGER = TriggerDefinition.model_validate(
    {
        "id": "quote_nudge",
        "name": "Quote nudge",
        "type": "behavioral",
        "category": "lead_journey",
        "evaluate_on": {"events": ["quote_request"]},
        "condition": {"feature": "quote_requests_week", "gte": 1},
        "cooldown": "1d",
        "channels": [
            {"channel": "email", "template": "high_intent_follow_up.email"},
            {"channel": "push", "template": "high_intent_follow_up.push"},
        ],
    }
)


def experiment(**changes: Any) -> ExperimentDefinition:
    document: dict[str, Any] = {
        "id": "quote_message",
        "name": "Does the quote nudge help?",
        "trigger": "quote_nudge",
        "varies": "message",
        "variants": [
            {"id": "control", "control": True, "message": False},
            {"id": "nudged"},
        ],
        "metrics": [{"name": "purchase", "events": ["purchase"], "window": "7d", "value": True}],
    }
    document.update(changes)
    found = validate_experiment(document)
    assert isinstance(found, ExperimentDefinition), found
    return found


def analytics(*experiments: ExperimentDefinition, percent: float = 0.0) -> Analytics:
    group = global_control(percent, ("purchase",), 30 * 86_400.0) if percent else None
    return Analytics(experiments=Experiments.of(experiments, group))


def user_in(definition: ExperimentDefinition, variant: str, start: int = 0) -> str:
    """Return a user id whose hash puts them in ``variant`` of ``definition``."""
    for n in range(start, start + 1000):
        user = f"user-{n}"
        if by_weight(definition.variants, bucket(definition.id, user)).id == variant:
            return user
    raise AssertionError(variant)


def run(
    user: str,
    steps: Sequence[tuple[float, dict[str, Any]]],
    models: Analytics,
    state: UserState | None = None,
) -> tuple[UserState, list[Result]]:
    state = state or UserState()
    results = []
    for hours, payload in steps:
        item = event(user, START + timedelta(hours=hours), payload, event_id=f"{user}-{hours}")
        results.append(
            process(
                state,
                item,
                [TRIGGER],
                CATALOGUE,
                now=item.occurred_at,
                max_event_age_seconds=86_400,
                policy=NO_QUIET,
                analytics=models,
            )  # fmt: skip
        )
    return state, results


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"variants": [{"id": "a", "control": True}]}, "variants: List should have at least 2"),
        (
            {"variants": [{"id": "a"}, {"id": "b", "message": False}]},
            "variants: mark exactly one arm control: true",
        ),
        (
            {"variants": [{"id": "a", "control": True, "message": False}, {"id": "a"}]},
            "variants: two arms share an id",
        ),
        (
            {"varies": "delay", "variants": [{"id": "a", "control": True}, {"id": "b"}]},
            "variants.1: a delay experiment's arm gives its delay",
        ),
        (
            {
                "varies": "template",
                "variants": [
                    {"id": "a", "control": True},
                    {"id": "b", "templates": {"email": "x.email"}, "delay": "1h"},
                ],
            },
            "variants.1: the experiment varies template; this arm also changes delay",
        ),
        (
            {"metrics": [{"name": "clicks", "outcomes": ["clicked"]}]},
            "metrics: the control arm gets no message, so it has no outcomes to count",
        ),
        ({"metrics": [{"name": "m", "events": ["nope"]}]}, "metrics.0: events: unknown event"),
        ({"metrics": [{"name": "m"}]}, "metrics.0: a metric counts conversion events"),
        (
            {"metrics": [{"name": "m", "events": ["purchase"], "window": "200d"}]},
            "metrics.0: window: between 1s and 90 days",
        ),
        (
            {
                "trigger": "*",
                "varies": "delay",
                "variants": [{"id": "a", "control": True}, {"id": "b", "delay": "1h"}],
            },
            "trigger: '*' (every trigger) only varies message",
        ),  # fmt: skip
        (
            {
                "allocation": "segment",
                "variants": [
                    {"id": "a", "control": True, "message": False, "segments": ["x"]},
                    {"id": "b", "segments": ["y"]},
                ],
            },
            "variants: at least one arm names no segments",
        ),  # fmt: skip
        ({"id": "global_control"}, "id: 'global_control' is the global control group's"),
        ({"ends": "2026-01-01T00:00:00Z", "starts": "2026-02-01T00:00:00Z"}, "ends: not after"),
        ({"baseline_rate": 1.5}, "baseline_rate"),
        ({"unknown": 1}, "unknown: Extra inputs are not permitted"),
    ],
)
def test_a_bad_definition_is_refused_with_the_field_and_the_reason(
    changes: dict[str, Any], problem: str
) -> None:
    document = experiment().model_dump(mode="json") | changes
    found = validate_experiment(document)
    assert isinstance(found, list)
    assert any(p.startswith(problem) or problem in p for p in found), found


def test_two_running_experiments_on_one_trigger_are_refused() -> None:
    one = experiment().model_dump(mode="json")
    other = experiment(id="quote_message_two").model_dump(mode="json")
    found = validate_experiments({"experiments": [one, other]})
    assert found == [
        "experiments: 'quote_message' and 'quote_message_two' both run on trigger "
        "'quote_nudge'; stop one"
    ]
    assert isinstance(
        validate_experiments({"experiments": [one, other | {"status": "stopped"}]}), tuple
    )


def test_hash_allocation_is_sticky_and_follows_the_weights() -> None:
    weighted = experiment(
        variants=[{"id": "control", "control": True, "message": False, "weight": 1},
                  {"id": "nudged", "weight": 3}]
    )  # fmt: skip
    arms = Counter(
        by_weight(weighted.variants, bucket(weighted.id, f"u{n}")).id for n in range(20_000)
    )
    assert arms["nudged"] / 20_000 == pytest.approx(0.75, abs=0.015)
    assert bucket(weighted.id, "ada") != bucket("another_experiment", "ada")


@pytest.mark.parametrize(
    ("experiment_id", "user", "salt", "expected"),
    [
        # SHA-256 of "quote_message:ada:" (hash allocation: no salt), its first four bytes
        # modulo 10,000. Pinned: a change here would move every running user's arm.
        ("quote_message", "ada", "", 0.7132),
        ("quote_message", "bob", "", 0.4587),
        ("quote_message", "ada", "event-1", 0.6266),  # random allocation: the event's id
    ],
)
def test_the_hash_behind_an_arm_is_pinned(
    experiment_id: str, user: str, salt: str, expected: float
) -> None:
    assert bucket(experiment_id, user, salt) == expected


def test_a_control_user_is_exposed_and_recorded_but_no_message_leaves() -> None:
    definition = experiment()
    user = user_in(definition, "control")
    state, (first, second) = run(user, [(0, QUOTE), (30, QUOTE)], analytics(definition))
    decision = first.decisions[0]
    assert (decision.outcome, decision.reason) == (Outcome.SUPPRESSED, SuppressionReason.HOLDOUT)
    assert (decision.experiment, decision.variant) == ("quote_message", "control")
    assert first.commands == [] and first.held == 0
    [assigned] = first.assignments
    assert (assigned.experiment_id, assigned.variant, assigned.user_id) == (
        "quote_message", "control", user,
    )  # fmt: skip
    assert assigned.decision_id == decision.decision_id
    assert state.experiments["quote_message"][:3] == ["control", int(START.timestamp()), 0]
    # Exposed again a day later (its cooldown ran as for the others), assigned once only.
    assert second.decisions[0].variant == "control"
    assert second.assignments == []


def test_a_treated_user_gets_the_message_with_its_arm_named() -> None:
    definition = experiment()
    user = user_in(definition, "nudged")
    _, (first,) = run(user, [(0, QUOTE)], analytics(definition))
    assert first.decisions[0].outcome is Outcome.FIRED
    assert {(c.experiment, c.variant) for c in first.commands} == {("quote_message", "nudged")}
    assert [a.variant for a in first.assignments] == ["nudged"]


def test_the_control_arm_keeps_the_cooldown_like_the_others() -> None:
    definition = experiment()
    user = user_in(definition, "control")
    _, (_, soon) = run(user, [(0, QUOTE), (2, QUOTE)], analytics(definition))
    assert soon.decisions[0].reason is SuppressionReason.COOLDOWN
    assert soon.decisions[0].experiment is None  # not eligible: not an exposure


@pytest.mark.parametrize("arm", ["control", "nudged"])
def test_the_first_conversion_in_the_window_is_credited_once_with_its_value(arm: str) -> None:
    definition = experiment()
    user = user_in(definition, arm)
    steps = [(-1, PURCHASE), (0, QUOTE), (5, PURCHASE), (6, PURCHASE)]
    state, results = run(user, steps, analytics(definition))
    assert results[0].conversions == []  # before the exposure: not credited
    [converted] = results[2].conversions
    assert (converted.variant, converted.metric, converted.value) == (arm, "purchase", 120.5)
    assert converted.exposed_at == START
    assert converted.converted_at == START + timedelta(hours=5)
    assert results[3].conversions == []  # once per user, experiment and metric
    assert state.experiments["quote_message"][2] == 1


def test_a_conversion_after_the_window_is_not_credited() -> None:
    definition = experiment()
    user = user_in(definition, "nudged")
    _, results = run(user, [(0, QUOTE), (24 * 7 + 1, PURCHASE)], analytics(definition))
    assert results[1].conversions == []


def test_a_replayed_conversion_is_not_credited_twice() -> None:
    definition = experiment()
    user = user_in(definition, "nudged")
    state, _ = run(user, [(0, QUOTE), (5, PURCHASE)], analytics(definition))
    _, (again,) = run(user, [(5, PURCHASE)], analytics(definition), state)
    assert again.conversions == [] and not again.applied


def test_outcome_metrics_count_only_the_experiments_own_messages() -> None:
    definition = experiment(
        id="quote_copy", varies="template",
        variants=[{"id": "control", "control": True},
                  {"id": "plain", "templates": {"email": "quote_form_abandoned.email"}}],
        metrics=[{"name": "clicks", "outcomes": ["clicked"], "window": "3d"}],
    )  # fmt: skip
    user = user_in(definition, "plain")
    state, (first,) = run(user, [(0, QUOTE)], analytics(definition))
    email = next(c for c in first.commands if c.channel.value == "email")
    assert email.template_id == "quote_form_abandoned.email"
    stranger = {"type": "comms_outcome", "command_id": "someone-else", "outcome": "clicked"}
    own = {"type": "comms_outcome", "command_id": email.command_id, "outcome": "clicked"}
    _, (other, clicked) = run(user, [(1, stranger), (2, own)], analytics(definition), state)
    assert other.conversions == []
    assert [c.metric for c in clicked.conversions] == ["clicks"]


def test_a_delay_arm_holds_its_send_and_a_send_time_arm_sends_at_its_local_hour() -> None:
    delayed = experiment(
        id="quote_delay", varies="delay",
        variants=[{"id": "control", "control": True}, {"id": "later", "delay": "2h"}],
    )  # fmt: skip
    _, (first,) = run(user_in(delayed, "later"), [(0, QUOTE)], analytics(delayed))
    assert first.commands == [] and first.held == 2
    timed = experiment(
        id="quote_hour", varies="send_time",
        variants=[{"id": "control", "control": True}, {"id": "evening", "send_hour": 19}],
    )  # fmt: skip
    user = user_in(timed, "evening")
    zone = {"type": "profile_update", "timezone": "Europe/Paris"}
    state, (_, decided) = run(user, [(-1, zone), (0, QUOTE)], analytics(timed))
    assert decided.held == 2
    held = {datetime.fromisoformat(c["send_at"]) for c in state.pending}
    assert held == {datetime(2026, 1, 5, 18, tzinfo=UTC)}  # 19:00 in Paris, in winter


@pytest.mark.parametrize(
    ("moment", "hour", "expected"),
    [
        ("2026-01-05T12:00:00+00:00", 19, "2026-01-05T19:00:00+00:00"),
        ("2026-01-05T20:00:00+00:00", 19, "2026-01-06T19:00:00+00:00"),
        ("2026-01-05T19:00:00+00:00", 19, "2026-01-05T19:00:00+00:00"),
    ],
)
def test_at_hour_is_the_next_time_the_clock_reads_the_hour(
    moment: str, hour: int, expected: str
) -> None:
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    found = at_hour(datetime.fromisoformat(moment), hour, ZoneInfo("UTC"))
    assert found == datetime.fromisoformat(expected)


def test_segment_allocation_gives_the_segments_arm_and_hashes_the_rest() -> None:
    definition = experiment(
        allocation="segment",
        variants=[{"id": "control", "control": True, "message": False},
                  {"id": "vip", "segments": ["vip"]}],
    )  # fmt: skip
    member = {"type": "profile_update", "segments": ["vip"]}
    _, results = run("someone", [(-1, member), (0, QUOTE)], analytics(definition))
    assert results[1].assignments[0].variant == "vip"


def test_targeted_experiments_leave_other_users_out() -> None:
    definition = experiment(target=["vip"])
    _, (first,) = run(user_in(definition, "control"), [(0, QUOTE)], analytics(definition))
    assert first.assignments == [] and first.decisions[0].experiment is None
    assert first.decisions[0].outcome is Outcome.FIRED


def test_a_stopped_experiment_exposes_nobody_new_but_still_credits_conversions() -> None:
    definition = experiment()
    user = user_in(definition, "control")
    state, _ = run(user, [(0, QUOTE)], analytics(definition))
    stopped = experiment(status="stopped")
    _, (converted,) = run(user, [(3, PURCHASE)], analytics(stopped), state)
    assert [c.variant for c in converted.conversions] == ["control"]
    newcomer = user_in(definition, "control", start=500)
    _, (fresh,) = run(newcomer, [(0, QUOTE)], analytics(stopped))
    assert fresh.assignments == [] and fresh.decisions[0].outcome is Outcome.FIRED


def test_the_global_control_group_gets_no_marketing_but_keeps_its_interventions() -> None:
    group = global_control(50.0, ("purchase",), 30 * 86_400.0)
    held_back = user_in(group, "control")
    models = analytics(percent=50.0)
    _, (first,) = run(held_back, [(0, QUOTE)], models)
    decision = first.decisions[0]
    assert decision.reason is SuppressionReason.GLOBAL_CONTROL and first.commands == []
    assert [(a.experiment_id, a.variant) for a in first.assignments] == [
        ("global_control", "control")
    ]
    state = UserState()
    result = Result()
    for value, days in ((0.45, 28), (0.5, 21), (0.6, 14), (0.7, 7), (0.85, 0)):
        at = START - timedelta(days=days)
        risk = {"type": "risk_score", "score": value, "top_drivers": ["utilisation"]}
        result = process(
            state, event(held_back, at, risk), [TRIGGER], CATALOGUE, now=START,
            max_event_age_seconds=86_400, interventions=InterventionPolicy(), analytics=models,
        )  # fmt: skip
    assert len(result.interventions) == 1


def test_in_the_global_control_group_the_triggers_experiment_is_not_run() -> None:
    definition = experiment()
    group = global_control(50.0, ("purchase",), 30 * 86_400.0)
    user = next(
        f"u{n}" for n in range(1000)
        if by_weight(group.variants, bucket(group.id, f"u{n}")).id == "control"
    )  # fmt: skip
    _, (first,) = run(user, [(0, QUOTE)], analytics(definition, percent=50.0))
    assert [a.experiment_id for a in first.assignments] == ["global_control"]


def test_record_keeps_assignments_through_its_codec() -> None:
    definition = experiment()
    state, _ = run(
        user_in(definition, "nudged"), [(0, QUOTE), (1, PURCHASE)], analytics(definition)
    )
    assert state.experiments["quote_message"][2] == 1  # assigned, and converted
    again = UserState.from_bytes(state.to_bytes())
    assert again.experiments == state.experiments


def test_an_arm_template_the_catalogue_lacks_leaves_the_triggers_own() -> None:
    definition = experiment(
        id="quote_copy", varies="template",
        variants=[{"id": "control", "control": True},
                  {"id": "ghost", "templates": {"email": "no_such_message.email"}}],
    )  # fmt: skip
    _, (first,) = run(user_in(definition, "ghost"), [(0, QUOTE)], analytics(definition))
    email = next(c for c in first.commands if c.channel.value == "email")
    assert email.template_id == "high_intent_follow_up.email"
    assert email.variant == "ghost"


def test_an_arm_template_must_be_for_its_channel() -> None:
    found = validate_experiment(
        experiment().model_dump(mode="json")
        | {"varies": "template", "variants": [
            {"id": "a", "control": True},
            {"id": "b", "templates": {"email": "high_intent_follow_up.sms"}}]}
    )  # fmt: skip
    assert found == [
        "variants.1: templates: 'high_intent_follow_up.sms' is not a template for email"
    ]
