"""``nudge experiments validate|apply`` against the real broker: what is in force counts."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from schemas.settings import Settings
from streams.cli.experiments import run
from streams.cli.templates import apply as apply_templates

pytestmark = pytest.mark.integration


def experiments_file(tmp_path: Path) -> Path:
    """An experiment whose arm words the lease SMS with a template only applied live."""
    path = tmp_path / "experiments.yaml"
    experiment = {
        "id": "lease_short_sms",
        "name": "Is a shorter lease SMS better?",
        "trigger": "lease_renewal_window",
        "varies": "template",
        "variants": [
            {"id": "control", "control": True},
            {"id": "short", "templates": {"sms": "lease_short.sms"}},
        ],
        "metrics": [{"name": "renewal", "events": ["purchase"], "window": "7d"}],
    }
    path.write_text(yaml.safe_dump({"experiments": [experiment]}), "utf-8")
    return path


def test_apply_checks_templates_in_force_and_validate_the_shipped_ones(
    make_settings: Callable[..., Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings()
    file = experiments_file(tmp_path)
    template = tmp_path / "lease_short.yaml"
    template.write_text(
        yaml.safe_dump({"templates": {"lease_short": {"version": 1, "sms": "Lease ends soon"}}}),
        "utf-8",
    )

    def experiments(action: str) -> int:
        return run(settings, argparse.Namespace(action=action, file=file))

    # Not applied yet: both refuse the arm's template, and apply publishes nothing.
    assert experiments("validate") == 1
    assert "short: unknown template 'lease_short.sms'" in capsys.readouterr().out
    assert experiments("apply") == 1
    assert "short: unknown template 'lease_short.sms'" in capsys.readouterr().out
    assert experiments("list") == 0
    assert "lease_short_sms" not in capsys.readouterr().out

    # Applied live: apply accepts it and the workers' view lists it; validate, which is
    # offline, still knows only the shipped templates.
    assert apply_templates(settings, [template]) == 0
    capsys.readouterr()
    assert experiments("apply") == 0
    assert "applied 1 experiments" in capsys.readouterr().out
    assert experiments("list") == 0
    assert "lease_short_sms" in capsys.readouterr().out
    assert experiments("validate") == 1
