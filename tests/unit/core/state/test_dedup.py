"""Dedup over a window of event time, the v2 record codec, v1 records, and record sizes."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from schemas.events import Event
from streams.core.decisions.process import process
from streams.core.rendering import default_catalogue
from streams.core.state.dedup import (
    DEDUP_CEILING,
    DEDUP_FLOOR,
    DEDUP_WINDOW_HOURS,
    OUTSIDE_WINDOW,
    decode_seen,
    encode_seen,
    fingerprint,
)
from streams.core.state.fold import apply_event
from streams.core.state.int_maps import pack_int_map, unpack_int_map
from streams.core.state.record import UserState
from streams.core.triggers.catalogue import default_definitions
from streams.simulation.population import make_population, population_events
from tests.unit.factories import START, fold, transaction

USER = "user-1"
HOUR = timedelta(hours=1)


def _uuid(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def _filler(at: datetime, n: int, tag: str) -> list[Event]:
    return [transaction(USER, at, "1.00", event_id=f"{tag}-{i}") for i in range(n)]


# --- the window -------------------------------------------------------------------------
# Without a processing clock (``fold``), the window runs on the user's watermark; the
# worker passes ``now`` (``process``), and the window runs on processing time.


@pytest.mark.parametrize(
    ("later", "known"),
    [
        (timedelta(0), True),
        (timedelta(hours=1), True),
        (timedelta(hours=DEDUP_WINDOW_HOURS - 1), True),
        (timedelta(hours=DEDUP_WINDOW_HOURS), True),  # the edge: still inside
        # Whole UTC hours: START is 12:00, so +48 h 59 min is still the edge's hour.
        (timedelta(hours=DEDUP_WINDOW_HOURS, minutes=59, seconds=59), True),
        (timedelta(hours=DEDUP_WINDOW_HOURS + 1), False),  # one hour past: forgotten
        (timedelta(days=30), False),
    ],
)
def test_an_id_is_known_while_the_watermark_is_within_the_window(
    later: timedelta, known: bool
) -> None:
    first = transaction(USER, START, "10.00", event_id="e-first")
    # More than the floor's worth of later events, so only the window keeps "e-first".
    state = fold([first, *_filler(START + later, DEDUP_FLOOR, "later")])
    assert state.has_seen("e-first") is known
    counts_before = state.counts["transaction"]
    assert apply_event(state, first) is (not known)
    assert state.counts["transaction"] == counts_before + (0 if known else 1)


@pytest.mark.parametrize("gap_minutes", [0, 1, 10, 60 * 24])
def test_a_copy_sent_again_within_the_window_is_skipped(gap_minutes: int) -> None:
    # A producer's retry: the same event id (and content) again, a little later.
    event = transaction(USER, START, "12.34", event_id="retry-me")
    state = fold([event, *_filler(START + timedelta(minutes=gap_minutes), 20, "other")])
    before = state.to_bytes()
    assert apply_event(state, event) is False
    assert state.to_bytes() == before


def test_a_redelivered_batch_is_skipped_as_a_whole() -> None:
    # The events after the last committed offset, replayed after a crash: already in the
    # record the changelog holds, none is applied again.
    batch = [transaction(USER, START + i * HOUR, "1.00", event_id=f"b-{i}") for i in range(40)]
    state = fold(batch)
    restored = UserState.from_bytes(state.to_bytes())  # what recovery reads back
    assert [apply_event(restored, event) for event in batch] == [False] * len(batch)
    assert restored == state


def test_a_late_event_is_checked_and_its_id_kept_from_its_arrival() -> None:
    now = START + timedelta(days=10)
    state = fold(_filler(now, 1, "now"))
    late = transaction(USER, START, "5.00", event_id="late")  # 10 days behind the watermark
    assert apply_event(state, late) is True  # applied: not refused for its age
    assert apply_event(state, late) is False  # and its copy is recognised
    # Stamped with the watermark's hour at arrival, so it lasts a window from then.
    apply_event(state, transaction(USER, now + DEDUP_WINDOW_HOURS * HOUR, "1.00"))
    fold(_filler(now + DEDUP_WINDOW_HOURS * HOUR, DEDUP_FLOOR, "edge"), state)
    assert state.has_seen("late")
    fold(_filler(now + (DEDUP_WINDOW_HOURS + 1) * HOUR, DEDUP_FLOOR, "past"), state)
    assert not state.has_seen("late")


def test_the_floor_keeps_the_latest_ids_of_a_burst_longer_than_the_window() -> None:
    # One event every 12 hours for 20 days, in one stretch (a catch-up): the window holds
    # the last few, the floor the last DEDUP_FLOOR whatever their age.
    burst = [transaction(USER, START + i * 12 * HOUR, "1.00", event_id=f"c-{i}") for i in range(40)]
    state = fold(burst)
    in_window = DEDUP_WINDOW_HOURS // 12 + 1
    assert len(state.seen) == max(DEDUP_FLOOR, in_window)
    assert [state.has_seen(e.event_id) for e in burst[-DEDUP_FLOOR:]] == [True] * DEDUP_FLOOR
    assert not state.has_seen(burst[-DEDUP_FLOOR - 1].event_id)
    assert OUTSIDE_WINDOW in state.seen.values()  # kept by the floor alone


def test_the_ceiling_bounds_a_flood_within_the_window() -> None:
    flood = _filler(START, DEDUP_CEILING + 10, "f")
    state = fold(flood)
    assert len(state.seen) == DEDUP_CEILING
    assert not state.has_seen("f-9") and state.has_seen("f-10")  # oldest arrivals go first
    assert len(state.to_bytes()) < 7_000


def test_a_fast_stream_redelivered_after_a_crash_is_skipped_whatever_its_event_time() -> None:
    # A history load or a catch-up: a month of one user's events processed within one
    # hour. A crash redelivers the stretch after the last commit: every copy is known.
    now = START + timedelta(days=60)
    stream = [
        transaction(USER, START + i * 6 * HOUR, "1.00", event_id=f"s-{i}") for i in range(120)
    ]
    state = UserState()
    assert all(apply_event(state, event, now=now) for event in stream)
    restored = UserState.from_bytes(state.to_bytes())
    assert not any(apply_event(restored, event, now=now) for event in stream[40:])
    assert restored == state


@pytest.mark.parametrize(
    ("later", "known"),
    [
        (timedelta(hours=DEDUP_WINDOW_HOURS), True),
        (timedelta(hours=DEDUP_WINDOW_HOURS + 1), False),
    ],
)
def test_on_the_processing_clock_the_window_is_processing_hours(
    later: timedelta, known: bool
) -> None:
    state = UserState()
    first = transaction(USER, START, "1.00", event_id="first")
    apply_event(state, first, now=START)
    for event in _filler(START, DEDUP_FLOOR, "next"):  # event time stands still...
        apply_event(state, event, now=START + later)  # ...processing time moves on
    assert state.has_seen("first") is known


def test_a_worker_clock_behind_the_record_does_not_move_it_back() -> None:
    state = UserState()
    apply_event(state, transaction(USER, START, "1.00", event_id="a"), now=START + 10 * HOUR)
    apply_event(state, transaction(USER, START, "1.00", event_id="b"), now=START)
    assert list(state.seen.values()) == [state.seen[fingerprint("a")]] * 2


# --- fingerprints -----------------------------------------------------------------------


def test_the_fingerprint_is_blake2b_64_of_the_id() -> None:
    digest = hashlib.blake2b(b"e-1", digest_size=8).digest()
    assert fingerprint("e-1") == int.from_bytes(digest, "big")


def test_distinct_ids_do_not_share_a_fingerprint_in_a_large_sample() -> None:
    # The stated rate is 2**-64 per pair; 200 000 ids make ~2e10 pairs, so a collision
    # here (probability ~1e-9) would mean the fingerprint is not what it claims.
    keys = {fingerprint(_uuid(i)) for i in range(200_000)}
    assert len(keys) == 200_000


@pytest.mark.parametrize(
    "seen",
    [
        {},
        {1: 100},
        {7: OUTSIDE_WINDOW, 2**64 - 1: 52, 0: 100},
        {fingerprint(f"e-{i}"): 52 + i // 11 for i in range(DEDUP_CEILING)},
    ],
)
def test_seen_round_trips_through_its_encoding(seen: dict[int, int]) -> None:
    encoded = orjson.loads(orjson.dumps(encode_seen(seen)))
    assert decode_seen(encoded) == seen
    assert list(decode_seen(encoded)) == list(seen)  # arrival order too


@pytest.mark.parametrize("text", ["not base64!", "AAAA"])
def test_a_damaged_seen_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="dedup ids"):
        decode_seen([0, text])


# --- bucket maps ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("buckets", "shape"),
    [
        ({}, "empty"),
        ({20_000: 0}, "run"),  # a bucket holding 0 stays present
        ({20_000 + d: 2500 + d for d in range(42)}, "run"),
        ({20_000: 1, 20_002: 5, 20_001: 3}, "run"),
        ({20_000: 1, 20_003: 1}, "run"),  # two present, two absent: still a run
        ({20_000: 1, 20_004: 1}, "pairs"),  # sparse: more absent than present
        ({20_000: 1, 20_002: 1}, "run"),  # one absent key: a run with a gap
        ({490_000: 1, 490_029: 1}, "pairs"),
        ({1: -5, 2: 3}, "pairs"),  # a negative value is not a varint
        ({24_310: 10**16, 24_311: 0}, "run"),  # the largest money, in cents
    ],
)
def test_bucket_maps_round_trip(buckets: dict[int, int], shape: str) -> None:
    packed = pack_int_map(buckets)
    kind = "empty" if not packed else "pairs" if isinstance(packed[0], list) else "run"
    assert kind == shape
    assert unpack_int_map(orjson.loads(orjson.dumps(packed))) == buckets


def test_a_truncated_run_is_refused() -> None:
    with pytest.raises(ValueError, match="inside a number"):
        unpack_int_map([1, "gA=="])  # 0x80: a varint that says more follows


# --- versions ---------------------------------------------------------------------------


#: A version-1 record as the previous codec wrote it: ids as text, maps as pairs.
V1_RECORD = orjson.dumps(
    {
        "v": 1,
        "first_day": 20458,
        "spend_since": 20458,
        "income_since": 24312,
        "watermark": 1767614400.5,
        "daily_spend": [[20458, 2000], [20459, 0], [20461, 150]],
        "monthly_income": [[24312, 300_000]],
        "counts": {"transaction": 3, "income_deposit": 1, "profile_update": 1},
        "last_seen": {"transaction": 1767614400.5, "income_deposit": 1767600000.0},
        "recent_ids": [_uuid(i) for i in range(256)],
        "last_fired": {"spending_spike": 1767614400.5},
        "evaluated": {"income_drop": 24311},
        "profile": {"first_name": "Ada", "consent": {"sms": False}},
        "sends": {"push": [1767614400.5]},
        "daily_sessions": [[20458, 2]],
        "hourly_page_views": [[490_990, 3]],
        "stress_level": 0.0,
        "stress_at": 1767600000.0,
        "partition": 3,
    }
)


def test_a_v1_record_is_read_with_its_ids_known() -> None:
    state = UserState.from_bytes(V1_RECORD)
    assert all(state.has_seen(_uuid(i)) for i in range(256))
    assert state.daily_spend == {20458: 2000, 20459: 0, 20461: 150}
    assert state.counts["profile_update"] == 1 and "profile_update" not in state.last_seen
    assert (state.stress_level, state.partition) == (0.0, 3)
    assert apply_event(state, transaction(USER, START, "1.00", event_id=_uuid(7))) is False


def test_a_v1_record_keeps_its_meaning_when_written_as_v3() -> None:
    state = UserState.from_bytes(V1_RECORD)
    rewritten = state.to_bytes()
    assert orjson.loads(rewritten)["v"] == 3
    again = UserState.from_bytes(rewritten)
    assert again == state  # every field, the dedup ids included
    v1 = orjson.loads(V1_RECORD)
    assert again.counts == v1["counts"] and again.last_seen == v1["last_seen"]
    assert again.last_fired == v1["last_fired"] and again.sends == v1["sends"]
    assert len(rewritten) < len(V1_RECORD) // 2


#: A version-2 record of a user who never spent, as the previous codec wrote it: no
#: ``spend_since`` (None), and a watermark later than every last-seen time it kept.
V2_RECORD = orjson.dumps(
    {
        "v": 2,
        "first_day": 20458,
        "watermark": 1767614400.5,
        "types": {"page_view": [4, 1767600000.0]},
        "weeks": [2923, "BQ=="],
    }
)


def test_a_v2_record_keeps_its_meaning() -> None:
    state = UserState.from_bytes(V2_RECORD)
    assert (state.first_day, state.spend_since, state.watermark) == (20458, None, 1767614400.5)
    assert state.last_seen == {"page_view": 1767600000.0} and state.counts == {"page_view": 4}
    assert UserState.from_bytes(state.to_bytes()) == state


@pytest.mark.parametrize(
    ("first_day", "spend_since", "watermark", "last_seen", "written"),
    [
        # spend_since is left out when it is first_day, written (null included) otherwise.
        (20458, 20458, 5.0, {"transaction": 5.0}, set()),
        (20458, None, 5.0, {"page_view": 5.0}, {"spend_since"}),
        (20458, 20460, 5.0, {"transaction": 5.0}, {"spend_since"}),
        (None, None, 0.0, {}, set()),
        # the watermark is left out when it is the latest last-seen time.
        (20458, 20458, 5.0, {"transaction": 2.0, "page_view": 5.0}, set()),
        (20458, 20458, 6.0, {"transaction": 2.0, "page_view": 5.0}, {"watermark"}),
        (20458, 20458, 6.0, {}, {"watermark"}),
    ],
)
def test_v3_leaves_out_what_the_record_gives(
    first_day: int | None,
    spend_since: int | None,
    watermark: float,
    last_seen: dict[str, float],
    written: set[str],
) -> None:
    state = UserState(
        first_day=first_day, spend_since=spend_since, watermark=watermark,
        last_seen=last_seen, counts=dict.fromkeys(last_seen, 1),
    )  # fmt: skip
    record = orjson.loads(state.to_bytes())
    assert {"spend_since", "watermark"} & set(record) == written
    assert UserState.from_bytes(state.to_bytes()) == state


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version 4"):
        UserState.from_bytes(b'{"v":4}')


def test_an_empty_record_is_only_its_version() -> None:
    assert UserState().to_bytes() == b'{"v":3}'
    assert UserState.from_bytes(b'{"v":3}') == UserState()
    assert UserState.from_bytes(b'{"v":2}') == UserState()


# --- size of a realistic user -----------------------------------------------------------


def _synthetic_user_records(events_at: tuple[int, ...]) -> dict[int, list[bytes]]:
    """Steady synthetic users' records after ``events_at`` events, via ``process``."""
    now = datetime(2026, 4, 1, tzinfo=UTC)
    people = make_population(6, seed=11, spike_share=0.0, income_drop_share=0.0)
    histories: dict[str, list[Event]] = defaultdict(list)
    for raw in population_events(people, now=now, history_days=100, seed=11):
        histories[raw["user_id"]].append(Event.model_validate(raw))
    definitions, catalogue = default_definitions(), default_catalogue()
    sizes: dict[int, list[bytes]] = defaultdict(list)
    for history in histories.values():
        state = UserState()
        for count, event in enumerate(history[: max(events_at)], start=1):
            process(state, event, definitions, catalogue, now=event.occurred_at,
                    max_event_age_seconds=2 * 86_400)  # fmt: skip
            if count in events_at:
                sizes[count].append(state.to_bytes())
                assert UserState.from_bytes(state.to_bytes()) == state
    return sizes


#: The record's keys for what issue 12 adds (sessions, scores...): its budget is 300 bytes
#: for a typical user, on top of the 1 KiB that issue 10 set for the rest.
ANALYTICS_KEYS = frozenset(
    {"vdays", "visits", "scores", "pattern", "segments", "etimes", "sequences"}
)


#: The record's keys for what issues 14 and 15 add (the alert recommender's figures, the
#: online models' state): each has a budget of its own.
RECOMMENDER_KEYS = frozenset({"alerts", "anomaly", "send_hours", "goal_progress"})


def _split(record: bytes) -> tuple[int, int]:
    """Return (bytes without the analytics keys, bytes they add) of an encoded record.

    The recommender's key is in neither: it has a budget of its own.
    """
    data = {k: v for k, v in orjson.loads(record).items() if k not in RECOMMENDER_KEYS}
    record = orjson.dumps(data)
    rest = {k: v for k, v in data.items() if k not in ANALYTICS_KEYS}
    return len(orjson.dumps(rest)), len(record) - len(orjson.dumps(rest))


def test_a_typical_user_stays_under_1_kib_after_200_events() -> None:
    # Steady users: ~7 events a day (card payments, sessions, page views, income), so
    # 200 events fill the 42 days of spend and sessions and the whole dedup window.
    sizes = _synthetic_user_records((20, 200))
    assert len(sizes[200]) == 6
    split = {count: [_split(record) for record in records] for count, records in sizes.items()}
    rest = {count: sorted(r for r, _ in pairs) for count, pairs in split.items()}
    added = {count: sorted(a for _, a in pairs) for count, pairs in split.items()}
    assert max(rest[20]) < 1024, rest
    assert rest[200][len(rest[200]) // 2] < 1024, rest  # the median user
    assert max(rest[200]) < 1100, rest
    assert added[200][len(added[200]) // 2] < 300, added  # issue 12's budget
    assert max(added[200]) < 300, added
    # Issue 14's budget: the alert recommender's running figures, a fixed size (two
    # bitmaps, a few numbers) however many debits the user makes.
    recommender = [len(orjson.dumps(orjson.loads(r)["alerts"])) for r in sizes[200]]
    assert max(recommender) < 160, recommender
    # Issue 15's: the debit anomaly model, a fixed size (eight hour bins, a few rates).
    # (These steady users get no message and set no goal: the send-time model's and the
    # goals' budgets, typical and worst, are in test_model_sizes.)
    anomaly = [len(orjson.dumps(orjson.loads(r)["anomaly"])) for r in sizes[200]]
    assert max(anomaly) < 120, anomaly
