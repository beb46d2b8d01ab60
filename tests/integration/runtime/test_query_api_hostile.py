"""The query API against hostile requests: a clear 4xx each, no 500, the worker unharmed.

Through a real worker, broker and PostgreSQL: odd ids (NUL, bytes that are not UTF-8,
a path climbing out, very long), limits that are not plain numbers (superscript and
other Unicode digits, thousands of digits, signs, exponents), headers that are not
a bearer token, methods the API has no view for. Afterwards the worker still
processes events and answers, and its log names none of the ids sent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from yarl import URL

from schemas.settings import Settings
from schemas.topics import BEHAVIOR_EVENTS
from tests.integration.harness import (
    caught_up,
    publish,
    wait_for_assignment,
)
from tests.integration.runtime.test_query_api import TOKEN, get, one_worker
from tests.integration.scenarios import as_messages, spend

pytestmark = pytest.mark.integration

USER = "hostile-probe-user"
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
#: Marks in every odd id sent, so the log can be searched for them.
MARK = "zqxmark"

BAD_LIMITS = ["²", "٣", "１２", "9" * 5000, "-1", "0", "+5", "1e3", " 5", "5 ", "0x10", "nan"]

ODD_IDS = [
    f"{MARK}%00nul",
    f"{MARK}%ED%A0%80surrogate",
    f"{MARK}%FF%FEbytes",
    f"..%2F..%2F{MARK}",
    f"{MARK}" + "x" * 6000,
    f"{MARK}%F0%9F%98%80emoji",
    f"{MARK}%0D%0Aheader",
]


def requests() -> list[tuple[str, str, dict[str, str]]]:
    """``(method, path, headers)`` of every hostile request; a good token unless said."""
    sent: list[tuple[str, str, dict[str, str]]] = []
    for limit in map(quote, BAD_LIMITS):  # percent-encoded: they arrive as written
        sent.append(("GET", f"/users/{USER}?decisions={limit}", {}))
        sent.append(("GET", f"/users/{USER}/why?trigger=spending_spike&limit={limit}", {}))
        sent.append(("GET", f"/reports/effectiveness?days={limit}", {}))
    for odd in ODD_IDS:
        sent += [
            ("GET", f"/users/{odd}", {}),
            ("GET", f"/users/{odd}/why?trigger={odd}", {}),
            ("GET", f"/users/{odd}/personalization", {}),
            ("GET", f"/segments/{odd}", {}),
            ("GET", f"/experiments/{odd}", {}),
            ("GET", f"/reports/{odd}", {}),
            ("GET", f"/reports/effectiveness?user={odd}", {}),
        ]
    for header in [
        "Bearer",
        "Bearer ",
        f"Bearer {TOKEN} extra",
        "Basic Zm9vOmJhcg==",
        "Bearer " + "é" * 40,
        "Bearer " + "t" * 7000,
        f"bearer {TOKEN}",
    ]:
        sent.append(("GET", f"/users/{USER}", {"Authorization": header}))
    for method in ["POST", "PUT", "DELETE", "PATCH"]:
        sent.append((method, f"/users/{USER}", {}))
    return sent  # fmt: skip


async def send(port: int, method: str, path: str, headers: dict[str, str]) -> int:
    """Send one request as written (no re-quoting); return its status."""
    given = {"Authorization": f"Bearer {TOKEN}", **headers}
    url = f"http://127.0.0.1:{port}{path}"
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, URL(url, encoded=True), headers=given,
                        data=b"\x00{not json" if method != "GET" else None) as response,
    ):  # fmt: skip
        await response.read()
        return response.status


async def test_hostile_requests_get_a_4xx_each_and_the_worker_goes_on(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings, port, worker = one_worker(
        make_settings, tmp_path, api_burst=10_000, api_rate_per_second=1e4
    )
    try:
        await wait_for_assignment(worker)
        await publish(settings, BEHAVIOR_EVENTS, as_messages([spend(USER, NOW, "40.00")]))
        await caught_up(settings, BEHAVIOR_EVENTS)
        statuses = {}
        for method, path, headers in requests():
            statuses[(method, path, str(headers))] = await send(port, method, path, headers)
        failed = {where[:2]: status for where, status in statuses.items() if status >= 500}
        assert not failed, failed
        # A report filtered by an odd user id is an (empty) answer; a lower-case scheme
        # is a bearer token all the same (RFC 7235); everything else is refused.
        answered = {where[:2] for where, status in statuses.items() if status == 200}
        assert {path for _, path in answered} == {
            f"/reports/effectiveness?user={odd}" for odd in ODD_IDS
        } | {f"/users/{USER}"}
        assert sum(1 for where in answered if where[1] == f"/users/{USER}") == 1
        assert worker.running(), "the worker died of a request"
        # Still processing and answering: a new event reaches the record.
        later = spend(USER, NOW + timedelta(minutes=1), "60.00")
        await publish(settings, BEHAVIOR_EVENTS, as_messages([later]))
        await caught_up(settings, BEHAVIOR_EVENTS)
        status, body, _ = await get(port, f"/users/{USER}")
        assert status == 200 and body["features"]["spend_week"] == pytest.approx(100.0)
        text = worker.log_text()
        assert "Traceback" not in text
        assert MARK not in text and USER not in text, "an id sent reached the log"
    finally:
        worker.stop()
