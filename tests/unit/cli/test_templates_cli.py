"""``nudge templates validate`` and what ``apply`` makes of versions (no broker needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.templates import MessageTemplate
from streams.cli.main import main
from streams.cli.templates import validate, verdict
from tests.paths import ROOT

SHIPPED = ROOT / "streams" / "templates"


def write(tmp_path: Path, templates: dict[str, Any], **document: Any) -> Path:
    path = tmp_path / "templates.yaml"
    path.write_text(yaml.safe_dump({**document, "templates": templates}), "utf-8")
    return path


def test_the_shipped_files_validate_with_their_longest_sms(
    capsys: pytest.CaptureFixture[str],
) -> None:
    files = [SHIPPED / "catalogue.yaml", SHIPPED / "interventions.yaml"]
    assert main(["templates", "validate", *map(str, files)]) == 0
    out = capsys.readouterr().out
    assert "ok  spending_spike v2  (sms 153/160 at the longest)" in out
    assert "ok  flexible_payment_due v2  (sms 157/160 at the longest)" in out
    assert "ok  birthday_approaching v1\n" in out  # no SMS: nothing to measure


@pytest.mark.parametrize(
    ("templates", "document", "expected"),
    [
        (
            {"hello": {"version": 1, "sms": "Hi {{first_name}}"}},
            {},
            "hello: sms.body: unknown variable {{first_name}}",
        ),
        (
            {"hello": {"version": 1, "sms": "Hi {{user_name}}, " + "x" * 140}},
            {},
            "hello: sms.body: 165 characters with every variable at its longest "
            "(user_name 20); an SMS holds 160",
        ),
        ({"hello": {"version": 0, "sms": "Hi"}}, {}, "hello: version: Input should be greater"),
        ({"hello": {"sms": "Hi"}}, {}, "hello: version: Field required"),
        (
            {"hello": {"version": 1, "sms": "Hi"}},
            {"fallbacks": {"product": "a product name far too long"}},
            "fallbacks.product: 27 characters; at most 24",
        ),
    ],
)
def test_validate_fails_with_the_file_the_template_the_field_and_the_reason(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    templates: dict[str, Any],
    document: dict[str, Any],
    expected: str,
) -> None:
    path = write(tmp_path, templates, **document)
    assert validate([path]) == 1
    out = capsys.readouterr().out
    assert out.startswith("invalid message templates:\n")
    assert f"{path}: {expected}" in out


def test_validate_reports_unreadable_files_and_twice_defined_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = write(tmp_path, {"hello": {"version": 1, "sms": "Hi"}})
    two = tmp_path / "two.yaml"
    two.write_text(one.read_text("utf-8"), "utf-8")
    assert validate([one, two, tmp_path / "missing.yaml"]) == 1
    out = capsys.readouterr().out
    assert "missing.yaml: cannot be read" in out
    assert "all files: template 'hello' is defined twice" in out
    (tmp_path / "bad.yaml").write_text("templates: [", "utf-8")
    assert validate([tmp_path / "bad.yaml"]) == 1
    assert "not valid YAML" in capsys.readouterr().out


def message(version: int, sms: str = "Hi {{user_name}}", **channels: Any) -> MessageTemplate:
    return MessageTemplate.model_validate(
        {"id": "hello", "version": version, "sms": sms, **channels}
    )


@pytest.mark.parametrize(
    ("new", "old", "outcome", "reason"),
    [
        (message(1), None, "new", None),
        (message(2, "Hello {{user_name}}"), message(1), "newer", None),
        (message(5, "Hello"), message(1), "newer", None),  # versions may skip
        (message(1), message(1), "unchanged", None),  # re-applying is a no-op
        (
            message(1, "Hello {{user_name}}"),
            message(1),
            "refused",
            "version 1 is not above version 1 in force, and the wording differs",
        ),
        (message(1, "Hello"), message(3), "refused", "give version 4"),
        (message(3), message(3, push="p"), "refused", "drops channel push of version 3"),
    ],
)
def test_apply_publishes_only_a_higher_version_of_a_changed_wording(
    new: MessageTemplate, old: MessageTemplate | None, outcome: str, reason: str | None
) -> None:
    got, problems = verdict(new, old)
    assert got == outcome
    if reason is None:
        assert problems == []
    else:
        assert any(reason in problem for problem in problems), problems


def test_variables_lists_each_with_its_longest_value(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["templates", "variables"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "trigger templates:"
    assert any(line.split()[:3] == ["user_name", "20", "profile"] for line in lines)
    assert any(line.split()[:3] == ["spend_week", "17", "feature"] for line in lines)
    assert "intervention templates:" in lines
