"""Validation errors summarised for people, without the offending values.

Errors end up in dead letters, logs and the database; inputs may hold personal data, so
a summary names field paths and what was expected, never what was sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

#: A path step that is a field name (not a producer-chosen mapping key, which may be data).
_FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")
#: Error types whose message quotes the input; replaced by a fixed text.
_MESSAGES_QUOTING_INPUT = {
    "union_tag_invalid": "unknown type (see the list of event types)",
    "enum": "not one of the allowed values",
}
MAX_ERRORS = 10


def field_step(step: object) -> str:
    """Return a path step as shown in errors: an index, a field name, or ``*`` for data."""
    if isinstance(step, int) or _FIELD_NAME.match(str(step)):
        return str(step)
    return "*"


def describe_validation_error(error: ValidationError) -> str:
    """Return ``path: message`` pairs joined by ``; `` for the first ``MAX_ERRORS`` errors."""
    parts = []
    for item in error.errors(include_input=False, include_url=False)[:MAX_ERRORS]:
        steps = [field_step(step) for step in item["loc"]]
        message = _MESSAGES_QUOTING_INPUT.get(item["type"], item["msg"])
        parts.append(f"{'.'.join(steps) or '(root)'}: {message}")
    if error.error_count() > MAX_ERRORS:
        parts.append(f"... {error.error_count() - MAX_ERRORS} more")
    return "; ".join(parts)


M = TypeVar("M", bound=BaseModel)


def validate_model(model: type[M], document: Any) -> M | list[str]:
    """Validate a definition (experiment, funnel...); return it, or ``path: reason`` each.

    For definitions people write, not input events: the reasons keep pydantic's wording.
    """
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            message = error["msg"].removeprefix("Value error, ")
            loc = ".".join(str(step) for step in error["loc"])
            problems.append(f"{loc}: {message}" if loc else message)
        return problems


class Identified(Protocol):
    """A definition with an id."""

    @property
    def id(self) -> str:
        """The definition's id."""
        ...


D = TypeVar("D", bound=Identified)


def validate_listed(
    document: Any, key: str, validate: Callable[[Any], D | list[str]], most: int
) -> tuple[D, ...] | list[str]:
    """Validate a file's ``key: [...]`` list of definitions; return them, or every problem.

    Args:
        document: The file, parsed.
        key: Its one key (``experiments``, ``funnels``).
        validate: One definition's validator.
        most: The most definitions the list may hold.
    """
    if not isinstance(document, dict) or not isinstance(document.get(key), list):
        return [f"(top): a {key} file is {{{key}: [...]}}"]
    found: list[D] = []
    problems: list[str] = []
    for index, item in enumerate(document[key]):
        result = validate(item)
        if isinstance(result, list):
            problems.extend(f"{key}.{index}.{p}" for p in result)
            continue
        if any(other.id == result.id for other in found):
            problems.append(f"{key}.{index}.id: {result.id!r} is defined twice")
        found.append(result)
    if len(found) > most:
        problems.append(f"{key}: at most {most}")
    return problems or tuple(found)
