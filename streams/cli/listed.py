"""What the command groups of definitions as data share: reading a YAML file, an entry.

Segments, experiments and funnels are each published one definition per key on the
definitions topic (``segment:<id>``, ``experiment:<id>``, ``funnel:<id>``); scores,
patterns and personalization one document each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel

T = TypeVar("T")


def read_file(path: Path, validate: Callable[[Any], T | list[str]], what: str) -> T | int:
    """Return the file's definitions, or print every problem and return 1.

    Args:
        path: The YAML file.
        validate: The file's validator (``validate_segments``, ``validate_scores``...).
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


def add_actions(  # noqa: PLR0913 - the group's words
    subcommands: Any,
    command: str,
    help_text: str,
    *,
    file_actions: dict[str, str],
    one: tuple[str, str, str],
    run: Callable[..., int],
) -> None:
    """Add a command group: actions on a file, ``list``, and one action on an id.

    Args:
        subcommands: The ``nudge`` subcommands.
        command: The group (``segments``).
        help_text: What it holds.
        file_actions: Action -> help, for the actions that take a file.
        one: (action, help, argument) of the action on one definition (``remove``).
        run: The group's dispatcher.
    """
    parser = subcommands.add_parser(command, help=help_text)
    actions = parser.add_subparsers(dest="action", required=True)
    for name, text in file_actions.items():
        actions.add_parser(name, help=text).add_argument("file", type=Path)
    actions.add_parser("list", help=f"show the {command} in force")
    name, text, argument = one
    actions.add_parser(name, help=text).add_argument(argument)
    parser.set_defaults(run=run)


def print_refused(refused: dict[str, list[str]], prefix: bytes) -> None:
    """Print the entries under ``prefix`` the workers refuse, with the reasons."""
    for key, reasons in sorted(refused.items()):
        if key.startswith(prefix.decode()):
            print(f"refused  {key[:72]}: {'; '.join(reasons)}")
