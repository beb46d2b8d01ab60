"""The behaviour scores: points per event, fading in event time, the cap, conversion."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.events import Event
from schemas.scores import ScoreModel, validate_scores
from streams.core.features.context import Before
from streams.core.features.registry import event_context
from streams.core.state.fold import apply_event
from streams.core.state.record import UserState
from streams.core.state.scores import default_score_model, fade, score_at
from tests.unit.factories import START, event

MODEL = default_score_model()
AT = START.timestamp()


def fold(events: list[Event]) -> UserState:
    state = UserState()
    for item in events:
        apply_event(state, item)
    return state


def at(hours: float, payload: dict[str, Any]) -> Event:
    return event("ada", START + timedelta(hours=hours), payload)


@pytest.mark.parametrize(
    ("payload", "engagement", "interest", "intent"),
    [
        # The specification's points: page view 1, form 3-5, email 2-4, quote/application 8-15.
        ({"type": "page_view", "path": "/"}, 1, 0, 0),
        ({"type": "page_view", "path": "/p", "category": "pricing"}, 1, 6, 0),
        ({"type": "page_view", "path": "/f", "category": "features"}, 1, 4, 0),
        ({"type": "page_view", "path": "/s", "category": "support"}, 1, 0, 0),
        ({"type": "form_start", "form_id": "f"}, 3, 5, 0),
        ({"type": "form_submit", "form_id": "f"}, 5, 0, 5),
        ({"type": "email_open"}, 2, 0, 0),
        ({"type": "email_click", "url": "https://x"}, 3, 0, 0),
        ({"type": "email_reply"}, 4, 0, 4),
        ({"type": "quote_request", "product": "car insurance"}, 8, 0, 15),
        ({"type": "application_start", "application_id": "a", "product": "loan"}, 12, 0, 20),
        ({"type": "application_complete", "application_id": "a", "product": "loan"}, 15, 0, 30),
        ({"type": "video_play", "video_id": "v"}, 2, 2, 0),  # no category: "other"
        ({"type": "download", "asset": "rates", "category": "pricing"}, 2, 6, 0),
        ({"type": "phone_call", "direction": "inbound", "duration_seconds": 60}, 0, 0, 8),
        ({"type": "transaction", "amount": "5.00", "category": "pricing"}, 0, 0, 0),
    ],
)
def test_points_per_event(
    payload: dict[str, Any], engagement: float, interest: float, intent: float
) -> None:
    state = fold([at(0, payload)])
    assert [score_at(state.scores, s, AT, MODEL) for s in ("engagement", "interest", "intent")] == [
        engagement,
        interest,
        intent,
    ]


@pytest.mark.parametrize(
    ("days", "engagement", "intent"),
    [
        (0, 8.0, 15.0),
        (14, 4.0, 15 * 0.5**1.4),  # one engagement half-life (14 days); intent's is 10
        (28, 2.0, 15 * 0.5**2.8),
        (70, 8 * 0.5**5, 15 * 0.5**7),
    ],
)
def test_scores_fade_with_their_half_life_in_event_time(
    days: float, engagement: float, intent: float
) -> None:
    state = fold([at(0, {"type": "quote_request", "product": "car"})])
    later = AT + days * 86_400
    assert score_at(state.scores, "engagement", later, MODEL) == round(engagement, 1)
    assert score_at(state.scores, "intent", later, MODEL) == round(intent, 1)


def test_late_events_within_the_lateness_score_as_if_on_time() -> None:
    payloads = [
        {"type": "page_view", "path": "/p", "category": "pricing"},
        {"type": "form_start", "form_id": "f"},
        {"type": "quote_request", "product": "car"},
        {"type": "email_click", "url": "https://x"},
    ]
    events = [at(h, payloads[h % 4]) for h in range(40)]  # an hour apart, over two days
    shuffled = []
    rng = random.Random(3)
    for block in range(0, 40, 3):  # each arrives at most two hours late
        chunk = events[block : block + 3]
        rng.shuffle(chunk)
        shuffled += chunk
    a, b = fold(events), fold(shuffled)
    for name in ("engagement", "interest", "intent"):
        assert score_at(a.scores, name, AT + 20 * 86_400, MODEL) == pytest.approx(
            score_at(b.scores, name, AT + 20 * 86_400, MODEL), abs=0.05
        )


def test_a_score_reads_at_most_100() -> None:
    state = fold(
        [
            at(h, {"type": "application_complete", "application_id": f"a{h}", "product": "loan"})
            for h in range(10)
        ]
    )
    assert state.scores[3] > 100  # kept uncapped, so fading is exact
    assert score_at(state.scores, "intent", AT + 9 * 3600, MODEL) == 100.0


def test_a_return_visit_on_another_day_adds_interest() -> None:
    view = {"type": "page_view", "path": "/"}
    same_day = fold([at(0, view), at(3, view)])  # two visits the same day
    next_day = fold([at(0, view), at(24, view)])
    assert score_at(same_day.scores, "interest", AT + 86_400, MODEL) == 0.0
    assert score_at(next_day.scores, "interest", AT + 86_400, MODEL) == 1.0


def conversion(events: list[Event]) -> Any:
    state = fold(events)
    ctx = event_context(state, events[-1], Before.of(state))
    return ctx.value("conversion_probability")


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # recent: visits in 7 days / 5 (at most 1) x 0.3; funnel: furthest step / 5 x 0.5;
        # engagement / 100 x 0.2.
        (["page_view"], 100 * (0.3 * 1 / 5 + 0.5 * 1 / 5 + 0.2 * 0.01)),
        (["page_view", "form_start"], 100 * (0.3 * 1 / 5 + 0.5 * 2 / 5 + 0.2 * 0.04)),
        (["page_view", "form_start", "quote_request"], 100 * (0.3 / 5 + 0.5 * 3 / 5 + 0.2 * 0.12)),
        (["application_complete"], 100 * (0.3 / 5 + 0.5 * 1 + 0.2 * 0.15)),
    ],
)
def test_conversion_probability(steps: list[str], expected: float) -> None:
    payloads = {
        "page_view": {"type": "page_view", "path": "/"},
        "form_start": {"type": "form_start", "form_id": "f"},
        "quote_request": {"type": "quote_request", "product": "car"},
        "application_complete": {
            "type": "application_complete",
            "application_id": "a",
            "product": "loan",
        },
    }
    events = [at(i * 0.1, payloads[step]) for i, step in enumerate(steps)]  # one visit
    assert conversion(events) == pytest.approx(round(expected, 1), abs=0.06)


def test_the_weights_are_data_and_are_validated() -> None:
    document = yaml.safe_load(Path("streams/catalogue/scores.yaml").read_text())
    assert isinstance(validate_scores(document), ScoreModel)
    document["engagement"]["points"]["page_vew"] = 1
    document["intent"]["points"]["quote_request"] = {"pricing": 3}
    document["conversion"]["weights"]["funnel"] = 0.9
    problems = validate_scores(document)
    assert isinstance(problems, list)
    text = "\n".join(problems)
    assert "unknown event type 'page_vew'" in text
    assert "points.quote_request: only" in text
    assert "must add up to 1" in text


def test_fade_is_a_half_life() -> None:
    assert fade(10.0, 7 * 86_400, 7) == 5.0
    assert fade(10.0, 0, 7) == 10.0
