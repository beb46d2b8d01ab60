"""The settings reference, ``docs/settings.md``, generated from ``Settings``.

The page is never edited by hand: ``python -m schemas.settings_reference`` (``make docs``)
writes it from the fields of :class:`schemas.settings.Settings` (variable, type, default
and the field's docstring), and ``tests/unit/test_settings_reference.py`` fails when the
committed page differs from what this module generates.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from schemas.settings import Settings

__all__ = [
    "DOCS_PAGE",
    "HEADER",
    "HIDDEN",
    "description_cell",
    "environment_variable",
    "main",
    "settings_markdown",
    "settings_rows",
]

#: Where the page lives in the repository.
DOCS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "settings.md"

#: Shown instead of a secret's default: the page is public, a default password is not.
HIDDEN = "hidden (secret)"

#: The text above the table.
HEADER = """\
# Settings

<!-- Generated from schemas/settings.py by `make docs`; do not edit by hand. -->

Every process reads one settings object, `Settings` in `schemas/settings.py`, from
environment variables; nothing else reads its configuration from the environment. A
variable is `NUDGE_` followed by the field's name in capitals. Locally the Kafka and
database addresses come from `.run/kafka.env` and `.run/postgres.env`, written by
`make kafka-up` and `make db-up`; a real environment variable always wins over them. A
value outside its type or range stops the process at start-up with the field's name.
Secrets are never logged, and their defaults are not shown here.

"""

_TYPE_NAMES: dict[Any, str] = {
    str: "text",
    int: "integer",
    float: "number",
    bool: "`true` or `false`",
    Path: "path",
    SecretStr: "secret text",
}

#: reStructuredText inline literals (``x``) in docstrings; Markdown uses single backticks.
_RST_LITERAL = re.compile(r"``(.+?)``")


def environment_variable(name: str, field: FieldInfo) -> str:
    """Return the environment variable a field is read from.

    Args:
        name: The field's name on ``Settings``.
        field: Its pydantic field information.
    """
    alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
    if alias:
        return alias
    return f"{Settings.model_config.get('env_prefix', '')}{name}".upper()


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in get_args(annotation))
    if origin in (Union, types.UnionType):
        # ``X | None``: the default column says "unset"; the type is X's.
        present = [arg for arg in get_args(annotation) if arg is not type(None)]
        return " or ".join(_type_name(arg) for arg in present)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "one of " + ", ".join(f"`{member.value}`" for member in annotation)
    return _TYPE_NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _bounds(field: FieldInfo) -> str:
    """Return a field's constraints (``ge``, ``le``, lengths, ...) in words, or ``""``."""
    limits: dict[str, Any] = {}
    for constraint in field.metadata:
        for attribute in ("ge", "gt", "le", "lt", "min_length", "max_length"):
            value = getattr(constraint, attribute, None)
            if value is not None:
                limits[attribute] = value
    parts: list[str] = []
    if "ge" in limits and "le" in limits:
        parts.append(f"from {_number(limits['ge'])} to {_number(limits['le'])}")
    else:
        for attribute, symbol in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if attribute in limits:
                parts.append(f"{symbol} {_number(limits[attribute])}")
    if "min_length" in limits or "max_length" in limits:
        low, high = limits.get("min_length", 0), limits.get("max_length")
        parts.append(f"{low} to {high} characters" if high else f"at least {low} characters")
    return ", ".join(parts)


def _type_cell(field: FieldInfo) -> str:
    bounds = _bounds(field)
    kind = _type_name(field.annotation)
    return f"{kind}, {bounds}" if bounds else kind


def _default_cell(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, SecretStr):
        return HIDDEN
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Enum):
        value = value.value
    if value == "":
        return "empty"
    return f"`{_number(value)}`"


def description_cell(variable: str, field: FieldInfo) -> str:
    """Return a field's docstring as one table cell, without its leading ``VARIABLE:``.

    Args:
        variable: The field's environment variable.
        field: Its pydantic field information.

    Raises:
        ValueError: The field has no description (no docstring).
    """
    text = field.description
    if not text:
        msg = f"{variable} has no description: give its Settings field a docstring"
        raise ValueError(msg)
    text = text.removeprefix(f"{variable}:")
    text = _RST_LITERAL.sub(r"`\1`", " ".join(text.split()))
    return (text[:1].upper() + text[1:]).replace("|", "\\|")


def settings_rows() -> list[tuple[str, str, str, str]]:
    """Return one row per ``Settings`` field: variable, type, default, description.

    Raises:
        ValueError: A field has no description (its docstring is missing).
    """
    rows = []
    for name, field in Settings.model_fields.items():
        variable = environment_variable(name, field)
        rows.append(
            (
                f"`{variable}`",
                _type_cell(field),
                _default_cell(field),
                description_cell(variable, field),
            )
        )
    return rows


def settings_markdown() -> str:
    """Return the whole of ``docs/settings.md``: the header and the table of every setting."""
    lines = ["| variable | type | default | meaning |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in settings_rows()]
    return HEADER + "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write the settings page; an optional argument names another path than ``DOCS_PAGE``."""
    args = sys.argv[1:] if argv is None else list(argv)
    path = Path(args[0]) if args else DOCS_PAGE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(settings_markdown(), encoding="utf-8")
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
