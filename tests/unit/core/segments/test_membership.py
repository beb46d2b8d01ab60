"""Live segments: each kind of criterion, joins and leaves with reasons, ids, the timer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from schemas.segments import validate_segment, validate_segments
from schemas.triggers import TriggerDefinition
from streams.core.decisions.process import process, process_idle
from streams.core.rendering import default_catalogue
from streams.core.segments.membership import aggregate, describe
from streams.core.state.analytics import Analytics, analytics_from, segment_key
from streams.core.state.record import UserState
from streams.core.state.segment_tracks import Segments, default_segments, track_event
from streams.core.state.visits import VisitPolicy
from tests.unit.factories import START, event

CATALOGUE = default_catalogue()
PAGE = {"type": "page_view", "path": "/"}
QUOTE = {"type": "quote_request", "product": "car"}
APPLICATION = {"type": "application_start", "application_id": "a", "product": "loan"}


def debit(cents: int) -> dict[str, Any]:
    return {"type": "transaction", "amount": f"{cents / 100:.2f}", "currency": "USD",
            "direction": "debit", "merchant": "shop", "category": "shopping"}  # fmt: skip


def segments(*documents: dict[str, Any]) -> Analytics:
    """Analytics with only these segments in force."""
    found = [validate_segment({"name": d["id"], **d}) for d in documents]
    assert all(not isinstance(f, list) for f in found), found
    return Analytics(segments=Segments.of(tuple(found)))  # type: ignore[arg-type]


def run(
    steps: list[tuple[float, dict[str, Any]]],
    analytics: Analytics,
    state: UserState | None = None,
    definitions: list[TriggerDefinition] | None = None,
) -> tuple[UserState, list[Any], list[Any]]:
    """Process events ``hours`` after START, each fresh; return record, changes, decisions."""
    state = state if state is not None else UserState()
    changes: list[Any] = []
    decisions: list[Any] = []
    for hours, payload in steps:
        item = event("ada", START + timedelta(hours=hours), payload, event_id=f"e-{hours}")
        result = process(state, item, definitions or [], CATALOGUE, now=item.occurred_at,
                         max_event_age_seconds=86_400, analytics=analytics)  # fmt: skip
        changes += result.segment_changes
        decisions += result.decisions
    return state, changes, decisions


def members(changes: list[Any]) -> list[tuple[str, str]]:
    return [(c.segment_id, c.change.value) for c in changes]


# --- each kind of criterion, table-driven -------------------------------------------------

DAY = 24.0
SEEN_PAGE = {"seen": "page_view", "within": "1d"}
SEEN_QUOTE = {"seen": "quote_request", "within": "1d"}


@pytest.mark.parametrize(
    ("criterion", "steps", "member"),
    [
        # time-based: an event of the type within the window, at the newest event's time
        ({"seen": "page_view", "within": "2d"}, [(0, PAGE), (47, debit(100))], True),
        ({"seen": "page_view", "within": "2d"}, [(0, PAGE), (49, debit(100))], False),
        ({"seen": "quote_request", "within": "30d"}, [(0, PAGE)], False),
        ({"seen": "any", "within": "1d"}, [(0, PAGE)], True),
        # frequency: at least N events of the type in the window (exact)
        (
            {"count": "page_view", "at_least": 3, "within": "1d"},
            [(0, PAGE), (1, PAGE), (23.9, PAGE)],
            True,
        ),  # fmt: skip
        (
            {"count": "page_view", "at_least": 3, "within": "1d"},
            [(0, PAGE), (1, PAGE), (24.1, PAGE)],
            False,
        ),  # the first fell out of the day
        ({"count": "page_view", "at_least": 3, "within": "1d"}, [(0, PAGE), (1, PAGE)], False),
        # sequence: B no later than `within` after A, lately
        (
            {"sequence": ["quote_request", "application_start"], "within": "2d"},
            [(0, QUOTE), (47, APPLICATION)],
            True,
        ),  # fmt: skip
        (
            {"sequence": ["quote_request", "application_start"], "within": "2d"},
            [(0, QUOTE), (49, APPLICATION)],
            False,
        ),  # fmt: skip
        (
            {"sequence": ["quote_request", "application_start"], "within": "2d"},
            [(0, APPLICATION), (1, QUOTE)],
            False,
        ),  # the wrong order
        (
            {"sequence": ["quote_request", "application_start"], "within": "2d", "in_last": "3d"},
            [(0, QUOTE), (1, APPLICATION), (4 * DAY, PAGE)],
            False,
        ),  # too long ago now
        # aggregation over whole UTC days (START is a day's midnight)
        (
            {"aggregate": "sum", "of": "spend", "within": "2d", "gte": 30},
            [(0, debit(1000)), (25, debit(2000))],
            True,
        ),  # fmt: skip
        (
            {"aggregate": "sum", "of": "spend", "within": "1d", "gte": 30},
            [(0, debit(1000)), (25, debit(2000))],
            False,
        ),  # only today's 20
        (
            {"aggregate": "average", "of": "spend", "within": "2d", "between": [14.99, 15.01]},
            [(0, debit(1000)), (25, debit(2000))],
            True,
        ),  # fmt: skip
        (
            {"aggregate": "max", "of": "spend", "within": "7d", "gt": 20},
            [(0, debit(1000)), (25, debit(2000))],
            False,
        ),  # the biggest day is 20, not more
        (
            {"aggregate": "count", "of": "spend", "within": "7d", "gte": 2},
            [(0, debit(1000)), (25, debit(2000))],
            True,
        ),  # two days with spending
        # a feature, and the tree
        ({"feature": "pattern", "eq": "exploring"}, [(0, PAGE)], True),
        ({"not": {"feature": "pattern", "eq": "exploring"}}, [(0, PAGE)], False),
        (
            {
                "all": [
                    {"seen": "page_view", "within": "1d"},
                    {"seen": "quote_request", "within": "1d"},
                ]
            },
            [(0, PAGE)],
            False,
        ),  # fmt: skip
        (
            {
                "any": [
                    {"seen": "page_view", "within": "1d"},
                    {"seen": "quote_request", "within": "1d"},
                ]
            },
            [(0, PAGE)],
            True,
        ),  # fmt: skip
    ],
)
def test_each_criterion(criterion: dict[str, Any], steps: list[Any], member: bool) -> None:
    state, _, _ = run(steps, segments({"id": "s", "when": criterion}))
    assert ("s" in state.segments) is member


def test_an_aggregation_reads_the_days_the_record_keeps() -> None:
    state, _, _ = run([(0, debit(1000)), (25, debit(2000)), (49, debit(500))], Analytics())
    node = validate_segment(
        {
            "id": "s",
            "name": "s",
            "when": {"aggregate": "sum", "of": "spend", "within": "3d", "gte": 0},
        }
    )
    assert not isinstance(node, list)
    at = (START + timedelta(hours=49)).timestamp()
    assert aggregate(node.when, state, at) == pytest.approx(35.0)  # type: ignore[arg-type]


# --- joins and leaves -----------------------------------------------------------------------

BROWSERS = {"id": "browsers", "when": {"count": "page_view", "at_least": 2, "within": "1d"}}


def test_a_user_joins_when_the_criteria_hold_and_leaves_when_they_stop() -> None:
    analytics = segments(BROWSERS)
    state, changes, _ = run([(0, PAGE), (1, PAGE), (30, PAGE)], analytics)
    assert members(changes) == [("browsers", "joined"), ("browsers", "left")]
    joined, left = changes
    assert joined.reason == "at least 2 page_view within 1d"
    assert left.reason == "no longer: at least 2 page_view within 1d"
    assert joined.occurred_at == START + timedelta(hours=1)
    assert left.member_since == START + timedelta(hours=1)
    assert joined.source_event_id is not None
    assert state.segments == {}


def test_a_member_stays_without_repeating_the_join() -> None:
    _, changes, _ = run([(0, PAGE), (1, PAGE), (2, PAGE), (3, PAGE)], segments(BROWSERS))
    assert members(changes) == [("browsers", "joined")]


def test_the_same_event_twice_changes_nothing_the_second_time() -> None:
    analytics = segments(BROWSERS)
    state = UserState()
    first = event("ada", START, PAGE)
    second = event("ada", START + timedelta(hours=1), PAGE)
    for item in (first, second, second):
        result = process(state, item, [], CATALOGUE, now=item.occurred_at,
                         max_event_age_seconds=86_400, analytics=analytics)  # fmt: skip
    assert result.applied is False
    assert result.segment_changes == []
    assert list(state.segments) == ["browsers"]


def test_ids_derive_from_the_cause_so_a_replay_repeats_them() -> None:
    analytics = segments(BROWSERS)
    _, once, _ = run([(0, PAGE), (1, PAGE)], analytics)
    _, again, _ = run([(0, PAGE), (1, PAGE)], analytics)
    assert [c.change_id for c in once] == [c.change_id for c in again]
    assert len({c.change_id for c in once}) == len(once)


def test_a_paused_segment_lets_its_members_go_and_a_removed_one_too() -> None:
    state, _, _ = run([(0, PAGE), (1, PAGE)], segments(BROWSERS))
    paused = segments({**BROWSERS, "status": "paused"})
    _, changes, _ = run([(2, PAGE)], paused, state)
    assert [(c.change.value, c.reason) for c in changes] == [("left", "segment paused")]
    _, _, _ = run([(3, PAGE)], segments(BROWSERS), state)
    assert "browsers" in state.segments
    _, changes, _ = run([(4, PAGE)], segments(), state)
    assert [(c.segment_id, c.reason) for c in changes] == [("browsers", "segment removed")]


def test_a_stale_event_counts_but_judges_nothing() -> None:
    analytics = segments(BROWSERS)
    state = UserState()
    for hours in (0, 1):
        item = event("ada", START + timedelta(hours=hours), PAGE)
        result = process(state, item, [], CATALOGUE, now=START + timedelta(days=30),
                         max_event_age_seconds=86_400, analytics=analytics)  # fmt: skip
        assert result.segment_changes == []
    assert state.segments == {}
    assert len(state.event_times["page_view"]) == 2  # counted for the next fresh one


# --- the timer --------------------------------------------------------------------------------

INACTIVE = {"id": "inactive_14d", "when": {"not": {"seen": "any", "within": "14d"}}}


def test_the_timer_joins_a_user_gone_quiet_with_no_event() -> None:
    analytics = segments(INACTIVE)
    state, changes, _ = run([(0, PAGE)], analytics)
    assert changes == []
    early = process_idle("ada", state, [], CATALOGUE, now=START + timedelta(days=13),
                         analytics=analytics, segments=True)  # fmt: skip
    assert early.segment_changes == []
    late = process_idle("ada", state, [], CATALOGUE, now=START + timedelta(days=14, hours=1),
                        analytics=analytics, segments=True)  # fmt: skip
    assert members(late.segment_changes) == [("inactive_14d", "joined")]
    assert late.segment_changes[0].source_event_id is None
    assert late.changed_state
    # A repeat after a crash (same record, same newest event) repeats the id.
    state.segments.clear()
    repeat = process_idle("ada", state, [], CATALOGUE, now=START + timedelta(days=14, hours=2),
                          analytics=analytics, segments=True)  # fmt: skip
    assert repeat.segment_changes[0].change_id == late.segment_changes[0].change_id
    # The next event brings the user back.
    _, back, _ = run([(15 * DAY, PAGE)], analytics, state)
    assert [(c.change.value, c.reason) for c in back] == [
        ("left", "no longer: not (an event within 14d)")
    ]


def test_the_timer_judges_segments_only_when_asked() -> None:
    analytics = segments(INACTIVE)
    state, _, _ = run([(0, PAGE)], analytics)
    idle = process_idle("ada", state, [], CATALOGUE, now=START + timedelta(days=20),
                        analytics=analytics)  # fmt: skip
    assert idle.segment_changes == []
    assert state.segments == {}


# --- targeting ----------------------------------------------------------------------------------


def _targeting(segment: str) -> TriggerDefinition:
    return TriggerDefinition.model_validate({
        "id": "browse_offer", "name": "Browse offer", "type": "behavioral",
        "category": "lead_journey", "evaluate_on": {"events": ["page_view"]},
        "condition": {"feature": "pattern", "ne": "none"},
        "channels": [{"channel": "email", "template": "high_intent_follow_up.email"}],
        "target": {"segments": [segment]},
    })  # fmt: skip


def test_a_trigger_targeting_a_live_segment_reaches_its_members_only() -> None:
    analytics = segments(BROWSERS)
    definition = _targeting("browsers")
    _, _, decisions = run([(0, PAGE), (1, PAGE)], analytics, definitions=[definition])
    assert [(d.outcome.value, d.reason and d.reason.value) for d in decisions] == [
        ("suppressed", "excluded"),  # one page view: not a member yet
        ("fired", None),  # joined on this event, judged before the trigger
    ]


# --- what the record keeps ------------------------------------------------------------------------


def test_tracking_keeps_the_newest_times_asked_for_and_drops_what_no_segment_asks() -> None:
    counted = segments({"id": "s", "when": {"count": "page_view", "at_least": 3, "within": "1d"}})
    state = UserState()
    for minute in range(6):
        state.watermark = START.timestamp() + minute * 60
        track_event(state, "page_view", state.watermark, counted.segments)
    assert state.event_times["page_view"] == [int(START.timestamp()) + m * 60 for m in (3, 4, 5)]
    track_event(state, "page_view", state.watermark, Segments())
    assert state.event_times == {}


def test_event_times_and_membership_survive_the_changelog_encoding() -> None:
    state, _, _ = run([(0, PAGE), (1, PAGE), (1.5, QUOTE), (2, APPLICATION)], Analytics())
    assert state.event_times and state.segments and state.sequences
    assert UserState.from_bytes(state.to_bytes()) == state


# --- as data ------------------------------------------------------------------------------


def test_the_shipped_segments_are_valid_and_cover_every_kind() -> None:
    shipped = default_segments()
    kinds = {describe(d.when).split(" ")[0] for d in shipped.definitions}
    assert {d.id for d in shipped.definitions} >= {"inactive_14d", "frequent_browsers"}
    assert len(kinds) == len(shipped.definitions)
    assert shipped.counted == {"page_view": (5, 7 * 86_400.0)}


def test_applied_segments_join_the_shipped_ones_and_bad_ones_are_refused() -> None:
    good = b'{"id": "vip", "name": "VIP", "when": {"feature": "tier", "eq": "premium"}}'
    wrong_key = b'{"id": "other", "name": "x", "when": {"seen": "any", "within": "1d"}}'
    bad = (
        b'{"id": "bad", "name": "x", "when": {"count": "page_view", "at_least": 0, "within": "1d"}}'
    )
    applied = analytics_from(
        {segment_key("vip"): good, segment_key("nope"): wrong_key, segment_key("bad"): bad},
        VisitPolicy(),
    )
    ids = [d.id for d in applied.analytics.segments.definitions]
    assert "vip" in ids and "inactive_14d" in ids
    assert set(applied.refused) == {"segment:nope", "segment:bad"}
    assert applied.refused["segment:bad"] == [
        "when.at_least: Input should be greater than or equal to 1"
    ]


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (
            {"segments": [{"id": "a", "name": "a", "when": {"seen": "nope", "within": "1d"}}]},
            "segments.0.when: unknown event type 'nope'",
        ),  # fmt: skip
        (
            {
                "segments": [
                    {
                        "id": "a",
                        "name": "a",
                        "when": {"aggregate": "sum", "of": "pages", "within": "9d", "gt": 1},
                    }
                ]
            },
            "segments.0.when: a window lies between 1s and 8 days",
        ),  # fmt: skip
        (
            {
                "segments": [
                    {"id": "a", "name": "a", "when": {"feature": "engagement_score", "gt": "$x"}}
                ]
            },
            "segments.0.when: a segment has no thresholds; write the number",
        ),  # fmt: skip
        (
            {"segments": [{"id": "a", "name": "a", "when": {"seen": "any", "within": "1d"}}] * 2},
            "segments.1.id: 'a' is defined twice",
        ),  # fmt: skip
        (
            {"segments": [{"id": "A!", "name": "a", "when": {"seen": "any", "within": "1d"}}]},
            "segments.0.id: String should match pattern '^[a-z0-9_\\-]{1,64}$'",
        ),  # fmt: skip
    ],
)
def test_a_bad_definition_is_refused_with_the_field_and_the_reason(
    document: dict[str, Any], problem: str
) -> None:
    assert validate_segments(document) == [problem]


def test_a_segment_change_reason_reads_as_words() -> None:
    node = validate_segment(
        {"id": "s", "name": "s", "when": {"all": [
            {"sequence": ["quote_request", "application_start"], "within": "2d"},
            {"any": [{"seen": "any", "within": "12h"}, {"feature": "tier", "eq": "premium"}]},
        ]}}
    )  # fmt: skip
    assert not isinstance(node, list)
    assert describe(node.when) == (
        "quote_request then application_start within 2d, in the last 30d"
        " and (an event within 12h or tier eq premium)"
    )
