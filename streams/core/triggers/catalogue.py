"""Loading trigger definitions: the shipped catalogue and files given on the command line."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from schemas.triggers import TriggerDefinition, validate_definition
from streams.core.rendering import Catalogue


class DefinitionError(ValueError):
    """Definitions that failed validation, with every problem as ``where: path: reason``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid trigger definitions:\n  " + "\n  ".join(problems))
        self.problems = problems


def parse_definitions(documents: Any, source: str) -> list[TriggerDefinition]:
    """Validate a YAML document holding a list of definitions.

    Raises:
        DefinitionError: Any definition is invalid, or two share an id.
    """
    if not isinstance(documents, list):
        raise DefinitionError([f"{source}: expected a list of trigger definitions"])
    problems: list[str] = []
    definitions: list[TriggerDefinition] = []
    for index, document in enumerate(documents):
        where = f"{source}[{index}]"
        if isinstance(document, dict) and isinstance(document.get("id"), str):
            where = f"{source}[{index}] ({document['id']})"
        result = validate_definition(document)
        if isinstance(result, list):
            problems += [f"{where}: {problem}" for problem in result]
        else:
            definitions.append(result)
    problems += _duplicates(definitions, source)
    if problems:
        raise DefinitionError(problems)
    return definitions


def _duplicates(definitions: Iterable[TriggerDefinition], source: str) -> list[str]:
    seen: set[str] = set()
    repeated = []
    for definition in definitions:
        if definition.id in seen:
            repeated.append(f"{source}: id {definition.id!r} is defined twice")
        seen.add(definition.id)
    return repeated


def load_files(paths: Iterable[Path]) -> list[TriggerDefinition]:
    """Load and validate definitions from YAML files; problems name the file."""
    definitions: list[TriggerDefinition] = []
    problems: list[str] = []
    for path in paths:
        try:
            text = path.read_text("utf-8")
            definitions += parse_definitions(yaml.safe_load(text), str(path))
        except DefinitionError as error:
            problems += error.problems
        except yaml.YAMLError as error:
            problems.append(f"{path}: not valid YAML: {error}")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"{path}: cannot be read: {error}")
    problems += _duplicates(definitions, "all files")
    if problems:
        raise DefinitionError(problems)
    return definitions


def templates_missing(definitions: Iterable[TriggerDefinition], catalogue: Catalogue) -> list[str]:
    """Return the templates ``definitions`` name that ``catalogue`` does not have."""
    return catalogue.missing((c.template, c.channel) for d in definitions for c in d.channels)


@cache
def default_definitions() -> tuple[TriggerDefinition, ...]:
    """Return the catalogue shipped with the package (validated once)."""
    text = resources.files("streams.catalogue").joinpath("triggers.yaml").read_text("utf-8")
    return tuple(parse_definitions(yaml.safe_load(text), "streams/catalogue/triggers.yaml"))
