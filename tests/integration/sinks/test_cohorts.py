"""Cohorts through the broker, the running sink and ``nudge report cohorts``.

Behaviour events (page views, purchases; one the worker would refuse), command outcomes
and an experiment conversion are published; the sink keeps each user's active UTC days
and the purchases; the report must equal the cohort table made here by hand, and
publishing everything again changes no row and no number.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS, COMMS_OUTCOMES
from sinks.migrate import upgrade
from streams.cli.main import main
from tests.integration.harness import wait_until
from tests.integration.sink_harness import (
    conversion,
    input_event,
    offsets_caught_up,
    publish,
    publish_raw,
    query,
    running_sink,
)

pytestmark = pytest.mark.integration

#: Mondays: the cohorts' weeks.
W1, W2, W3, W4 = (date(2025, 1, 6) + timedelta(weeks=n) for n in range(4))
PAGE_VIEW = {"type": "page_view", "path": "/home"}


def at(day: date, hour: int = 12, zone: timezone = UTC) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=zone)


def visit(user: str, day: date, n: int = 0, **kwargs: Any) -> tuple[bytes, bytes]:
    return input_event(user, at(day, **kwargs), PAGE_VIEW, f"{user}-{day}-{n}")


def purchase(user: str, day: date, amount: str) -> tuple[bytes, bytes]:
    payload = {"type": "purchase", "product_id": "plan", "amount": amount}
    return input_event(user, at(day), payload, f"{user}-{day}-purchase")


def outcome(user: str, day: date, kind: str, n: int, value: str | None = None):
    payload = {"type": "comms_outcome", "command_id": f"{user}-cmd", "outcome": kind}
    if value is not None:
        payload["value"] = value
    return input_event(user, at(day, hour=12 + n), payload, f"{user}-outcome-{n}")


#: Ana: first seen on W1's Monday, three visits that day, back in weeks 1 and 3, and a
#: purchase of 30. Ben: first on W1's Sunday, back on W2's Monday. Cy: W1 only, a command
#: converted at 20 (a second conversion report of the same command does not count twice).
#: Ben's command converted, reported first without a value, then with 7: 7 counts.
#: Fay: 00:30 on W2's Monday in UTC+1 is 23:30 on W1's Sunday in UTC: cohort W1. Dee: W2,
#: back in weeks 1 and 2, purchases of 10 and 15.50. Eve: W3, an experiment conversion.
#: A purchase with a negative amount is refused by the worker: no day, no purchase.
BEHAVIOR = [
    visit("ana", W1), visit("ana", W1, 1), visit("ana", W1, 2), visit("ana", W1 + timedelta(2)),
    visit("ana", W2 + timedelta(2)), purchase("ana", W2 + timedelta(2), "30.00"),
    visit("ana", W4 + timedelta(2)),
    visit("ben", W1 + timedelta(6)), visit("ben", W2),
    visit("cy", W1 + timedelta(1)),
    visit("fay", W2, hour=0, zone=timezone(timedelta(hours=1))),
    visit("dee", W2 + timedelta(1)), purchase("dee", W2 + timedelta(1), "10.00"),
    visit("dee", W3 + timedelta(1)), visit("dee", W4 + timedelta(1)),
    purchase("dee", W4 + timedelta(1), "15.50"),
    visit("eve", W3),
    purchase("ghost", W3, "-5.00"),
]  # fmt: skip
OUTCOMES = [
    outcome("cy", W1 + timedelta(1), "converted", 1, "20.00"),
    outcome("cy", W1 + timedelta(1), "converted", 2, "99.00"),
    outcome("ben", W2, "opened", 1),
    outcome("ben", W2, "converted", 2),
    outcome("ben", W2, "converted", 3, "7.00"),
]
CONVERSIONS = [conversion("tone_test", "friendly", "eve", "signup", at(W3))]

#: The cohort table by hand, weeks 0 to 2. W1: ana, ben, cy, fay (4): all in week 0; ana
#: and ben in week 1; nobody in week 2 (ana again in week 3); ana, ben and cy converted,
#: for 30 + 7 + 20. W2: dee, every week. W3: eve, week 0 only; week 2 has not come yet
#: (the newest activity is in W4).
EXPECTED = [
    {
        "cohort_week": W1.isoformat(), "cohort_size": 4,
        "week_0": 1.0, "week_1": 0.5, "week_2": 0.0, "active": [4, 2, 0],
        "converted_users": 3, "converted_share": 0.75,
        "lifetime_value": Decimal("57.00"), "value_per_user": Decimal("14.25"),
    },
    {
        "cohort_week": W2.isoformat(), "cohort_size": 1,
        "week_0": 1.0, "week_1": 1.0, "week_2": 1.0, "active": [1, 1, 1],
        "converted_users": 1, "converted_share": 1.0,
        "lifetime_value": Decimal("25.50"), "value_per_user": Decimal("25.50"),
    },
    {
        "cohort_week": W3.isoformat(), "cohort_size": 1,
        "week_0": 1.0, "week_1": 0.0, "week_2": None, "active": [1, 0],
        "converted_users": 1, "converted_share": 1.0,
        "lifetime_value": Decimal(0), "value_per_user": Decimal(0),
    },
]  # fmt: skip


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    migrated = make_settings(sink_batch_size=5)  # several batches: days fold across them
    upgrade(migrated)
    return migrated


async def publish_everything(settings: Settings) -> None:
    await publish_raw(settings, BEHAVIOR_EVENTS, BEHAVIOR)
    await publish_raw(settings, COMMS_OUTCOMES, OUTCOMES)
    await publish(settings, CONVERSIONS)


def report(settings: Settings, monkeypatch, capsys, *args: str) -> str:
    monkeypatch.setenv("NUDGE_DATABASE_URL", settings.database_url.get_secret_value())
    capsys.readouterr()
    assert main(["report", "cohorts", *args]) == 0
    return capsys.readouterr().out


def money(row: dict[str, Any]) -> dict[str, Any]:
    """A row of ``--json`` with its money (text there) as numbers."""
    return row | {key: Decimal(row[key]) for key in ("lifetime_value", "value_per_user")}


async def test_the_cohort_table_equals_hand_counts_and_a_replay_changes_nothing(
    settings, monkeypatch, capsys
):
    async with running_sink(settings):
        await publish_everything(settings)
        await wait_until(lambda: offsets_caught_up(settings), "the sink to commit everything")
    days = query(settings, "SELECT user_id, day FROM user_days ORDER BY user_id, day")
    assert [(d["user_id"], d["day"]) for d in days] == [
        ("ana", W1), ("ana", W1 + timedelta(2)), ("ana", W2 + timedelta(2)),
        ("ana", W4 + timedelta(2)),
        ("ben", W1 + timedelta(6)), ("ben", W2),
        ("cy", W1 + timedelta(1)),
        ("dee", W2 + timedelta(1)), ("dee", W3 + timedelta(1)), ("dee", W4 + timedelta(1)),
        ("eve", W3),
        ("fay", W1 + timedelta(6)),
    ]  # fmt: skip
    bought = query(settings, "SELECT user_id, amount, currency FROM purchases ORDER BY amount")
    assert [(p["user_id"], p["amount"]) for p in bought] == [
        ("dee", Decimal("10.0000")),
        ("dee", Decimal("15.5000")),
        ("ana", Decimal("30.0000")),
    ]

    document = json.loads(report(settings, monkeypatch, capsys, "--weeks", "2", "--json"))
    assert (document["report"], document["weeks"]) == ("cohorts", 2)
    assert [money(row) for row in document["cohorts"]] == EXPECTED
    lines = report(settings, monkeypatch, capsys, "--weeks", "2").splitlines()
    assert lines[0].startswith("Weekly cohorts (as of ")
    assert lines[2].split() == [
        "cohort", "(week", "of)", "users", "w0", "w1", "w2", "converted", "LTV", "per", "user",
    ]  # fmt: skip
    assert lines[3].split() == ["2025-01-06", "4", "100.0%", "50.0%", "0.0%", "75.0%", "14.25"]
    assert lines[5].split() == ["2025-01-20", "1", "100.0%", "0.0%", "-", "100.0%", "0.00"]
    longer = json.loads(report(settings, monkeypatch, capsys, "--json"))  # 8 weeks
    assert longer["cohorts"][0]["active"] == [4, 2, 0, 1]
    assert longer["cohorts"][0]["week_3"] == 0.25 and longer["cohorts"][0]["week_4"] is None

    async with running_sink(settings):
        await publish_everything(settings)
        await wait_until(lambda: offsets_caught_up(settings), "the sink to commit the replay")
    again = query(settings, "SELECT user_id, day FROM user_days ORDER BY user_id, day")
    assert again == days
    assert len(query(settings, "SELECT * FROM purchases")) == 3
    replayed = json.loads(report(settings, monkeypatch, capsys, "--weeks", "2", "--json"))
    assert replayed["cohorts"] == document["cohorts"]
