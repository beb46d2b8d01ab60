"""Outcomes and missed payments through the real broker and PostgreSQL, into command rows.

Outcomes (``comms.outcomes``) fill the outcome columns of their command's row whatever
order they arrive in; missed payments (``behavior.events``) fill ``missed_payment_at`` of
the interventions before them. Replays change nothing.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from schemas.ids import dead_letter_id
from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, COMMS_OUTCOMES
from sinks.linking import link
from sinks.migrate import upgrade
from sinks.rows import ROUTES, ConsumedMessage, Row
from sinks.writer import BatchWriter, create_sink_engine, insert_rows
from tests.integration.harness import wait_until
from tests.integration.sink_harness import (
    AT,
    communication,
    intervention,
    metric,
    offsets_caught_up,
    publish,
    publish_raw,
    query,
    rows,
    running_sink,
)

pytestmark = pytest.mark.integration

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    migrated = make_settings(sink_batch_size=50)
    upgrade(migrated)
    return migrated


# --- messages ---------------------------------------------------------------------------


def envelope(user: str, at: datetime, payload: dict[str, Any], event_id: str | None) -> bytes:
    return json.dumps(
        {
            "event_id": event_id or str(uuid.uuid4()),
            "user_id": user,
            "occurred_at": at.isoformat(),
            "source": "backend",
            "payload": payload,
        }
    ).encode()


def outcome(
    user: str,
    command_id: str,
    kind: str,
    at: datetime,
    *,
    event_id: str | None = None,
    value: str | None = None,
) -> tuple[bytes, bytes]:
    payload = {"type": "comms_outcome", "command_id": command_id, "outcome": kind}
    if value is not None:
        payload["value"] = value
    return user.encode(), envelope(user, at, payload, event_id)


def payment(
    user: str, status: str, at: datetime, event_id: str | None = None
) -> tuple[bytes, bytes]:
    payload = {"type": "payment", "status": status, "amount": "80.00", "due_date": "2025-03-01"}
    return user.encode(), envelope(user, at, payload, event_id)


def spend(user: str, at: datetime) -> tuple[bytes, bytes]:
    payload = {"type": "transaction", "amount": "12.00", "merchant": "missed", "category": "x"}
    return user.encode(), envelope(user, at, payload, None)


def column(settings: Settings, table: str, command_id: str, name: str) -> Any:
    found = query(settings, f"SELECT {name} FROM {table} WHERE command_id = '{command_id}'")  # noqa: S608
    return found[0][name] if found else None


def count(settings: Settings, table: str) -> int:
    return int(query(settings, f"SELECT count(*) AS n FROM {table}")[0]["n"])  # noqa: S608


def outcome_metrics(name: str) -> dict[str, float]:
    kinds: tuple[str, ...] = ("delivered", "opened", "clicked", "converted", "opted_out")
    kinds += ("accepted_offer", "engaged", "no_response", "replied")
    return {kind: metric(f"nudge_sink_{name}_total", outcome=kind) for kind in kinds}


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in after if after[k] != before[k]}


# --- tests ------------------------------------------------------------------------------


async def test_outcomes_fill_the_columns_of_their_commands_rows(settings):
    email, help_ = communication("ana", 1, "email"), intervention("ana", 2)
    applied_before = outcome_metrics("outcomes_applied")
    orphaned_before = outcome_metrics("outcomes_orphaned")
    async with running_sink(settings):
        await publish(settings, [email, help_])
        await wait_until(lambda: count(settings, "interventions") == 1, "the command rows")
        cid, hid = email.command_id, help_.command_id
        await publish_raw(
            settings,
            COMMS_OUTCOMES,
            [
                outcome("ana", cid, "delivered", AT + HOUR),
                outcome("ana", cid, "opened", AT + 2 * HOUR),
                outcome("ana", cid, "clicked", AT + 3 * HOUR),
                outcome("ana", cid, "converted", AT + 4 * HOUR, value="25.50"),
                outcome("ana", hid, "engaged", AT + 5 * HOUR),
                outcome("ana", hid, "accepted_offer", AT + 6 * HOUR),
            ],
        )
        await wait_until(
            lambda: column(settings, "interventions", hid, "response") == "accepted_offer",
            "the intervention's response",
        )
        await wait_until(lambda: offsets_caught_up(settings), "offsets past the outcomes")

    row = (await rows(settings, "communications", "command_id"))[cid]
    assert (row["delivered_at"], row["opened_at"], row["clicked_at"], row["converted_at"]) == (
        AT + HOUR,
        AT + 2 * HOUR,
        AT + 3 * HOUR,
        AT + 4 * HOUR,
    )
    assert row["conversion_value"] == Decimal("25.50")
    assert row["replied_at"] is None and row["opted_out_at"] is None
    help_row = (await rows(settings, "interventions", "command_id"))[hid]
    # Acceptance outranks the earlier engagement; responded_at is when it came.
    assert (help_row["response"], help_row["responded_at"]) == ("accepted_offer", AT + 6 * HOUR)
    assert help_row["missed_payment_at"] is None
    assert count(settings, "outcomes") == 6
    applied = delta(outcome_metrics("outcomes_applied"), applied_before)
    assert applied == {
        "delivered": 1,
        "opened": 1,
        "clicked": 1,
        "converted": 1,
        "engaged": 1,
        "accepted_offer": 1,
    }
    assert delta(outcome_metrics("outcomes_orphaned"), orphaned_before) == {}


async def test_an_outcome_that_overtakes_its_command_waits_for_it(settings):
    email, help_ = communication("ben", 1, "sms"), intervention("ben", 2)
    orphaned_before = outcome_metrics("outcomes_orphaned")
    matched_before = outcome_metrics("orphans_matched")
    async with running_sink(settings):
        await publish_raw(
            settings,
            COMMS_OUTCOMES,
            [
                outcome("ben", email.command_id, "opened", AT + HOUR),
                outcome("ben", email.command_id, "converted", AT + 2 * HOUR, value="9.99"),
                outcome("ben", help_.command_id, "no_response", AT + 3 * DAY),
            ],
        )
        await wait_until(lambda: count(settings, "outcomes") == 3, "the outcomes, stored")
        await wait_until(lambda: offsets_caught_up(settings), "offsets past the outcomes")
        assert count(settings, "communications") == 0
        orphaned = delta(outcome_metrics("outcomes_orphaned"), orphaned_before)
        assert orphaned == {"opened": 1, "converted": 1, "no_response": 1}

        await publish(settings, [email, help_])  # the commands, late
        await wait_until(
            lambda: (
                column(settings, "interventions", help_.command_id, "response") == "no_response"
            ),
            "the late intervention row to pick up its outcome",
        )
        await wait_until(
            lambda: (
                column(settings, "communications", email.command_id, "converted_at") is not None
            ),
            "the late communication row to pick up its outcomes",
        )

    row = (await rows(settings, "communications", "command_id"))[email.command_id]
    assert (row["opened_at"], row["converted_at"]) == (AT + HOUR, AT + 2 * HOUR)
    assert row["conversion_value"] == Decimal("9.99")
    matched = delta(outcome_metrics("orphans_matched"), matched_before)
    assert matched == {"opened": 1, "converted": 1, "no_response": 1}
    # The view the reports read agrees with the row.
    sql = f"SELECT * FROM command_outcomes WHERE command_id = '{email.command_id}'"  # noqa: S608
    (view,) = query(settings, sql)
    assert (view["opened_at"], view["outcomes"]) == (AT + HOUR, 2)


async def test_replays_and_late_earlier_outcomes_keep_the_first_time(settings):
    email = communication("cy", 1, "email")
    cid = email.command_id
    first = outcome("cy", cid, "opened", AT + 2 * HOUR, event_id="opened-at-2")
    async with running_sink(settings):
        await publish(settings, [email])
        await publish_raw(
            settings,
            COMMS_OUTCOMES,
            [first, outcome("cy", cid, "converted", AT + 5 * HOUR, event_id="conv-5", value="10")],
        )
        await wait_until(
            lambda: column(settings, "communications", cid, "converted_at") is not None,
            "the first outcomes applied",
        )
        duplicates_before = metric("nudge_sink_duplicates_total", table="outcomes")
        await publish_raw(
            settings,
            COMMS_OUTCOMES,
            [
                first,  # a replay
                outcome("cy", cid, "opened", AT + 3 * HOUR, event_id="opened-at-3"),
                outcome("cy", cid, "opened", AT + 1 * HOUR, event_id="opened-at-1"),  # earlier
                outcome("cy", cid, "converted", AT + 4 * HOUR, event_id="conv-4", value="7"),
                first,  # and again
            ],
        )
        await wait_until(lambda: count(settings, "outcomes") == 5, "the new outcomes")
        await wait_until(lambda: offsets_caught_up(settings), "offsets past everything")
        await wait_until(
            lambda: column(settings, "communications", cid, "opened_at") == AT + HOUR,
            "the earliest opening to win",
        )

    row = (await rows(settings, "communications", "command_id"))[cid]
    assert (row["opened_at"], row["converted_at"]) == (AT + HOUR, AT + 4 * HOUR)
    assert row["conversion_value"] == Decimal("7")  # the first conversion's value
    assert metric("nudge_sink_duplicates_total", table="outcomes") - duplicates_before == 2


async def test_unusable_outcomes_become_dead_letters_and_later_ones_still_apply(settings):
    email = communication("dee", 1, "email")
    topic = COMMS_OUTCOMES.full_name(settings.topic_prefix)
    bad_kind = outcome("dee", email.command_id, "opened", AT + HOUR)
    bad_kind = (bad_kind[0], bad_kind[1].replace(b'"opened"', b'"loved_it"'))
    async with running_sink(settings):
        await publish(settings, [email])
        sent = await publish_raw(
            settings,
            COMMS_OUTCOMES,
            [
                (b"dee", b"{not json"),
                bad_kind,
                (b"someone-else", outcome("dee", email.command_id, "opened", AT + HOUR)[1]),
            ],
        )
        await publish_raw(
            settings, COMMS_OUTCOMES, [outcome("dee", email.command_id, "clicked", AT + HOUR)]
        )
        await wait_until(
            lambda: column(settings, "communications", email.command_id, "clicked_at") == AT + HOUR,
            "the valid outcome applied",
        )
        await wait_until(lambda: offsets_caught_up(settings), "offsets past the bad messages")

    dead = await rows(settings, "dead_letters", "dead_letter_id")
    kinds = [dead[dead_letter_id(topic, m.partition, m.offset)]["kind"] for m in sent]
    assert kinds == ["not_json", "invalid", "key_mismatch"]
    letter = dead[dead_letter_id(topic, sent[1].partition, sent[1].offset)]
    assert base64.b64decode(letter["value"]) == bad_kind[1]
    assert "loved_it" not in letter["error"]
    assert metric("nudge_sink_invalid_messages_total", topic=topic) == 3
    assert count(settings, "outcomes") == 1
    assert column(settings, "communications", email.command_id, "opened_at") is None


async def test_missed_payments_from_behaviour_events_follow_up_interventions(settings):
    early, late = intervention("eve", 1), intervention("fay", 2)
    async with running_sink(settings):
        await publish(settings, [early])
        await wait_until(lambda: count(settings, "interventions") == 1, "the first intervention")
        busy = [spend("eve", AT + n * HOUR) for n in range(200)]
        await publish_raw(
            settings,
            BEHAVIOR_EVENTS,
            [
                *busy[:100],
                payment("eve", "due", AT + 9 * DAY),
                payment("eve", "paid", AT + 9 * DAY),
                payment("eve", "missed", AT + 10 * DAY, "eve-missed-10"),
                payment("eve", "missed", AT + 31 * DAY, "eve-missed-31"),  # after the 30 days
                payment("fay", "missed", AT + 5 * DAY, "fay-missed-5"),  # before fay's row
                payment("gus", "missed", AT + 5 * DAY, "gus-missed-5"),  # no intervention
                (b"gus", b'{"type": "payment", "status": "missed", oops'),
                *busy[100:],
            ],
        )
        await wait_until(lambda: count(settings, "missed_payments") == 4, "four missed payments")
        await wait_until(lambda: offsets_caught_up(settings), "offsets past every event")
        await publish(settings, [late])  # fay's intervention arrives after her missed payment
        await wait_until(
            lambda: (
                column(settings, "interventions", late.command_id, "missed_payment_at") is not None
            ),
            "the late intervention to pick up the missed payment",
        )

    helped = await rows(settings, "interventions", "command_id")
    assert helped[early.command_id]["missed_payment_at"] == AT + 10 * DAY
    assert helped[late.command_id]["missed_payment_at"] == AT + 5 * DAY
    stored = await rows(settings, "missed_payments", "event_id")
    assert set(stored) == {"eve-missed-10", "eve-missed-31", "fay-missed-5", "gus-missed-5"}
    assert stored["eve-missed-10"]["amount"] == Decimal("80.00")
    # Broken behaviour events are the worker's to dead-letter, not the sink's.
    assert count(settings, "dead_letters") == 0


def test_whichever_of_two_racing_sinks_commits_second_links_the_pair(settings):
    """Sink A stores a command while sink B stores its outcome; neither sees the other's row."""
    email = communication("hal", 1, "email")
    command = routed_row(email.model_dump_json().encode(), "comms.commands")
    key, value = outcome("hal", email.command_id, "opened", AT + HOUR)
    opened = routed_row(value, "comms.outcomes", key)
    engine = create_sink_engine(settings)
    try:
        with engine.connect() as sink_a:
            transaction = sink_a.begin()
            stored = insert_rows(sink_a, [command])  # not committed yet
            result_b = BatchWriter(engine).write([opened], AT)  # B commits and links: no row
            assert dict(result_b.links.orphaned) == {"opened": 1}
            transaction.commit()
        with engine.begin() as sink_a:  # A links after its own commit: it sees B's outcome
            links = link(sink_a, [command], stored.new_rows)
    finally:
        engine.dispose()
    assert dict(links.matched) == {"opened": 1}
    assert column(settings, "communications", email.command_id, "opened_at") == AT + HOUR


def routed_row(value: bytes, topic: str, key: bytes = b"hal") -> Row:
    spec = next(spec for spec in ROUTES if spec.name == topic)
    (row,) = ROUTES[spec].rows(ConsumedMessage(f"p.{topic}", 0, 0, key, value), AT + DAY)
    assert not row.rejected
    return row


async def test_two_users_reusing_an_event_id_both_get_their_rows(settings):
    """Event ids are unique per user only, as the worker deduplicates: no row hides another."""
    ivy, jon = intervention("ivy", 1), intervention("jon", 1)
    async with running_sink(settings):
        await publish(settings, [ivy, jon])
        await publish_raw(
            settings,
            COMMS_OUTCOMES,
            [
                outcome("ivy", ivy.command_id, "engaged", AT + HOUR, event_id="shared-outcome"),
                outcome("jon", jon.command_id, "opted_out", AT + HOUR, event_id="shared-outcome"),
            ],
        )
        await publish_raw(
            settings,
            BEHAVIOR_EVENTS,
            [
                payment("ivy", "missed", AT + 3 * DAY, "shared-missed"),
                payment("jon", "missed", AT + 4 * DAY, "shared-missed"),
            ],
        )
        await wait_until(lambda: offsets_caught_up(settings), "offsets past every message")
        await wait_until(
            lambda: (
                column(settings, "interventions", jon.command_id, "missed_payment_at") is not None
            ),
            "jon's intervention to pick up his missed payment",
        )

    stored = query(settings, "SELECT user_id, event_id, outcome FROM outcomes ORDER BY user_id")
    assert [(r["user_id"], r["event_id"], r["outcome"]) for r in stored] == [
        ("ivy", "shared-outcome", "engaged"),
        ("jon", "shared-outcome", "opted_out"),
    ]
    missed = query(settings, "SELECT user_id, occurred_at FROM missed_payments ORDER BY user_id")
    assert [(r["user_id"], r["occurred_at"]) for r in missed] == [
        ("ivy", AT + 3 * DAY),
        ("jon", AT + 4 * DAY),
    ]
    helped = await rows(settings, "interventions", "command_id")
    assert (helped[ivy.command_id]["response"], helped[jon.command_id]["response"]) == (
        "engaged",
        "opted_out",
    )
    assert helped[ivy.command_id]["missed_payment_at"] == AT + 3 * DAY
    assert helped[jon.command_id]["missed_payment_at"] == AT + 4 * DAY


def test_an_earlier_orphan_is_matched_though_another_user_reuses_its_event_id(settings):
    """Linking tells the batch's new outcomes from earlier ones by user and event id."""
    kim, lou = communication("kim", 1, "email"), communication("lou", 1, "email")
    kims = routed_row(
        outcome("kim", kim.command_id, "opened", AT + HOUR, event_id="e-1")[1],
        "comms.outcomes",
        b"kim",
    )
    lous = routed_row(
        outcome("lou", lou.command_id, "clicked", AT + HOUR, event_id="e-1")[1],
        "comms.outcomes",
        b"lou",
    )
    command = routed_row(kim.model_dump_json().encode(), "comms.commands")
    engine = create_sink_engine(settings)
    try:
        writer = BatchWriter(engine)
        assert dict(writer.write([kims], AT).links.orphaned) == {"opened": 1}
        later = writer.write([command, lous], AT)  # kim's command arrives with lou's outcome
    finally:
        engine.dispose()
    assert dict(later.links.matched) == {"opened": 1}
    assert dict(later.links.orphaned) == {"clicked": 1}
    assert column(settings, "communications", kim.command_id, "opened_at") == AT + HOUR
