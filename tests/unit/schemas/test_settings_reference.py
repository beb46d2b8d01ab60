"""docs/settings.md is generated from Settings, and kept equal to what it generates."""

from __future__ import annotations

import pytest
from pydantic.fields import FieldInfo

from schemas.settings import Settings
from schemas.settings_reference import (
    DOCS_PAGE,
    HIDDEN,
    description_cell,
    environment_variable,
    settings_markdown,
)

FIELDS = sorted(Settings.model_fields)


def test_the_settings_page_is_what_the_generator_writes() -> None:
    committed = DOCS_PAGE.read_text(encoding="utf-8") if DOCS_PAGE.exists() else ""
    assert committed == settings_markdown(), (
        "docs/settings.md differs from schemas/settings.py: run `make docs` and commit the page"
    )


@pytest.mark.parametrize("name", FIELDS)
def test_every_setting_has_a_row(name: str) -> None:
    variable = environment_variable(name, Settings.model_fields[name])
    rows = [
        line for line in settings_markdown().splitlines() if line.startswith(f"| `{variable}` |")
    ]
    assert len(rows) == 1
    # variable | type | default | meaning, each filled in
    cells = [cell.strip() for cell in rows[0].strip("|").split(" | ")]
    assert len(cells) == 4 and all(cells)


def test_secret_defaults_are_hidden() -> None:
    page = settings_markdown()
    default_url = Settings.model_fields["database_url"].default.get_secret_value()
    assert default_url not in page
    assert f"| `NUDGE_DATABASE_URL` | secret text | {HIDDEN} |" in page


def test_an_alias_names_the_variable() -> None:
    assert environment_variable("anything", FieldInfo(alias="OTHER_NAME")) == "OTHER_NAME"


def test_a_setting_without_a_description_is_refused() -> None:
    with pytest.raises(ValueError, match="NUDGE_NEW has no description"):
        description_cell("NUDGE_NEW", FieldInfo())


def test_the_variable_prefix_leaves_the_description() -> None:
    field = FieldInfo(description="NUDGE_X: a ``literal`` | a pipe.")
    assert description_cell("NUDGE_X", field) == "A `literal` \\| a pipe."
