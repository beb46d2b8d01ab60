"""Alert recommendations through the broker, the running sink and ``nudge report recommendations``.

Recommendations, alert profiles and ``alert_rule`` events are published as the worker and
the app would; the sink stores them, the view ``recommendation_acceptance`` must equal the
acceptance counted here by hand, and publishing everything again changes no row and no
number.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from schemas.alerts import ALERT_RECOMMENDER
from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS
from sinks import recommendation_figures
from sinks.migrate import upgrade
from streams.cli.main import main
from tests.integration.harness import wait_until
from tests.integration.sink_harness import (
    alert_profile,
    alert_rule,
    offsets_caught_up,
    publish,
    publish_raw,
    query,
    recommendation,
    running_sink,
)

pytestmark = pytest.mark.integration

T = datetime(2025, 3, 3, 12, tzinfo=UTC)
DAY = timedelta(days=1)

#: Version 1 recommends new_merchant to ana (twice: two events answered), ben, cy, dee
#: and eve, and high_spender to gus; version 2 new_merchant to ana again and to fay.
RECOMMENDATIONS = [
    recommendation("ana", "new_merchant", 1, T),
    recommendation("ana", "new_merchant", 1, T + DAY),  # the same user: counted once
    recommendation("ben", "new_merchant", 1, T),
    recommendation("cy", "new_merchant", 1, T),
    recommendation("dee", "new_merchant", 1, T),
    recommendation("eve", "new_merchant", 1, T),
    recommendation("gus", "high_spender", 1, T),
    recommendation("ana", "new_merchant", 2, T + 3 * DAY),
    recommendation("fay", "new_merchant", 2, T + 3 * DAY),
]
#: ana accepts version 1's (2 days after it; before version 2's, so not that one); ben had
#: it on before it was recommended, and cy turned it on at the very time of the
#: recommendation (the event it answered); cy also turns another alert on; dee too late
#: (31 days), eve only disables it; gus accepts high_spender on day 30, at the window's
#: end; fay accepts version 2's the day after.
ACTIONS = [
    alert_rule("ana", "new_merchant", "enabled", T + 2 * DAY, "ana-1"),
    alert_rule("ben", "new_merchant", "created", T - DAY, "ben-1"),
    alert_rule("cy", "new_merchant", "created", T, "cy-1"),
    alert_rule("cy", "high_spender", "created", T + DAY, "cy-2"),
    alert_rule("dee", "new_merchant", "created", T + 31 * DAY, "dee-1"),
    alert_rule("eve", "new_merchant", "disabled", T + DAY, "eve-1"),
    alert_rule("gus", "high_spender", "enabled", T + 30 * DAY, "gus-1"),
    alert_rule("fay", "new_merchant", "created", T + 4 * DAY, "fay-1"),
]
#: ana's later profile is published before her older one: the later one stays.
PROFILES = [
    alert_profile("ana", T + 2 * DAY, "ana-1", ["new_merchant"]),
    alert_profile("ana", T, "ana-0"),
    alert_profile("ben", T - DAY, "ben-1", ["new_merchant"], features=None),
]

EXPECTED = [
    ("high_spender", 1, 1, 1, 1.0),
    ("new_merchant", 1, 5, 1, 0.2),
    ("new_merchant", 2, 2, 1, 0.5),
]


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    migrated = make_settings(sink_batch_size=4)  # several batches
    upgrade(migrated)
    return migrated


async def publish_everything(settings: Settings) -> None:
    await publish(settings, [*RECOMMENDATIONS, *PROFILES])
    await publish_raw(settings, BEHAVIOR_EVENTS, ACTIONS)


def report(settings: Settings, monkeypatch, capsys, *args: str) -> str:
    monkeypatch.setenv("NUDGE_DATABASE_URL", settings.database_url.get_secret_value())
    capsys.readouterr()
    assert main(["report", "recommendations", *args]) == 0
    return capsys.readouterr().out


def stored(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    return {
        table: query(settings, f"SELECT * FROM {table} ORDER BY 1, 2")  # noqa: S608
        for table in ("alert_recommendations", "alert_actions", "alert_profiles")
    }


def gauge(version: str, alert: str) -> float | None:
    labels = {"model": ALERT_RECOMMENDER, "version": version, "alert_type": alert}
    return REGISTRY.get_sample_value("nudge_recommendation_acceptance_rate", labels)


async def test_acceptance_equals_hand_counts_and_a_replay_changes_nothing(
    settings, monkeypatch, capsys
):
    monkeypatch.setattr(recommendation_figures, "REFRESH_SECONDS", 0.2)
    async with running_sink(settings):
        await publish_everything(settings)
        await wait_until(lambda: offsets_caught_up(settings), "the sink to commit everything")
        # The gauge: the view's acceptance rate per version and alert type, as stored.
        await wait_until(lambda: gauge("2", "new_merchant") == 0.5, "the acceptance gauge")
        assert (gauge("1", "new_merchant"), gauge("1", "high_spender")) == (0.2, 1.0)
    rows = stored(settings)
    assert len(rows["alert_recommendations"]) == len(RECOMMENDATIONS)
    assert len(rows["alert_actions"]) == len(ACTIONS)
    latest = {p["user_id"]: p for p in rows["alert_profiles"]}
    assert latest["ana"]["profile_id"] == PROFILES[0].profile_id
    assert latest["ana"]["enabled"] == ["new_merchant"]
    assert latest["ben"]["features"] is None

    view = query(
        settings,
        "SELECT * FROM recommendation_acceptance ORDER BY alert_type, model_version",
    )
    assert [
        (
            v["alert_type"],
            v["model_version"],
            v["recommended_users"],
            v["accepted_users"],
            v["acceptance_rate"],
        )
        for v in view
    ] == EXPECTED
    assert {v["model_name"] for v in view} == {ALERT_RECOMMENDER}
    assert (view[1]["first_recommended_at"], view[1]["last_recommended_at"]) == (T, T + DAY)

    document = json.loads(report(settings, monkeypatch, capsys, "--json"))
    assert (document["report"], document["acceptance_days"]) == ("recommendations", 30)
    acceptance = document["acceptance"]
    assert [
        (a["alert_type"], a["model_version"], a["recommended_users"], a["accepted_users"])
        for a in acceptance
    ] == [expected[:4] for expected in EXPECTED]
    assert [a["acceptance_rate"] for a in acceptance] == [1.0, 0.2, 0.5]
    assert acceptance[0]["change_from_previous"] is None
    assert acceptance[2]["change_from_previous"] == pytest.approx(0.3)
    assert acceptance[1]["last_recommended_at"] == (T + DAY).isoformat()

    lines = report(settings, monkeypatch, capsys).splitlines()
    assert lines[0].startswith("Alert recommendations accepted within 30 days (as of ")
    assert lines[2].split() == [
        "alert", "model", "version", "recommended", "accepted", "acceptance", "vs",
        "previous", "last", "recommended",
    ]  # fmt: skip
    assert lines[3].split() == [
        "high_spender", ALERT_RECOMMENDER, "1", "1", "1", "100.0%", "-", "2025-03-03", "12:00",
    ]  # fmt: skip
    assert lines[4].split() == [
        "new_merchant", ALERT_RECOMMENDER, "1", "5", "1", "20.0%", "-", "2025-03-04", "12:00",
    ]  # fmt: skip
    assert lines[5].split()[3:7] == ["2", "1", "50.0%", "+30.0"]

    async with running_sink(settings):
        await publish_everything(settings)
        await wait_until(lambda: offsets_caught_up(settings), "the sink to commit the replay")
    assert stored(settings) == rows
    assert json.loads(report(settings, monkeypatch, capsys, "--json"))["acceptance"] == acceptance


def test_the_report_on_an_empty_database_says_nothing_yet(settings, monkeypatch, capsys):
    lines = report(settings, monkeypatch, capsys).splitlines()
    assert lines[-1] == "(nothing yet)"
    assert json.loads(report(settings, monkeypatch, capsys, "--json"))["acceptance"] == []
