"""Every table is covered by erasure and by retention; the sink ignores erasure messages.

The tables come from the SQLAlchemy metadata, so a table added later that names a user
without erasure support, or that retention does not know, fails here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import Date, DateTime

from schemas.settings import SettingError, Settings
from schemas.topics import ALERTS_PROFILES, BEHAVIOR_EVENTS, COMMS_OUTCOMES
from sinks.erasure import NO_PERSONAL_DATA, USER_COLUMN, user_tables
from sinks.messages import DEAD_LETTERS, ConsumedMessage
from sinks.retention import AGE_COLUMN, DEFAULT_DAYS, NEVER_PURGED, cutoffs, retention_days
from sinks.rows import ROUTES
from sinks.tables import Base

NOW = datetime(2026, 6, 5, 12, tzinfo=UTC)
#: Column names that suggest a person: a table holding one must be erased by user.
PERSONAL = re.compile(r"user|customer|person|email|phone|first_name|last_name|address|\bip\b")
ALL_TABLES = set(Base.metadata.tables)


def test_every_table_is_erased_by_user_or_is_the_dead_letters_or_holds_no_personal_data() -> None:
    by_user = {table.name for table in user_tables()}
    assert by_user, "no table has a user_id column?"
    assert by_user.isdisjoint(NO_PERSONAL_DATA) and DEAD_LETTERS.name not in by_user
    assert by_user | {DEAD_LETTERS.name} | NO_PERSONAL_DATA == ALL_TABLES
    assert NO_PERSONAL_DATA <= ALL_TABLES  # no stale names


@pytest.mark.parametrize("name", sorted(ALL_TABLES))
def test_no_table_outside_erasure_has_a_column_that_names_a_person(name: str) -> None:
    table = Base.metadata.tables[name]
    if USER_COLUMN in table.columns:
        return  # its rows go whole
    suspicious = [column.name for column in table.columns if PERSONAL.search(column.name)]
    assert suspicious == [], f"{name}: erase these or say why they name no one"


def test_the_user_tables_are_the_ones_expected() -> None:
    """Named here so a reader sees the list; a new one must be added on purpose."""
    assert {table.name for table in user_tables()} == {
        "alert_actions", "alert_profiles", "alert_recommendations", "communications",
        "experiment_assignments", "experiment_conversions", "funnel_steps", "interventions",
        "missed_payments", "outcomes", "purchases", "score_history", "segment_changes",
        "trigger_events", "user_days",
    }  # fmt: skip


def test_every_table_has_an_age_and_a_default_retention_or_is_never_purged() -> None:
    assert set(AGE_COLUMN) | NEVER_PURGED == ALL_TABLES
    assert set(AGE_COLUMN).isdisjoint(NEVER_PURGED)
    assert set(DEFAULT_DAYS) == set(AGE_COLUMN)
    for name, column in AGE_COLUMN.items():
        assert isinstance(Base.metadata.tables[name].c[column].type, Date | DateTime), name


def test_the_setting_overrides_the_defaults_and_zero_keeps_a_table_whole() -> None:
    days = retention_days(Settings(retention_days="trigger_events=7,communications=0"))
    assert days["trigger_events"] == 7 and days["communications"] == 0
    assert days["dead_letters"] == DEFAULT_DAYS["dead_letters"]
    limits = cutoffs(days, NOW)
    assert "communications" not in limits and "user_days" not in limits
    assert limits["trigger_events"] == datetime(2026, 5, 29, 12, tzinfo=UTC)


@pytest.mark.parametrize("text", ["model_versions=30", "no_such_table=3"])
def test_the_setting_may_not_name_a_table_that_cannot_be_purged(text: str) -> None:
    with pytest.raises(SettingError, match="NUDGE_RETENTION_DAYS"):
        retention_days(Settings(retention_days=text))


REQUEST = orjson.dumps(
    {"control": "erasure_request", "erasure_id": "e-1", "user_id": "ada",
     "requested_at": "2026-06-05T11:00:00+00:00"}
)  # fmt: skip


@pytest.mark.parametrize("spec", [BEHAVIOR_EVENTS, COMMS_OUTCOMES])
def test_an_erasure_request_on_an_input_topic_makes_no_row_and_no_dead_letter(spec) -> None:
    source = ConsumedMessage(spec.name, 0, 7, b"ada", REQUEST)
    assert ROUTES[spec].rows(source, NOW) == ()


def test_a_tombstone_on_alert_profiles_makes_no_row_and_no_dead_letter() -> None:
    source = ConsumedMessage(ALERTS_PROFILES.name, 0, 7, b"ada", None)
    assert ROUTES[ALERTS_PROFILES].rows(source, NOW) == ()
