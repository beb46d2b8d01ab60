"""How reports print: cells, aligned tables and JSON, without a database."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from schemas.settings import Settings
from sinks.reports.build import (
    BEHAVIOR,
    INTERVENTIONS,
    REPORTS,
    SEGMENT_DAYS,
    SEGMENTS,
    TEMPLATES,
    TRIGGERS,
    WINDOWS,
    Column,
    Report,
    Section,
    build,
    format_cell,
    render_json,
    render_table,
    render_text,
)
from sinks.reports.personalization import personalization_sections
from sinks.reports.users import USER_COLUMNS, user_sections
from streams.cli.main import build_parser

AT = datetime(2025, 6, 1, 14, 5, 9, tzinfo=timezone(timedelta(hours=2)))


@pytest.mark.parametrize(
    ("kind", "value", "shown"),
    [
        ("rate", 0.75, "75.0%"),
        ("rate", 2 / 3, "66.7%"),
        ("rate", 0.19994, "20.0%"),
        ("rate", 0.19949, "19.9%"),
        ("rate", 0.0, "0.0%"),
        ("rate", 1.0, "100.0%"),
        ("rate", None, "-"),
        ("prevented", None, "pending"),
        ("prevented", 0.25, "25.0%"),
        ("money", Decimal("10.5000"), "10.50"),
        ("money", Decimal("0"), "0.00"),
        ("money", None, "-"),
        ("count", 12, "12"),
        ("count", None, "-"),
        ("text", "spending_spike", "spending_spike"),
        ("text", None, ""),
    ],
)
def test_each_kind_of_cell_prints_as_people_read_it(kind, value, shown):
    assert format_cell(Column("x", "x", kind), value) == shown


COLUMNS = (Column("name", "name", "text"), Column("n", "count"), Column("r", "rate", "rate"))


def test_a_table_aligns_text_left_and_numbers_right():
    table = render_table(
        COLUMNS,
        [
            {"name": "a_long_trigger_name", "n": 5, "r": 0.5},
            {"name": "b", "n": 12345, "r": None},
        ],
    )
    assert table.splitlines() == [
        "name                 count   rate",
        "a_long_trigger_name      5  50.0%",
        "b                    12345      -",
    ]


def test_an_empty_window_says_so():
    assert render_table(COLUMNS, []) == "(nothing in this window)"


def report() -> Report:
    rows = [{"name": "spike", "n": 3, "r": 2 / 3, "value": Decimal("1.2500"), "extra": None}]
    return Report("effectiveness", 30, AT, (Section("triggers", "Triggers", COLUMNS, rows),))


def test_text_names_the_window_and_the_time_in_utc():
    lines = render_text(report()).splitlines()
    assert lines[0] == "Triggers, last 30 days (as of 2025-06-01 12:05 UTC)"
    assert lines[1] == "" and lines[2].split() == ["name", "count", "rate"]
    assert lines[3].split() == ["spike", "3", "66.7%"]


def test_json_keeps_every_column_with_exact_rates_and_money_as_text():
    document = json.loads(render_json(report()))
    assert document == {
        "report": "effectiveness",
        "window_days": 30,
        "generated_at": "2025-06-01T14:05:09+02:00",
        "triggers": [{"name": "spike", "n": 3, "r": 2 / 3, "value": "1.2500", "extra": None}],
    }


def test_sections_of_each_report():
    assert REPORTS == {
        "effectiveness": (TRIGGERS, TEMPLATES),
        "interventions": (INTERVENTIONS,),
        "behavior": (BEHAVIOR,),
        "segments": (SEGMENTS, SEGMENT_DAYS),
        "users": user_sections,
        "personalization": personalization_sections,
    }
    for query in (TRIGGERS, TEMPLATES, INTERVENTIONS, SEGMENTS, SEGMENT_DAYS):
        keys = [column.key for column in query.columns]
        assert query.columns[0].kind == "text" and len(set(keys)) == len(keys)
    assert INTERVENTIONS.columns[-1].kind == "prevented"


@pytest.mark.parametrize(
    "name", ["effectiveness", "interventions", "behavior", "segments", "users", "personalization"]
)
def test_the_command_line_offers_exactly_the_views_windows(name):
    parser = build_parser()
    args = parser.parse_args(["report", name])
    assert (args.command, args.action, args.days, args.json) == ("report", name, 30, False)
    for days in WINDOWS:
        assert parser.parse_args(["report", name, "--days", str(days), "--json"]).days == days
    with pytest.raises(SystemExit):
        parser.parse_args(["report", name, "--days", "14"])


def test_an_unknown_report_or_window_is_refused_before_any_database_work():
    settings = Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(ValueError, match="no report 'weekly'"):
        build(settings, "weekly", 7)
    with pytest.raises(ValueError, match="over 14 days"):
        build(settings, "effectiveness", 14)
    with pytest.raises(ValueError, match="the segments report has no --pattern"):
        build(settings, "segments", 7, "high_intent")


def test_only_the_users_report_takes_a_pattern():
    parser = build_parser()
    assert parser.parse_args(["report", "users"]).pattern is None
    args = parser.parse_args(["report", "users", "--pattern", "at_risk", "--days", "7"])
    assert (args.action, args.pattern, args.days) == ("users", "at_risk", 7)
    with pytest.raises(SystemExit):
        parser.parse_args(["report", "segments", "--pattern", "at_risk"])


def test_scores_times_and_lists_print_plainly_and_json_names_the_pattern():
    rows = [
        {
            "user_id": "ana",
            "engagement": 72.25,
            "interest": 0.0,
            "intent": 100.0,
            "conversion": 9.96,
            "segments": ["big_spenders", "window_shoppers"],
            "last_activity_at": datetime(2025, 6, 1, 14, 5, 9, tzinfo=timezone(timedelta(hours=2))),
        },
        {
            "user_id": "ben",
            "engagement": 1.0,
            "interest": 2.0,
            "intent": 3.0,
            "conversion": 4.0,
            "segments": [],
            "last_activity_at": None,
        },
    ]
    made = Report("users", 7, AT, (Section("users", "Users", USER_COLUMNS, rows),), "at_risk")
    lines = render_text(made).splitlines()
    assert lines[2].split() == [
        "user", "engagement", "interest", "intent", "conversion", "segments", "last", "activity"
    ]  # fmt: skip
    assert lines[3].split() == [
        "ana", "72.2", "0.0", "100.0", "10.0", "big_spenders,", "window_shoppers",
        "2025-06-01", "12:05",
    ]  # fmt: skip
    assert lines[4].split() == ["ben", "1.0", "2.0", "3.0", "4.0", "-"]
    document = json.loads(render_json(made))
    assert document["pattern"] == "at_risk"
    assert document["users"][0]["segments"] == ["big_spenders", "window_shoppers"]
    assert document["users"][0]["last_activity_at"] == "2025-06-01T14:05:09+02:00"
    assert "pattern" not in json.loads(render_json(report()))


def test_days_print_as_iso_dates_in_json_and_tables():
    rows = [{"segment_id": "window_shoppers", "day": date(2025, 6, 1), "joins": 3, "leaves": 1}]
    made = Report("segments", 7, AT, (Section("days", "Per day", SEGMENT_DAYS.columns, rows),))
    assert json.loads(render_json(made))["days"] == [
        {"segment_id": "window_shoppers", "day": "2025-06-01", "joins": 3, "leaves": 1}
    ]
    assert render_text(made).splitlines()[3].split() == ["window_shoppers", "2025-06-01", "3", "1"]


@pytest.mark.parametrize(
    ("kind", "value", "shown"),
    [
        ("points", 0.0712, "+7.1 pts"),
        ("points", -0.055, "-5.5 pts"),
        ("points", (-0.0041, 0.1468), "[-0.4 pts, +14.7 pts]"),
        ("change", 0.714, "+71.4%"),
        ("change", [-0.045, 2.076], "[-4.5%, +207.6%]"),
        ("change", None, "-"),
        ("pvalue", 0.03527, "0.0353"),
        ("pvalue", 0.00001, "<0.0001"),
        ("pvalue", 1.0, "1.0000"),
        ("flag", True, "yes"),
        ("flag", False, ""),
        ("flag", None, ""),
        ("seconds", 45.4, "45s"),
        ("seconds", 75.0, "1m 15s"),
        ("seconds", 3_600 * 3 + 60 * 20, "3h 20m"),
        ("seconds", 86_400 * 2 + 3_600 * 4, "2d 04h"),
        ("seconds", None, "-"),
    ],
)
def test_lifts_intervals_p_values_flags_and_durations_print_as_people_read_them(kind, value, shown):
    assert format_cell(Column("x", "x", kind), value) == shown


def test_a_report_without_a_window_says_so_and_names_what_it_was_asked_for():
    made = Report("funnel", None, AT, (Section("steps", "Funnel x", COLUMNS, []),),
                  options={"funnel_id": "x"})  # fmt: skip
    assert render_text(made).splitlines() == [
        "Funnel x (as of 2025-06-01 12:05 UTC)", "", "(nothing yet)",
    ]  # fmt: skip
    document = json.loads(render_json(made))
    assert document == {
        "report": "funnel", "generated_at": "2025-06-01T14:05:09+02:00", "funnel_id": "x",
        "steps": [],
    }  # fmt: skip


def test_the_unwindowed_reports_take_their_own_options():
    parser = build_parser()
    args = parser.parse_args(["report", "experiments"])
    assert (args.action, args.experiment, args.sequential, args.json) == (
        "experiments", None, False, False,
    )  # fmt: skip
    args = parser.parse_args(["report", "experiments", "--experiment", "x", "--sequential"])
    assert (args.experiment, args.sequential) == ("x", True)
    args = parser.parse_args(["report", "funnel", "onboarding", "--json"])
    assert (args.action, args.funnel_id, args.json) == ("funnel", "onboarding", True)
    assert parser.parse_args(["report", "cohorts"]).weeks == 8
    assert parser.parse_args(["report", "cohorts", "--weeks", "0"]).weeks == 0
    for refused in (
        ["report", "cohorts", "--weeks", "53"],
        ["report", "cohorts", "--weeks", "-1"],
        ["report", "cohorts", "--days", "7"],
        ["report", "funnel"],
        ["report", "experiments", "--days", "30"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(refused)
