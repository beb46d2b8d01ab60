"""The visit features: windows by start day, averages over 7 days, sources."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.events import Event
from streams.core.features.context import Before
from streams.core.features.registry import event_context
from streams.core.state.fold import apply_event
from streams.core.state.record import UserState
from tests.unit.factories import START, event


def visit(day: float, pages: int, minutes: float, source: str = "app") -> list[Event]:
    """A visit ``day`` days after START: ``pages`` page views spread over ``minutes``."""
    step = minutes / max(pages - 1, 1)
    return [
        Event.model_validate(
            {
                **event(
                    "ada",
                    START + timedelta(days=day, minutes=n * step),
                    {"type": "page_view", "path": "/"},
                ).model_dump(mode="json"),
                "source": source,
            }  # fmt: skip
        )
        for n in range(pages)
    ]


def features(events: list[Event], names: list[str]) -> dict[str, object]:
    state = UserState()
    for item in events:
        apply_event(state, item)
    last = events[-1]
    ctx = event_context(state, last, Before.of(state))
    return {name: ctx.value(name) for name in names}


NAMES = [
    "sessions_7d", "sessions_30d", "avg_session_minutes", "pages_per_session",
    "time_spent_minutes_7d", "days_active_14d", "sources_used", "sources_used_count",
]  # fmt: skip


@pytest.mark.parametrize(
    ("visits", "expected"),
    [
        # One visit today: 3 pages over 10 minutes.
        ([(40, 3, 10, "app")], [1.0, 1.0, 10.0, 3.0, 10.0, 1.0, "app", 1.0]),
        # Two today, one 6 days ago (in the week), one 7 days ago (out of it, in 30 and 14).
        (
            [(33, 2, 4, "web"), (34, 1, 0, "web"), (40, 2, 6, "app"), (40.125, 4, 12, "app")],
            [3.0, 4.0, 6.0, 7 / 3, 18.0, 3.0, "web,app", 2.0],
        ),
        # 20 days ago and 35 days ago: in the 30 days, out of the 14 and the 7; the
        # older is forgotten.
        (
            [(5, 1, 0, "email"), (20, 2, 5, "web"), (40, 1, 0, "web")],
            [1.0, 2.0, 0.0, 1.0, 0.0, 1.0, "web,email", 2.0],
        ),
    ],
)
def test_session_features(
    visits: list[tuple[float, int, float, str]], expected: list[object]
) -> None:
    events = [
        e for day, pages, minutes, source in visits for e in visit(day, pages, minutes, source)
    ]
    got = features(events, NAMES)
    assert list(got.values()) == [
        pytest.approx(x, abs=0.01) if isinstance(x, float) else x for x in expected
    ]
