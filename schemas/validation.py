"""Validation errors summarised for people, without the offending values.

Errors end up in dead letters, logs and the database; inputs may hold personal data, so
a summary names field paths and what was expected, never what was sent.
"""

from __future__ import annotations

import re

from pydantic import ValidationError

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
