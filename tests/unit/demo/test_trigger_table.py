"""The demo's per-trigger table: exact expectations, counts only, and what makes it fail."""

from __future__ import annotations

from streams.core.triggers.catalogue import default_definitions
from streams.demo.run import HEADER, trigger_rows

CATALOGUE = [d.id for d in default_definitions()]


def decisions(*rows: tuple[str, str, str | None, int]) -> list[dict[str, object]]:
    keys = ("trigger_id", "outcome", "reason", "count")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def test_rows_follow_the_catalogue_then_any_other_trigger_that_fired() -> None:
    rows = trigger_rows({}, {"hot_reloaded": {"u1"}}, [], {}, {})
    assert [r.trigger for r in rows] == [*CATALOGUE, "hot_reloaded"]
    kinds = {r.trigger: r.on for r in rows}
    assert kinds["spending_spike"] == "event" and kinds["birthday_approaching"] == "timer"
    assert kinds["hot_reloaded"] == "?"


def test_an_exact_expectation_fails_on_a_miss_or_an_extra_user() -> None:
    expected = {"spending_spike": {"a", "b"}, "income_drop": {"c"}, "skill_gap": set()}
    fired = {"spending_spike": {"a", "x"}, "income_drop": {"c"}}
    rows = {r.trigger: r for r in trigger_rows(expected, fired, [], {}, {})}
    spike = rows["spending_spike"]
    assert (spike.missed, spike.unexpected, spike.ok) == ({"b"}, {"x"}, False)
    assert rows["income_drop"].ok and rows["skill_gap"].ok  # nobody expected, nobody fired
    assert spike.line().split()[:6] == ["spending_spike", "event", "2", "2", "1", "1"]


def test_without_an_expectation_only_fired_users_are_shown_and_never_fail() -> None:
    rows = {r.trigger: r for r in trigger_rows({}, {"premium_upgrade": {"a", "b"}}, [], {}, {})}
    upgrade = rows["premium_upgrade"]
    assert upgrade.ok and upgrade.expected is None
    assert upgrade.line().split()[:6] == ["premium_upgrade", "event", "-", "2", "-", "-"]


def test_commands_sent_held_and_suppressions_by_reason() -> None:
    recorded = decisions(
        ("skill_gap", "fired", None, 1),
        ("skill_gap", "suppressed", "lower_priority", 2),
        ("skill_gap", "suppressed", "cooldown", 1),
        ("skill_gap", "suppressed", "cooldown", 3),
    )
    (row,) = [
        r
        for r in trigger_rows(
            {"skill_gap": {"a"}}, {"skill_gap": {"a"}}, recorded, {"skill_gap": 2}, {"skill_gap": 3}
        )  # fmt: skip
        if r.trigger == "skill_gap"
    ]
    assert (row.sent, row.held, row.suppressed) == (2, 1, {"lower_priority": 2, "cooldown": 4})
    assert row.line().endswith("2    1  cooldown 4, lower_priority 2")
    assert len(HEADER.split()) == 9


def test_every_line_fits_a_terminal() -> None:
    expected = {t: {f"user-{i}" for i in range(120)} for t in CATALOGUE}
    reasons = decisions(*((t, "suppressed", "lower_priority", 99) for t in CATALOGUE))
    rows = trigger_rows(expected, expected, reasons, dict.fromkeys(CATALOGUE, 360), {})
    assert max(len(line) for line in [HEADER, *(r.line() for r in rows)]) <= 100
