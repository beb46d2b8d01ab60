"""What the command groups of one-entry-per-definition data share: reading a YAML file.

Segments, experiments and funnels are each published one definition per key on the
definitions topic (``segment:<id>``, ``experiment:<id>``, ``funnel:<id>``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel

T = TypeVar("T")


def read_definitions(
    path: Path, validate: Callable[[Any], tuple[T, ...] | list[str]], what: str
) -> tuple[T, ...] | int:
    """Return the file's definitions, or print every problem and return 1.

    Args:
        path: The YAML file.
        validate: The file's validator (``validate_segments``...).
        what: What the file holds, plural (``segments``), for the messages.
    """
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        print(f"{path}: cannot read: {error}")
        return 1
    found = validate(document)
    if isinstance(found, list):
        print(f"invalid {what}:\n  " + "\n  ".join(f"{path}: {p}" for p in found))
        return 1
    return found


def entry(key: bytes, definition: BaseModel) -> tuple[bytes, bytes]:
    """Return the topic entry (key, JSON value) of one definition."""
    return key, json.dumps(definition.model_dump(mode="json", by_alias=True)).encode()
