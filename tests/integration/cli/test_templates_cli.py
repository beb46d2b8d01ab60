"""``nudge templates apply|list|diff`` against the real broker: versions as users expect."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from schemas.settings import Settings
from schemas.topics import TEMPLATES_DEFINITIONS
from streams.cli.templates import apply, diff, list_templates
from tests.integration.harness import publish
from tests.paths import ROOT

pytestmark = pytest.mark.integration

SHIPPED = yaml.safe_load((ROOT / "streams/templates/catalogue.yaml").read_text("utf-8"))


def lease(tmp_path: Path, name: str, **changes: Any) -> Path:
    """A file with the shipped ``lease_renewal_window`` (version 1), changed by ``changes``."""
    message = {**SHIPPED["templates"]["lease_renewal_window"], **changes}
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"templates": {"lease_renewal_window": message}}), "utf-8")
    return path


def row(output: str, message_id: str) -> list[str]:
    return next(line.split() for line in output.splitlines() if line.startswith(message_id + " "))


def test_apply_list_and_diff_follow_the_versions(
    make_settings: Callable[..., Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings()
    assert list_templates(settings) == 0
    assert row(capsys.readouterr().out, "lease_renewal_window")[:3] == [
        "lease_renewal_window", "1", "shipped",
    ]  # fmt: skip

    # The shipped file itself: every template is the version in force, nothing to do.
    assert apply(settings, [ROOT / "streams/templates/catalogue.yaml"]) == 0
    assert "unchanged  lease_renewal_window v1" in capsys.readouterr().out

    # New wording under the version in force: refused, nothing published.
    same = lease(tmp_path, "same.yaml", sms="Hi {{user_name}}, your lease ends {{lease_end}}.")
    assert diff(settings, [same]) == 1
    assert "would be refused" in capsys.readouterr().out
    assert apply(settings, [same]) == 1
    out = capsys.readouterr().out
    assert out.startswith("refused; nothing applied:")
    assert "give version 2" in out

    newer = lease(
        tmp_path, "newer.yaml", version=2, sms="Hi {{user_name}}, lease ends {{lease_end}}."
    )
    assert diff(settings, [newer]) == 1
    out = capsys.readouterr().out
    assert "~ lease_renewal_window: version: 1 -> 2" in out
    assert "~ lease_renewal_window: sms.body:" in out
    assert apply(settings, [newer]) == 0
    assert "applied    lease_renewal_window v2" in capsys.readouterr().out
    assert diff(settings, [newer]) == 0  # in force now
    capsys.readouterr()
    assert apply(settings, [newer]) == 0  # re-applying is a no-op
    assert "unchanged  lease_renewal_window v2" in capsys.readouterr().out

    assert list_templates(settings) == 0
    assert row(capsys.readouterr().out, "lease_renewal_window")[:3] == [
        "lease_renewal_window", "2", "topic",
    ]  # fmt: skip


async def test_list_shows_refused_and_superseded_entries(
    make_settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    settings = make_settings()
    spike = {"id": "spending_spike", **SHIPPED["templates"]["spending_spike"]}
    bad = orjson.dumps({**spike, "version": 9, "sms": "Hi {{nickname}}"})
    old = orjson.dumps({**spike, "id": "income_drop", "version": 1})  # shipped is v2
    await publish(
        settings, TEMPLATES_DEFINITIONS, [(b"spending_spike", bad), (b"income_drop", old)]
    )
    assert await asyncio.to_thread(list_templates, settings) == 0
    out = capsys.readouterr().out
    assert row(out, "spending_spike")[:3] == ["spending_spike", "2", "shipped"]
    assert "refused     spending_spike: sms.body: unknown variable {{nickname}}" in out
    assert "superseded  income_drop: the shipped version is newer" in out
