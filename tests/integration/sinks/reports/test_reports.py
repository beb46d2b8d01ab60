"""Effectiveness views and ``nudge report`` on the real PostgreSQL, from rows of known age.

Rows are inserted straight into the tables with times relative to now, far (an hour or
more) from every window's edge, so each expected count and rate is exact.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, insert, inspect, text
from sqlalchemy.pool import NullPool

from schemas.settings import Settings
from sinks.migrate import alembic_config, current, head, upgrade
from sinks.reports.build import build
from sinks.tables import (
    Base,
    Communication,
    Intervention,
    MissedPayment,
    OutcomeRow,
    ScoreHistoryRow,
    TriggerEvent,
)
from streams.cli.main import main

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
VIEWS = {
    "command_outcomes",
    "intervention_follow_ups",
    "trigger_effectiveness",
    "template_effectiveness",
    "intervention_effectiveness",
    "behavior_changes",
    "behavior_change_summary",
    "pattern_changes",
    "segment_members",
    "segment_sizes",
    "segment_change_days",
    "segment_summary",
    "user_analytics",
    "experiment_exposures",
    "experiment_arms",
    "funnel_step_summary",
    "user_cohorts",
    "cohort_retention",
    "cohort_value",
    "recommendation_acceptance",
}


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    upgrade(settings)
    created = create_engine(settings.database_url.get_secret_value(), poolclass=NullPool)
    yield created
    created.dispose()


# --- rows -------------------------------------------------------------------------------


def add(engine: Engine, model: type[Base], *rows: dict[str, Any]) -> None:
    with engine.begin() as connection:
        connection.execute(insert(Base.metadata.tables[model.__tablename__]), list(rows))


def decision(trigger: str, age: float, outcome: str = "fired") -> dict[str, Any]:
    return {
        "decision_id": str(uuid.uuid4()),
        "user_id": "u",
        "trigger_id": trigger,
        "outcome": outcome,
        "reason": None if outcome == "fired" else "cooldown",
        "detail": "",
        "source_event_id": None,
        "event_type": "transaction",
        "occurred_at": ago(age),
        "features": {},
        "command_ids": [],
    }


def message(
    trigger: str,
    age: float,
    template: str = "spike_email",
    version: int = 3,
    channel: str = "email",
) -> dict[str, Any]:
    return {
        "command_id": str(uuid.uuid4()),
        "decision_id": "d",
        "user_id": "u",
        "source_event_id": None,
        "trigger_id": trigger,
        "channel": channel,
        "template_id": template,
        "template_version": version,
        "subject": None,
        "body": "hi",
        "variables": {},
        "priority": "high",
        "send_at": ago(age),
        "reason": "because",
        "created_at": ago(age),
    }


def helped(kind: str, user: str, age: float) -> dict[str, Any]:
    return {
        "command_id": str(uuid.uuid4()),
        "decision_id": "d",
        "user_id": user,
        "source_event_id": None,
        "intervention_type": kind,
        "urgency": "high",
        "actions": ["call"],
        "timeline": "soon",
        "channels": ["email"],
        "messages": [],
        "risk_score": 0.7,
        "risk_level": "high",
        "trend": "increasing",
        "drivers": [],
        "created_at": ago(age),
    }


def result(row: dict[str, Any], kind: str, after: timedelta, value: str | None = None) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "command_id": row["command_id"],
        "user_id": row["user_id"],
        "outcome": kind,
        "channel": None,
        "value": None if value is None else Decimal(value),
        "occurred_at": row["created_at"] + after,
    }


def missed(user: str, age: float) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "user_id": user,
        "occurred_at": ago(age),
        "amount": Decimal("50"),
        "currency": "USD",
        "due_date": None,
        "account_kind": "loan",
    }


HOUR = timedelta(hours=1)


@pytest.fixture
def known(engine: Engine) -> Engine:
    """Decisions, messages and outcomes of two triggers, 2 to 120 days old."""
    add(
        engine,
        TriggerEvent,
        *(decision("spike", 2) for _ in range(3)),
        decision("spike", 2, "suppressed"),
        decision("spike", 20),
        decision("spike", 20, "suppressed"),
        *(decision("spike", 60) for _ in range(2)),
        *(decision("spike", 120) for _ in range(5)),
        decision("drop", 2, "suppressed"),
        decision("drop", 2, "suppressed"),
    )
    email_1, email_2 = message("spike", 2), message("spike", 2)
    sms_1, sms_2 = (message("spike", 2, "spike_sms", 1, "sms") for _ in range(2))
    email_20, old_email_60 = message("spike", 20), message("spike", 60, version=2)
    quiet_60, ancient = message("spike", 60, version=2), message("spike", 120)
    legacy = message("legacy", 5, "legacy_push", 1, "push")
    add(engine, Communication, email_1, email_2, sms_1, sms_2, email_20, old_email_60)
    add(engine, Communication, quiet_60, ancient, legacy)
    add(
        engine,
        OutcomeRow,
        result(email_1, "opened", HOUR),
        result(email_1, "opened", 2 * HOUR),  # opened twice: one engaged message
        result(email_1, "converted", 3 * HOUR, "10.50"),
        result(email_2, "delivered", HOUR),
        result(sms_1, "clicked", HOUR),
        result(email_20, "replied", HOUR),
        result(email_20, "opted_out", 2 * HOUR),
        result(old_email_60, "opened", HOUR),
        result(ancient, "converted", HOUR, "99"),  # outside every window
        result(message("spike", 1), "opened", HOUR),  # its command never arrived
    )
    return engine


@pytest.fixture
def interventions(engine: Engine) -> Engine:
    """Interventions 3 to 100 days old, their responses and the users' missed payments."""
    i1, i2 = helped("pa", "u1", 3), helped("pa", "u2", 20)
    i3, i4, i5 = helped("pa", "u3", 35), helped("pa", "u4", 45), helped("pa", "u5", 50)
    i6, i9 = helped("pa", "u8", 80), helped("pa", "u5", 85)
    i7, i8 = helped("pr", "u6", 100), helped("pr", "u7", 10)
    add(engine, Intervention, i1, i2, i3, i4, i5, i6, i7, i8, i9)
    add(
        engine,
        OutcomeRow,
        result(i1, "accepted_offer", HOUR),
        result(i2, "engaged", HOUR),
        result(i2, "opted_out", 2 * HOUR),
        result(i3, "no_response", 3 * timedelta(days=1)),
    )
    add(
        engine,
        MissedPayment,
        missed("u3", 25),  # 10 days after i3: a default
        missed("u4", 14),  # 31 days after i4: outside its follow-up
        missed("u4", 50),  # before i4
        missed("u8", 75),  # 5 days after i6
        missed("u5", 82),  # 3 days after i9 (u5's other intervention, i5, had none)
        missed("u1", 1),  # 2 days after i1, still in follow-up: not counted yet
    )
    return engine


def view(engine: Engine, name: str, days: int, *keys: str) -> dict[Any, dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(f"SELECT * FROM {name} WHERE window_days = :d"),  # noqa: S608
            {"d": days},
        ).mappings()
        return {
            tuple(row[k] for k in keys) if len(keys) > 1 else row[keys[0]]: dict(row)
            for row in rows
        }


def pick(row: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: row[name] for name in names}


COUNTS = ("fired", "suppressed", "sent", "engaged", "converted", "opted_out")
RATES = ("send_rate", "engagement_rate", "conversion_rate")


# --- effectiveness ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "counts", "rates", "value"),
    [
        (7, (3, 1, 4, 2, 1, 0), (3 / 4, 2 / 4, 1 / 4), "10.50"),
        (30, (4, 2, 5, 3, 1, 1), (4 / 6, 3 / 5, 1 / 5), "10.50"),
        (90, (6, 2, 7, 4, 1, 1), (6 / 8, 4 / 7, 1 / 7), "10.50"),
    ],
)
def test_trigger_effectiveness_counts_each_window(known, days, counts, rates, value):
    spike = view(known, "trigger_effectiveness", days, "trigger_id")["spike"]
    assert pick(spike, *COUNTS) == dict(zip(COUNTS, counts, strict=True))
    assert pick(spike, *RATES) == dict(zip(RATES, rates, strict=True))
    assert spike["conversion_value"] == Decimal(value)


def test_triggers_with_only_decisions_or_only_messages_have_no_rate_without_a_base(known):
    rows = view(known, "trigger_effectiveness", 7, "trigger_id")
    assert set(rows) == {"spike", "drop", "legacy"}
    drop, legacy = rows["drop"], rows["legacy"]
    assert pick(drop, "fired", "suppressed", "sent", "send_rate") == {
        "fired": 0,
        "suppressed": 2,
        "sent": 0,
        "send_rate": 0.0,
    }
    assert drop["engagement_rate"] is None and drop["conversion_value"] == 0
    assert (legacy["fired"], legacy["sent"], legacy["send_rate"]) == (0, 1, None)
    assert legacy["engagement_rate"] == 0.0


def test_template_effectiveness_splits_by_template_version_and_channel(known):
    keys = ("trigger_id", "template_id", "template_version", "channel")
    week = view(known, "template_effectiveness", 7, *keys)
    email, sms = week["spike", "spike_email", 3, "email"], week["spike", "spike_sms", 1, "sms"]
    assert pick(email, "sent", "delivered", "engaged", "converted") == {
        "sent": 2,
        "delivered": 1,
        "engaged": 1,
        "converted": 1,
    }
    assert pick(email, "delivery_rate", "engagement_rate", "conversion_rate") == {
        "delivery_rate": 0.5,
        "engagement_rate": 0.5,
        "conversion_rate": 0.5,
    }
    assert (sms["sent"], sms["engagement_rate"], sms["conversion_rate"]) == (2, 0.5, 0.0)
    month = view(known, "template_effectiveness", 30, *keys)
    assert ("spike", "spike_email", 2, "email") not in month
    v3 = month["spike", "spike_email", 3, "email"]
    assert (v3["sent"], v3["engaged"], v3["opted_out"], v3["opt_out_rate"]) == (3, 2, 1, 1 / 3)
    quarter = view(known, "template_effectiveness", 90, *keys)
    v2 = quarter["spike", "spike_email", 2, "email"]
    assert (v2["sent"], v2["engaged"], v2["engagement_rate"]) == (2, 1, 0.5)


def test_windows_include_and_exclude_by_age(engine):
    inside, outside = message("edge", 7 - 1 / 24), message("edge", 7 + 1 / 24)
    add(engine, TriggerEvent, decision("edge", 7 - 1 / 24), decision("edge", 7 + 1 / 24))
    add(engine, Communication, inside, outside)
    add(engine, Intervention, helped("edge", "x", 7 - 1 / 24), helped("edge", "y", 7 + 1 / 24))
    counts = {}
    for days in (7, 30):
        trigger = view(engine, "trigger_effectiveness", days, "trigger_id")["edge"]
        helps = view(engine, "intervention_effectiveness", days, "intervention_type")["edge"]
        counts[days] = (trigger["fired"], trigger["sent"], helps["interventions"])
    assert counts == {7: (1, 1, 1), 30: (2, 2, 2)}


# --- interventions ----------------------------------------------------------------------

HELP_COUNTS = ("interventions", "users", "responded", "accepted", "opted_out", "pending")
FOLLOW_UP = ("followed_up_users", "prevented_defaults", "prevented_default_rate")


@pytest.mark.parametrize(
    ("days", "counts", "rates", "follow_up"),
    [
        (7, (1, 1, 1, 1, 0, 1), (1.0, 1.0), (1, 0, 0.0)),
        (30, (2, 2, 2, 1, 1, 2), (1.0, 0.5), (3, 2, 2 / 3)),
        (90, (7, 6, 2, 1, 1, 2), (2 / 7, 1 / 7), (4, 1, 0.25)),
    ],
)
def test_intervention_effectiveness_and_prevented_defaults(
    interventions, days, counts, rates, follow_up
):
    pa = view(interventions, "intervention_effectiveness", days, "intervention_type")["pa"]
    assert pick(pa, *HELP_COUNTS) == dict(zip(HELP_COUNTS, counts, strict=True))
    assert (pa["response_rate"], pa["acceptance_rate"]) == rates
    assert pick(pa, *FOLLOW_UP) == dict(zip(FOLLOW_UP, follow_up, strict=True))


def test_prevented_defaults_are_pending_until_a_follow_up_ends(interventions):
    by_window = {
        days: view(interventions, "intervention_effectiveness", days, "intervention_type")
        for days in (7, 30, 90)
    }
    assert "pr" not in by_window[7]
    month, quarter = by_window[30]["pr"], by_window[90]["pr"]
    # Ten days after it, pr's only recent intervention is still in its follow-up.
    assert pick(month, "interventions", "pending", "followed_up_users") == {
        "interventions": 1,
        "pending": 1,
        "followed_up_users": 0,
    }
    assert month["prevented_default_rate"] is None and month["response_rate"] == 0.0
    # The 100-day-old one is outside the cohort but its follow-up ended 70 days ago.
    assert pick(quarter, "interventions", "followed_up_users", "prevented_default_rate") == {
        "interventions": 1,
        "followed_up_users": 1,
        "prevented_default_rate": 1.0,
    }


def test_follow_ups_find_the_first_missed_payment_within_30_days(interventions):
    with interventions.connect() as connection:
        found = connection.execute(
            text("SELECT user_id, created_at, missed_payment_at FROM intervention_follow_ups")
        ).all()
    first = {(user, round((NOW - at).days)): missed_at for user, at, missed_at in found}
    assert first[("u3", 35)] == ago(25) and first[("u8", 80)] == ago(75)
    assert first[("u4", 45)] is None and first[("u5", 50)] is None
    assert first[("u1", 3)] == ago(1)  # found, but its follow-up has not ended


# --- the command line -------------------------------------------------------------------


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("NUDGE_DATABASE_URL", settings.database_url.get_secret_value())
    return settings


def test_report_effectiveness_json_parses_and_carries_every_column(cli, known, capsys):
    assert main(["report", "effectiveness", "--days", "30", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["report"], document["window_days"]) == ("effectiveness", 30)
    assert datetime.fromisoformat(document["generated_at"]).tzinfo is not None
    triggers = {row["trigger_id"]: row for row in document["triggers"]}
    assert [row["trigger_id"] for row in document["triggers"]] == ["drop", "legacy", "spike"]
    assert pick(triggers["spike"], "fired", "sent", "engaged", "converted") == {
        "fired": 4,
        "sent": 5,
        "engaged": 3,
        "converted": 1,
    }
    assert triggers["spike"]["send_rate"] == 4 / 6 and triggers["spike"]["conversion_value"] == (
        "10.5000"
    )
    assert triggers["legacy"]["send_rate"] is None
    templates = document["templates"]
    assert {(t["template_id"], t["template_version"], t["channel"]) for t in templates} == {
        ("spike_email", 3, "email"),
        ("spike_sms", 1, "sms"),
        ("legacy_push", 1, "push"),
    }


def test_report_tables_are_aligned_and_readable(cli, known, capsys):
    assert main(["report", "effectiveness", "--days", "7"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("Triggers, last 7 days (as of ") and lines[0].endswith("UTC)")
    header = lines[2]
    assert header.split() == [
        "trigger", "fired", "suppressed", "send", "rate", "sent", "engaged", "engagement",
        "converted", "conversion", "value",
    ]  # fmt: skip
    table = lines[2:6]
    assert len({len(line) for line in table}) == 1  # numbers right-aligned to one width
    spike = next(line for line in table if line.startswith("spike"))
    assert spike.split() == ["spike", "3", "1", "75.0%", "4", "2", "50.0%", "1", "25.0%", "10.50"]
    legacy = next(line for line in table if line.startswith("legacy"))
    assert legacy.split()[3] == "-"  # no decisions: no send rate
    assert lines[6] == "" and lines[7].startswith("Templates and channels, last 7 days")


def test_report_interventions_shows_pending_and_prevented(cli, interventions, capsys):
    assert main(["report", "interventions", "--days", "30"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split() for line in lines[3:]}
    assert rows["pa"][-3:] == ["3", "2", "66.7%"]
    assert rows["pr"][-3:] == ["0", "0", "pending"]
    assert main(["report", "interventions", "--days", "90", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    (pr,) = [row for row in document["interventions"] if row["intervention_type"] == "pr"]
    assert pr["prevented_default_rate"] == 1.0


def test_report_on_an_unmigrated_database_says_what_to_do(database_url, monkeypatch, capsys):
    monkeypatch.setenv("NUDGE_DATABASE_URL", database_url)
    assert main(["report", "interventions"]) == 1
    assert "run `nudge db upgrade`" in capsys.readouterr().err


def test_reports_read_one_clock(known, settings):
    report = build(settings, "effectiveness", 90)
    assert [s.key for s in report.sections] == ["triggers", "templates"]
    assert abs(report.generated_at - datetime.now(UTC)) < timedelta(minutes=5)


# --- migrations -------------------------------------------------------------------------


def test_upgrading_from_0001_keeps_rows_and_adds_tables_and_views(settings, monkeypatch, capsys):
    upgrade(settings, "0001")
    raw = create_engine(settings.database_url.get_secret_value(), poolclass=NullPool)
    try:
        email = message("spike", 2)
        with raw.begin() as connection:
            connection.execute(insert(Base.metadata.tables["communications"]), [email])
        monkeypatch.setenv("NUDGE_DATABASE_URL", settings.database_url.get_secret_value())
        assert main(["db", "upgrade"]) == 0
        assert main(["db", "upgrade"]) == 0  # at head already: nothing to do
        assert capsys.readouterr().out.count("database: migrated to head") == 2
        assert current(settings) == head()
        with raw.connect() as connection:
            assert set(inspect(connection).get_view_names()) == VIEWS
            tables = set(inspect(connection).get_table_names())
            stored = connection.execute(text("SELECT command_id FROM communications")).scalars()
            assert list(stored) == [email["command_id"]]
            sent = connection.execute(
                text("SELECT sent FROM trigger_effectiveness WHERE window_days = 7")
            ).scalar_one()
        assert {"outcomes", "missed_payments"} <= tables and sent == 1

        with raw.begin() as connection:  # and back down, and up again
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")
        with raw.connect() as connection:
            assert inspect(connection).get_view_names() == []
            assert "outcomes" not in inspect(connection).get_table_names()
        upgrade(settings)
        assert current(settings) == head()
    finally:
        raw.dispose()


# --- personalization ---------------------------------------------------------------------


def snapshot(user: str, age: float, rule: str | None) -> dict[str, Any]:
    return {
        "snapshot_id": str(uuid.uuid4()), "user_id": user, "as_of": ago(age),
        "source_event_id": None, "engagement_score": 1.0, "interest_score": 1.0,
        "intent_score": 1.0, "conversion_probability": 1.0, "pattern": "high_intent",
        "segments": [], "sessions_7d": 1, "sessions_30d": 1, "avg_session_minutes": None,
        "pages_per_session": None, "time_spent_minutes_7d": 1.0, "days_active_14d": 1,
        "last_activity_at": ago(age), "personalization": rule,
    }  # fmt: skip


def test_personalization_report_counts_matched_users_and_what_each_rule_s_messages_did(
    engine: Engine, settings: Settings
) -> None:
    # Ana and Ben are matched by finish_application now (Ana's older snapshot named
    # win_back: only the latest counts); Cy by win_back, but quiet for 40 days.
    add(
        engine,
        ScoreHistoryRow,
        snapshot("ana", 5, "win_back"), snapshot("ana", 1, "finish_application"),
        snapshot("ben", 2, "finish_application"), snapshot("cy", 40, "win_back"),
    )  # fmt: skip
    used = {"personalization.offer": "x", "personalization.rule": "finish_application"}
    opened, converted, ignored = (
        message("high_intent_follow_up", 1) | {"variables": used} for _ in range(3)
    )
    plain = message("high_intent_follow_up", 1)  # a message that used no rule
    old = message("high_intent_follow_up", 50) | {"variables": used}
    add(engine, Communication, opened, converted, ignored, plain, old)
    add(
        engine,
        OutcomeRow,
        result(opened, "opened", timedelta(hours=1)),
        result(converted, "clicked", timedelta(hours=1)),
        result(converted, "converted", timedelta(hours=2), "120.50"),
    )
    rows = {r["rule_id"]: r for r in build(settings, "personalization", 30).sections[0].rows}
    assert set(rows) == {"finish_application"}  # Cy: not active in 30 days; win_back sent none
    assert pick(rows["finish_application"], "matched", "sent", "engaged", "converted") == {
        "matched": 2, "sent": 3, "engaged": 2, "converted": 1,
    }  # fmt: skip
    assert rows["finish_application"]["conversion_value"] == Decimal("120.50")
    ninety = {r["rule_id"]: r for r in build(settings, "personalization", 90).sections[0].rows}
    assert ninety["win_back"]["matched"] == 1 and ninety["finish_application"]["sent"] == 4
