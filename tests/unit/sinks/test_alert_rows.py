"""Alert profiles and recommendations -> sink rows, and which profile of a user is kept.

No database: the rows, the dead letters, and ``sinks.latest``'s choice within a batch. The
database's side of the same rule is in ``tests/integration/sinks/test_alerts_sink.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.dialects.postgresql import JSONB

from schemas.alerts import AlertProfile, AlertRecommendation, AlertType
from schemas.ids import alert_profile_id, recommendation_id
from schemas.topics import ALERTS_PROFILES, ALERTS_RECOMMENDATIONS, TopicSpec
from sinks.latest import keep_latest, latest_by
from sinks.rows import DEAD_LETTERS, ROUTES, ConsumedMessage, Row, message_row
from tests.unit.factories import ALERT_FEATURES

AT = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
NOW = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)
FEATURES = ALERT_FEATURES


def profile(
    cause: str, at: datetime = AT, *, user: str = "user-1", features: bool = True
) -> AlertProfile:
    return AlertProfile(
        profile_id=alert_profile_id(user, cause),
        user_id=user,
        as_of=at,
        source_event_id=cause,
        features=FEATURES if features else None,
        enabled=[AlertType.HIGH_SPENDER, AlertType.NEW_MERCHANT],
    )


def recommendation() -> AlertRecommendation:
    return AlertRecommendation(
        recommendation_id=recommendation_id("user-1", "new_merchant", 3, "event-1"),
        user_id="user-1",
        alert_type=AlertType.NEW_MERCHANT,
        confidence=0.8,
        explanation="4 of the 5 customers most like you use this alert",
        model_name="alert_recommender",
        model_version=3,
        created_at=AT,
        cause="event-1",
    )


def row(model: Any, offset: int = 7, spec: TopicSpec | None = None) -> Row:
    if spec is None:
        spec = ALERTS_PROFILES if isinstance(model, AlertProfile) else ALERTS_RECOMMENDATIONS
    value = model if isinstance(model, bytes) else model.model_dump_json().encode()
    source = ConsumedMessage(f"p.{spec.name}", 1, offset, b"user-1", value)
    return message_row(source, ROUTES[spec], NOW)


def test_a_profile_becomes_its_users_alert_profiles_row():
    made = row(profile("event-1"))
    assert made.table.name == "alert_profiles" and not made.rejected
    assert made.values == {
        "user_id": "user-1",
        "profile_id": alert_profile_id("user-1", "event-1"),
        "as_of": AT,
        "source_event_id": "event-1",
        "features": FEATURES.model_dump(),
        "enabled": ["high_spender", "new_merchant"],
    }
    assert made.key == ("user-1",)  # one row per user
    assert latest_by(made.table) == ("as_of", "profile_id")


def test_a_profile_before_the_first_debit_has_no_features():
    made = row(profile("event-1", features=False))
    assert made.values["features"] is None
    features = made.table.c.features.type
    assert isinstance(features, JSONB) and features.none_as_null  # SQL NULL, not JSON null


def test_a_recommendation_becomes_an_alert_recommendations_row():
    made = row(recommendation())
    assert made.table.name == "alert_recommendations" and not made.rejected
    assert made.values == {
        "recommendation_id": recommendation().recommendation_id,
        "user_id": "user-1",
        "alert_type": "new_merchant",
        "confidence": 0.8,
        "explanation": "4 of the 5 customers most like you use this alert",
        "model_name": "alert_recommender",
        "model_version": 3,
        "created_at": AT,
        "cause": "event-1",
    }
    assert type(made.values["alert_type"]) is str
    assert latest_by(made.table) == ()  # insert-only


@pytest.mark.parametrize(
    ("model", "change", "error"),
    [
        (recommendation, {"alert_type": "pay_day"}, "alert_type: not one of the allowed values"),
        (recommendation, {"confidence": 0}, "confidence: Input should be greater than 0"),
        (profile, {"as_of": "2025-03-14T09:30:00"}, "as_of: Input should have timezone info"),
        (profile, {"enabled": ["pay_day"]}, "enabled.0: not one of the allowed values"),
    ],
)
def test_an_unusable_alert_message_is_a_dead_letter(model, change, error):
    built = model("event-1") if model is profile else model()
    spec = ALERTS_PROFILES if model is profile else ALERTS_RECOMMENDATIONS
    made = row(json.dumps(built.model_dump(mode="json") | change).encode(), spec=spec)
    assert made.rejected and made.table is DEAD_LETTERS
    assert made.values["error"].startswith(error)


def test_a_batch_keeps_each_users_latest_profile_whatever_the_order():
    older, newer = profile("event-1"), profile("event-2", AT + timedelta(minutes=1))
    other = profile("event-9", user="user-2")
    for batch in ([older, newer, other], [newer, older, other], [newer, other, older, newer]):
        kept = keep_latest(row(model) for model in batch)
        assert set(kept) == {("user-1",), ("user-2",)}
        assert kept[("user-1",)]["profile_id"] == newer.profile_id
        assert kept[("user-2",)]["profile_id"] == other.profile_id


def test_of_two_profiles_of_one_instant_the_greater_id_is_kept_in_either_order():
    one, two = profile("event-a"), profile("event-b")
    greater = max(one.profile_id, two.profile_id)
    for batch in ([one, two], [two, one]):
        kept = keep_latest(row(model) for model in batch)
        assert kept[("user-1",)]["profile_id"] == greater


def test_an_insert_only_table_keeps_one_row_per_key():
    same = recommendation()
    kept = keep_latest([row(same, offset=1), row(same, offset=2)])
    assert list(kept) == [(same.recommendation_id,)]
