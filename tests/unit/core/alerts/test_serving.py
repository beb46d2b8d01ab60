"""When profiles are published and recommendations served (``streams.core.alerts.serving``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.alerts import AlertFeatureValues, AlertType
from schemas.ids import recommendation_id
from streams.core.alerts.serving import material, on_event, serve_promoted
from streams.core.state import alert_stats
from streams.core.state.record import UserState

AT = datetime(2026, 3, 2, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Suggested:
    alert_type: AlertType
    confidence: float
    explanation: str


@dataclass
class Model:
    version: int = 1
    name: str = "alert_recommender"
    asked: list[tuple[AlertFeatureValues, list[AlertType]]] = field(default_factory=list)

    def suggest(self, features: AlertFeatureValues, enabled: Sequence[AlertType]):
        self.asked.append((features, list(enabled)))
        return [
            Suggested(
                AlertType.HIGH_SPENDER, 0.8, "4 of the 5 customers most like you use this alert"
            )
        ]


def figures(state: UserState) -> list[Any]:
    assert state.alerts is not None
    return state.alerts


def with_debits(count: int) -> UserState:
    state = UserState(alerts=alert_stats.empty())
    for i in range(count):
        alert_stats.note_debit(figures(state), 1000, AT.timestamp() + i, f"m{i}", "food")
    return state


def published(state: UserState) -> None:
    """Say the user's profile was published as their figures are now."""
    stats = figures(state)
    stats[alert_stats.PUBLISHED] = [
        stats[alert_stats.COUNT], round(alert_stats.utilisation(stats), 4),
        stats[alert_stats.ENABLED],
    ]  # fmt: skip


# debits now, with no profile yet -> the first is due (at five debits)
@pytest.mark.parametrize(("debits", "due"), [(0, False), (1, False), (4, False), (5, True)])
def test_the_first_profile_is_due_at_five_debits(debits: int, due: bool) -> None:
    assert material(figures(with_debits(debits))) is due


# debits at the last profile -> debits now -> a new one is due (25 % more, and at least 5)
@pytest.mark.parametrize(("then", "now", "due"), [
    (5, 5, False), (5, 9, False), (5, 10, True), (8, 12, False), (8, 13, True),
    (20, 24, False), (20, 25, True), (40, 49, False), (40, 50, True),
    (100, 124, False), (100, 125, True),
])  # fmt: skip
def test_a_profile_is_due_after_a_quarter_more_debits(then: int, now: int, due: bool) -> None:
    state = with_debits(then)
    published(state)
    for i in range(now - then):
        alert_stats.note_debit(figures(state), 1000, AT.timestamp(), f"x{i}", None)
    assert material(figures(state)) is due


@pytest.mark.parametrize(("before", "after", "due"), [
    (0.70, 0.74, False), (0.70, 0.75, True), (0.70, 0.65, True), (0.0, 0.049, False),
])  # fmt: skip
def test_a_profile_is_due_when_utilisation_moves_five_points(before, after, due) -> None:
    state = with_debits(5)
    alert_stats.note_balance(figures(state), before * 1000, 1000)
    published(state)
    alert_stats.note_balance(figures(state), after * 1000, 1000)
    assert material(figures(state)) is due


def test_switching_an_alert_makes_a_profile_due_even_with_no_debit() -> None:
    state = UserState(alerts=alert_stats.empty())
    alert_stats.note_alert(figures(state), AlertType.NEW_MERCHANT, on=True)
    out = on_event(state, "u", at=AT, cause="e1", fresh=True, model=Model())
    assert out.profile is not None and out.profile.features is None
    assert out.profile.enabled == [AlertType.NEW_MERCHANT]
    assert out.recommendations == []  # no features: cold start, nothing recommended
    assert on_event(state, "u", at=AT, cause="e2", fresh=True, model=Model()).profile is None


def test_no_figures_no_output() -> None:
    out = on_event(UserState(), "u", at=AT, cause="e", fresh=True, model=Model())
    assert out.profile is None and out.recommendations is None


def test_a_fresh_profile_is_served_and_a_stale_one_only_published() -> None:
    state = with_debits(5)
    model = Model()
    stale = on_event(state, "u", at=AT, cause="e1", fresh=False, model=model)
    assert stale.profile is not None and stale.recommendations is None
    # Not due again, but the user was never served this version: served now.
    fresh = on_event(state, "u", at=AT, cause="e2", fresh=True, model=model)
    assert fresh.profile is None
    assert [r.recommendation_id for r in fresh.recommendations or []] == [
        recommendation_id("u", "high_spender", 1, "e2")
    ]
    assert on_event(state, "u", at=AT, cause="e3", fresh=True, model=model).recommendations is None


def test_the_model_is_asked_with_the_alerts_already_on() -> None:
    state = with_debits(2)
    alert_stats.note_alert(figures(state), AlertType.LOCATION_BASED, on=True)
    model = Model()
    out = on_event(state, "u", at=AT, cause="e", fresh=True, model=model)
    assert model.asked[0][1] == [AlertType.LOCATION_BASED]
    recommendation = (out.recommendations or [])[0]
    assert (recommendation.confidence, recommendation.model_version) == (0.8, 1)
    assert recommendation.explanation == "4 of the 5 customers most like you use this alert"


def test_a_promotion_serves_each_user_once() -> None:
    state = with_debits(5)
    published(state)
    first = serve_promoted(state, "u", Model(version=2), AT + timedelta(hours=1))
    assert first is not None and first.recommendations
    assert first.recommendations[0].cause == "promotion:2"
    assert first.profile is None  # the features are the last profile's
    assert serve_promoted(state, "u", Model(version=2), AT) is None
    assert serve_promoted(UserState(), "u", Model(version=2), AT) is None
    # A later event for the same version serves nothing more; a newer version does.
    assert (
        on_event(state, "u", at=AT, cause="e", fresh=True, model=Model(version=2)).recommendations
        is None
    )
    assert serve_promoted(state, "u", Model(version=3), AT) is not None


def test_features_that_moved_since_the_last_profile_are_published_with_the_recommendations() -> (
    None
):
    state = with_debits(8)
    published(state)
    alert_stats.note_debit(figures(state), 5000, AT.timestamp(), "new", "travel")  # 9 < 8 * 1.25
    assert not material(figures(state))
    served = serve_promoted(state, "u", Model(version=1), AT)
    assert served is not None and served.profile is not None
    assert served.profile.features is not None
    assert served.profile.features.transaction_count == 9  # what the model was asked with
    assert Model().suggest(served.profile.features, []) and served.profile.source_event_id == (
        "promotion:1"
    )
    assert not material(figures(state))  # remembered as published


def test_a_new_user_served_on_their_first_debit_gets_the_profile_they_were_served_with() -> None:
    state = with_debits(1)
    out = on_event(state, "u", at=AT, cause="e1", fresh=True, model=Model())
    assert out.recommendations and out.profile is not None
    assert out.profile.features is not None and out.profile.features.transaction_count == 1
