"""The funnel and cohort reports' rows from the views' rows, without a database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sinks.reports.cohorts import cohort_report, columns
from sinks.reports.funnels import funnel_report


def step(number: int, reached: int, dropped: int = 0, completed: int = 0) -> dict:
    return {
        "step": number, "step_name": f"s{number}", "reached": reached, "dropped": dropped,
        "completed": completed, "median_seconds_from_previous": None,
        "p90_seconds_from_previous": None,
    }  # fmt: skip


def test_each_step_is_compared_with_the_one_before_and_with_the_first():
    rows = funnel_report([step(1, 10, dropped=2), step(2, 4), step(3, 0), step(4, 0)])
    assert [(r["from_previous"], r["from_first"]) for r in rows] == [
        (None, 1.0),
        (0.4, 0.4),
        (0.0, 0.0),
        (None, 0.0),  # nobody at step 3: no share of them
    ]
    assert [(r["drop_off"], r["drop_off_rate"]) for r in rows] == [
        (None, None),
        (6, 0.6),
        (4, 1.0),
        (0, None),
    ]
    assert funnel_report([]) == []


def test_a_cohort_row_has_a_share_per_week_and_none_for_weeks_not_come():
    monday = date(2025, 1, 6)
    retention = [
        {"cohort_week": monday, "weeks_since": w, "cohort_size": 4, "active_users": a,
         "retention": a / 4}
        for w, a in ((0, 4), (1, 1))
    ]  # fmt: skip
    value = [
        {"cohort_week": monday, "users": 4, "converted_users": 1, "converted_share": 0.25,
         "lifetime_value": Decimal("10"), "value_per_user": Decimal("2.5")},
        {"cohort_week": date(2024, 1, 1), "users": 9, "converted_users": 0,
         "converted_share": 0.0, "lifetime_value": Decimal(0), "value_per_user": Decimal(0)},
    ]  # fmt: skip
    (row,) = cohort_report(retention, value, weeks=2)  # a cohort without retention: none
    assert row == {
        "cohort_week": monday, "cohort_size": 4, "week_0": 1.0, "week_1": 0.25,
        "week_2": None, "active": [4, 1], "converted_users": 1, "converted_share": 0.25,
        "lifetime_value": Decimal("10"), "value_per_user": Decimal("2.5"),
    }  # fmt: skip
    assert [c.key for c in columns(2)][2:5] == ["week_0", "week_1", "week_2"]
