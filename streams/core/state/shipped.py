"""Data files shipped with the package (``streams/catalogue/``), read and validated."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import TypeVar

import yaml

T = TypeVar("T")


def shipped(file: str, validate: Callable[[object], T | list[str]]) -> T:
    """Return ``streams/catalogue/<file>`` validated by ``validate``.

    Raises:
        ValueError: The shipped file is invalid (with every problem): a packaging bug.
    """
    text = resources.files("streams.catalogue").joinpath(file).read_text()
    found = validate(yaml.safe_load(text))
    if isinstance(found, list):
        msg = f"the shipped {file} is invalid:\n  " + "\n  ".join(found)
        raise ValueError(msg)
    return found
