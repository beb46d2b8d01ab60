"""``nudge triggers validate|apply|list|diff|pause`` against the real broker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from schemas.settings import Settings
from streams.cli.definitions import apply, diff, list_definitions, pause, validate
from streams.cli.templates import apply as apply_templates
from tests.paths import CATALOGUE_FILE

pytestmark = pytest.mark.integration


def one_definition(tmp_path: Path, name: str, **changes: object) -> Path:
    """A file with the shipped ``lease_renewal_window``, changed by ``changes``."""
    documents = yaml.safe_load(CATALOGUE_FILE.read_text("utf-8"))
    lease = next(d for d in documents if d["id"] == "lease_renewal_window")
    path = tmp_path / name
    path.write_text(yaml.safe_dump([{**lease, **changes}]), "utf-8")
    return path


def row(output: str, trigger: str) -> list[str]:
    return next(line.split() for line in output.splitlines() if line.startswith(trigger + " "))


def test_operators_validate_apply_diff_list_and_pause(
    make_settings: Callable[..., Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings()
    bad = one_definition(tmp_path, "bad.yaml", episode="lease_ends")
    assert validate([bad]) == 1
    assert "episode: unknown feature 'lease_ends'" in capsys.readouterr().out

    assert list_definitions(settings) == 0
    listed = capsys.readouterr().out
    assert row(listed, "lease_renewal_window")[:5] == [
        "lease_renewal_window", "active", "medium", "shipped", "every",
    ]  # fmt: skip
    assert row(listed, "spending_spike")[4] == "events"

    wider = one_definition(tmp_path, "wider.yaml", thresholds={
        "window_opens_days": 90, "window_closes_days": 30})  # fmt: skip
    assert diff(settings, [wider]) == 1  # would change the shipped definition
    assert "window_opens_days" in capsys.readouterr().out
    assert apply(settings, [wider]) == 0
    capsys.readouterr()
    assert diff(settings, [wider]) == 0  # now in force: nothing left to change

    assert pause(settings, "lease_renewal_window") == 0
    capsys.readouterr()
    assert list_definitions(settings) == 0
    paused = row(capsys.readouterr().out, "lease_renewal_window")
    assert paused[1:4] == ["paused", "medium", "topic"]
    assert "window_opens_days=90" in " ".join(paused)  # the applied threshold stayed


async def test_list_shows_a_refused_definition_with_its_reason_and_what_stays_in_force(
    make_settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    import orjson

    from schemas.topics import TRIGGERS_DEFINITIONS
    from tests.integration.harness import publish

    settings = make_settings()
    documents = yaml.safe_load(CATALOGUE_FILE.read_text("utf-8"))
    spike = next(d for d in documents if d["id"] == "spending_spike")
    condition = spike["condition"]
    for _ in range(250):
        condition = {"not": condition}
    hostile = orjson.dumps({**spike, "condition": condition})
    await publish(settings, TRIGGERS_DEFINITIONS, [(b"spending_spike", hostile)])
    await asyncio.to_thread(list_definitions, settings)
    listed = capsys.readouterr().out
    assert row(listed, "spending_spike")[1:4] == ["active", "medium", "shipped"]
    refused = [line for line in listed.splitlines() if line.startswith("refused ")]
    assert len(refused) == 1
    assert refused[0].startswith("refused  spending_spike: condition: nested deeper than 12")


def test_a_trigger_may_name_a_template_applied_live(
    make_settings: Callable[..., Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A new trigger names a message only applied on templates.definitions: validate (which
    # knows the shipped templates) refuses it and says why; apply refuses it until the
    # template is in force, then accepts it, and list shows it in force, not refused.
    settings = make_settings()
    documents = yaml.safe_load(CATALOGUE_FILE.read_text("utf-8"))
    lease = next(d for d in documents if d["id"] == "lease_renewal_window")
    channels = [{**lease["channels"][0], "template": "lease_digest.sms", "channel": "sms"}]
    trigger = one_definition(tmp_path, "digest.yaml", id="lease_digest", channels=channels)
    template = tmp_path / "lease_digest_template.yaml"
    template.write_text(
        yaml.safe_dump({"templates": {"lease_digest": {"version": 1, "sms": "Hi {{user_name}}"}}}),
        "utf-8",
    )
    assert validate([trigger]) == 1
    out = capsys.readouterr().out
    assert "no template lease_digest.sms (for sms) (shipped)" in out
    assert "apply also those applied live" in out
    assert apply(settings, [trigger]) == 1
    assert "no template lease_digest.sms (for sms) (shipped or applied)" in capsys.readouterr().out

    assert apply_templates(settings, [template]) == 0
    assert diff(settings, [trigger]) == 1
    assert "+ lease_digest" in capsys.readouterr().out
    assert apply(settings, [trigger]) == 0
    assert "applied  lease_digest" in capsys.readouterr().out
    assert list_definitions(settings) == 0
    listed = capsys.readouterr().out
    assert row(listed, "lease_digest")[:4] == ["lease_digest", "active", "medium", "topic"]
    assert "refused" not in listed
