"""The settings object: every variable documented, secrets kept secret, env wins."""

from __future__ import annotations

import pytest

from schemas.settings import Settings
from tests.paths import ROOT

# The settings reference moved from the README to docs/settings.md (generated: make docs).
SETTINGS_PAGE = (ROOT / "docs" / "settings.md").read_text()
FIELDS = sorted(Settings.model_fields)


@pytest.mark.parametrize("name", FIELDS)
def test_every_setting_is_in_the_readme_table(name: str) -> None:
    assert f"| `NUDGE_{name.upper()}` |" in SETTINGS_PAGE


@pytest.mark.parametrize("name", FIELDS)
def test_every_setting_names_its_variable_in_its_docstring(name: str) -> None:
    description = Settings.model_fields[name].description or ""
    assert description.startswith(f"NUDGE_{name.upper()}:")


def test_environment_overrides_and_secrets_stay_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUDGE_PARTITIONS", "12")
    monkeypatch.setenv("NUDGE_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("NUDGE_KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("NUDGE_KAFKA_SASL_PASSWORD", "hunter2")
    monkeypatch.setenv("NUDGE_DATABASE_URL", "postgresql+psycopg://u:pw-secret@db/nudge")
    settings = Settings()
    assert settings.partitions == 12
    assert "hunter2" not in repr(settings) and "pw-secret" not in repr(settings)
    options = settings.kafka_client_options()
    assert options["sasl_plain_username"] == "svc"
    assert options["sasl_plain_password"] == "hunter2"
    assert options["ssl_context"] is None


def test_invalid_values_are_rejected_with_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUDGE_PARTITIONS", "0")
    with pytest.raises(ValueError, match="partitions"):
        Settings()


def test_a_worker_refuses_exactly_once_unless_told_it_is_unsafe() -> None:
    from streams.runtime.worker import run_worker

    with pytest.raises(SystemExit, match="exactly_once loses events"):
        run_worker(Settings(processing_guarantee="exactly_once", kafka_bootstrap="127.0.0.1:1"))
