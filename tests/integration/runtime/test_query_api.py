"""The query API through two real workers, a sink and PostgreSQL.

Two workers split the partitions; every user's endpoints answer the same from either,
served by the worker that owns the user. ``why`` shows a cooldown suppression with the
numbers compared. Tokens, rate limits and the audit log are checked on the way.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from schemas.api import ROUTES, UserView, WhyView
from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS
from sinks.migrate import upgrade
from streams.runtime.api import FORWARD_TIMEOUT_SECONDS
from streams.runtime.processes import settings_env
from tests.integration.harness import (
    NudgeProcess,
    caught_up,
    free_port,
    publish,
    rows_when,
    wait_for_assignment,
    wait_until,
)
from tests.integration.scenarios import as_messages, ordered, spend, spiker

pytestmark = pytest.mark.integration

TOKEN = "support-token-0123456789"
USERS = [f"asker{n}-user" for n in range(8)]


async def get(port: int, path: str, token: str | None = TOKEN) -> tuple[int, Any, Any]:
    """GET ``path`` from the worker on ``port``: status, JSON body, headers."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}", headers=headers) as response,
    ):
        text = await response.text()
        body = json.loads(text) if response.content_type == "application/json" else text
        return response.status, body, response.headers


def two_workers(
    make_settings: Callable[..., Settings], tmp_path: Path, **changes: Any
) -> tuple[Settings, list[int], list[NudgeProcess]]:
    """Two workers of one app with the API on (not started), on a migrated database."""
    ports = [free_port(), free_port()]
    base: dict[str, Any] = {"api_tokens": f"support:{TOKEN}", **changes}
    settings = make_settings(**base)
    upgrade(settings)
    workers = [
        NudgeProcess(
            make_settings(**base, app_id=settings.app_id, topic_prefix=settings.topic_prefix,
                          web_port=port, data_dir=str(tmp_path / f"w{n}")),
            "worker", tmp_path / f"worker{n}.log",
        )
        for n, port in enumerate(ports)
    ]  # fmt: skip
    return settings, ports, workers


async def test_two_workers_answer_for_every_user_from_its_owner(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings, ports, workers = two_workers(make_settings, tmp_path, api_burst=500)
    sink = NudgeProcess(settings, "sink", tmp_path / "sink.log")
    now = datetime.now(UTC)
    histories = [spiker(user, now) for user in USERS]
    # A second spike, minutes after the first, inside the 7-day cooldown.
    again = [spend(user, now - timedelta(minutes=2), "450.00", f"{user}-again") for user in USERS]
    try:
        for worker in workers:
            worker.start()
        sink.start()
        for worker in workers:
            await wait_for_assignment(worker)
        await publish(settings, BEHAVIOR_EVENTS, as_messages(ordered(*histories)))
        await publish(settings, BEHAVIOR_EVENTS, as_messages(again))
        await caught_up(settings, BEHAVIOR_EVENTS)
        await rows_when(
            settings.database_url.get_secret_value(),
            "SELECT user_id FROM trigger_events WHERE trigger_id = 'spending_spike' "
            "AND reason = 'cooldown'",
            lambda rows: {row[0] for row in rows} == set(USERS),
        )

        await every_user_from_its_owner(ports)
        await why_shows_the_cooldown(ports, USERS[0])
        await guarded_and_documented(ports, USERS[0])
        await audited_without_user_ids(workers)
        await the_command_line_gives_the_same_answer(settings, ports, USERS[0])
    finally:
        for process in (*workers, sink):
            process.stop()


def one_worker(
    make_settings: Callable[..., Settings], tmp_path: Path, **changes: Any
) -> tuple[Settings, int, NudgeProcess]:
    """One worker with the API on, started, on a migrated database; and its web port."""
    port = free_port()
    settings = make_settings(api_tokens=f"support:{TOKEN}", web_port=port, **changes)
    upgrade(settings)
    return settings, port, NudgeProcess(settings, "worker", tmp_path / "worker.log").start()


async def test_a_caller_over_its_rate_is_told_when_to_come_back(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    _, port, worker = one_worker(make_settings, tmp_path, api_burst=3, api_rate_per_second=0.5)
    try:
        await wait_for_assignment(worker)
        statuses = [(await get(port, "/triggers"))[0] for _ in range(5)]
        assert statuses[:3] == [200, 200, 200]
        assert statuses[3:] == [429, 429]
        _, body, headers = await get(port, "/triggers")
        assert int(headers["Retry-After"]) >= 1
        assert body["status"] == 429
    finally:
        worker.stop()


async def every_user_from_its_owner(ports: list[int]) -> None:
    """Either worker answers for every user, with the owner's record; both own some."""
    owners: dict[str, str] = {}
    for user in USERS:
        answers = [await get(port, f"/users/{user}") for port in ports]
        for status, body, _ in answers:
            assert status == 200, body
        views = [UserView.model_validate(body) for _, body, _ in answers]
        # Either worker answers with the owner's live record: the same view.
        assert views[0].served_by == views[1].served_by
        assert views[0].partition == views[1].partition
        assert views[0].last_fired == views[1].last_fired
        assert "spending_spike" in views[0].last_fired
        assert views[0].baselines["spend_week_baseline"] == pytest.approx(350.0)
        assert views[0].recent_decisions is not None
        assert {d.trigger_id for d in views[0].recent_decisions} >= {"spending_spike"}
        owners[user] = views[0].served_by
    assert len(set(owners.values())) == 2, "both workers own some of the users"


async def why_shows_the_cooldown(ports: list[int], user: str) -> None:
    """The first spike fired; the second was suppressed by the cooldown, numbers shown."""
    # why: the first spike fired, the second was suppressed by the cooldown.
    for port in ports:
        status, body, _ = await get(port, f"/users/{user}/why?trigger=spending_spike")
        assert status == 200, body
        why = WhyView.model_validate(body)
        assert why.cooldown_days == 7
        assert why.last_fired_at is not None
        newest, older = why.evaluations[0], why.evaluations[1]
        assert (newest.decision.outcome, newest.decision.reason) == ("suppressed", "cooldown")
        assert "days from the last firing" in newest.decision.detail
        assert older.decision.outcome == "fired"
        spike = next(c for c in newest.comparisons if c.feature == "spend_week_change_pct")
        assert spike.threshold == 20
        assert spike.value is not None
        assert spike.value >= 20
        assert spike.holds is True


async def guarded_and_documented(ports: list[int], user: str) -> None:
    """Tokens, 404s, the OpenAPI document, the definitions, a report; no table browser."""
    # Auth, 404s, the OpenAPI document.
    status, body, headers = await get(ports[0], f"/users/{user}", token=None)
    assert status == 401
    assert headers["WWW-Authenticate"] == "Bearer"
    assert (await get(ports[0], f"/users/{user}", token="x" * 24))[0] == 401
    assert (await get(ports[0], "/users/nobody-at-all"))[0] in (404,)
    assert (await get(ports[1], f"/users/{user}/why?trigger=no_such"))[0] == 404
    status, document, _ = await get(ports[0], "/openapi.json")
    assert status == 200
    assert set(document["paths"]) == {route.path for route in ROUTES}
    status, triggers, _ = await get(ports[1], "/triggers")
    assert status == 200
    assert "spending_spike" in {t["id"] for t in triggers["triggers"]}
    status, report, _ = await get(ports[0], "/reports/effectiveness?days=7")
    assert status == 200
    assert report["report"] == "effectiveness"
    assert (await get(ports[0], "/reports/nonsense"))[0] == 404
    # Faust's own table browser would show any record to anyone: it is off.
    status, _, _ = await get(ports[0], f"/table/user_state/{user}/", token=None)
    assert status == 404


async def audited_without_user_ids(workers: list[NudgeProcess]) -> None:
    """One audit line per read of a user's data, naming the caller and no user."""

    # The audit log: one line per read of a user's data, naming no user.
    def audited() -> bool:
        lines = [e for w in workers for e in w.log_entries() if e.get("message") == "api read"]
        return len(lines) >= 2 * len(USERS) + 2

    await wait_until(audited, "audit lines")
    for worker in workers:
        text = worker.log_text()
        assert not any(u in text for u in USERS), "a user id reached a worker's log"
        for entry in worker.log_entries():
            if entry.get("message") == "api read":
                assert entry["caller"] == "support"
                assert len(entry["subject"]) == 24


async def the_command_line_gives_the_same_answer(
    settings: Settings, ports: list[int], user: str
) -> None:
    """``nudge why USER TRIGGER`` shows what the API shows (but the live last firing)."""
    command = [sys.executable, "-m", "streams.cli", "why", user, "spending_spike"]
    env = settings_env(settings)
    printed = await asyncio.to_thread(
        subprocess.run, [*command, "--json"], env=env, capture_output=True, text=True, check=True
    )
    answer = WhyView.model_validate_json(printed.stdout)
    _, body, _ = await get(ports[0], f"/users/{user}/why?trigger=spending_spike")
    from_api = WhyView.model_validate(body)
    assert answer.evaluations == from_api.evaluations
    assert answer.last_fired_at is None
    text = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, check=True
    )
    assert "suppressed (cooldown)" in text.stdout
    assert "spend_week_change_pct = " in text.stdout
    assert "-> holds" in text.stdout
    unknown = await asyncio.to_thread(
        subprocess.run, [*command[:-1], "no_such_trigger"], env=env, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert unknown.returncode == 2
    assert "no trigger 'no_such_trigger' in force" in unknown.stderr


async def test_with_the_database_away_a_user_still_answers_and_history_says_503(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    port = free_port()
    settings = make_settings(
        api_tokens=f"support:{TOKEN}", web_port=port,
        # Nothing listens there: every history read fails to connect.
        database_url="postgresql+psycopg://nobody@127.0.0.1:9/none",
    )  # fmt: skip
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    user = USERS[0]
    try:
        await wait_for_assignment(worker)
        await publish(settings, BEHAVIOR_EVENTS, as_messages(spiker(user, datetime.now(UTC))))
        await caught_up(settings, BEHAVIOR_EVENTS)
        status, body, _ = await get(port, f"/users/{user}")
        assert status == 200, body
        view = UserView.model_validate(body)
        assert "spending_spike" in view.last_fired  # the live record answers
        assert view.recent_decisions is None and view.recommendations is None
        for path in (f"/users/{user}/why?trigger=spending_spike", "/reports/effectiveness"):
            status, body, _ = await get(port, path)
            assert status == 503, body
            assert "database" in body["detail"]
        assert worker.running()  # a read that failed took nothing down
    finally:
        worker.stop()


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
async def test_when_the_owner_dies_the_other_worker_says_503_then_answers_with_its_record(
    make_settings: Callable[..., Settings], tmp_path: Path, store: str
) -> None:
    # The owner of a user is killed while the other worker is asked about that user: the
    # answer is 503 at once (never a hang, never an empty record), and once the partition
    # has moved and its records are restored, the survivor answers with the same record.
    settings, ports, workers = two_workers(
        make_settings, tmp_path, api_burst=10_000, session_timeout_seconds=6.0, store=store
    )
    now = datetime.now(UTC)
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            await wait_for_assignment(worker)
        histories = ordered(*(spiker(user, now) for user in USERS))
        await publish(settings, BEHAVIOR_EVENTS, as_messages(histories))
        await caught_up(settings, BEHAVIOR_EVENTS)
        views = {}
        for user in USERS:
            status, body, _ = await get(ports[0], f"/users/{user}")
            assert status == 200, body
            views[user] = UserView.model_validate(body)
        survivor = views[USERS[0]].served_by
        user = next(u for u in USERS if views[u].served_by != survivor)
        before = views[user]

        dies = next(
            n for n, p in enumerate(ports) if before.served_by.rstrip("/").endswith(f":{p}")
        )
        owner, asked = workers[dies], ports[1 - dies]
        owner.kill()
        began = asyncio.get_running_loop().time()
        status, body, _ = await get(asked, f"/users/{user}")
        assert status == 503, body
        assert asyncio.get_running_loop().time() - began < FORWARD_TIMEOUT_SECONDS + 2

        answers: list[tuple[int, Any]] = []

        async def answered() -> bool:
            status, body, _ = await get(asked, f"/users/{user}")
            answers.append((status, body))
            return status == 200

        await wait_until(answered, "the survivor to answer for the dead owner's user", 120)
        assert {status for status, _ in answers[:-1]} <= {503}, answers
        after = UserView.model_validate(answers[-1][1])
        assert after.served_by != before.served_by
        assert after.partition == before.partition
        assert after.last_fired == before.last_fired
        assert after.baselines == before.baselines
    finally:
        for process in workers:
            process.stop()
