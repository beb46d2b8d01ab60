"""The message templates a worker renders with: the shipped catalogue, overlaid by the topic.

``templates.definitions`` (compacted, key = message id) holds what operators applied with
``nudge templates apply``. The newest version of each message is in force: a topic entry
replaces the shipped template of the same id when its version is higher, and adds a
message the catalogue lacks; an entry whose version is not higher than the shipped one
is *superseded* (a deploy shipped a newer wording since) and not used. Entries are
re-validated here (the topic is not trusted), exactly as ``nudge templates validate``
checks files: an invalid entry, or one that drops a channel of the shipped message (a
trigger may send on it), is refused with its reasons (logged once, counted through
``on_refused``, shown by ``nudge templates list``); the previous good version stays in
force and every other template is unaffected.

Fallbacks are per variable and ship with the catalogue: an applied template uses them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson
import yaml

from schemas.templates import (
    TEMPLATE_ID,
    MessageTemplate,
    fallback_problems,
    validate_template,
)
from streams.core.rendering import (
    Catalogue,
    TemplateError,
    catalogue_of,
    default_catalogue,
    message_templates,
)
from streams.core.topic_entries import CheckedEntries

log = logging.getLogger(__name__)

_MESSAGE_ID = re.compile(TEMPLATE_ID)

#: Largest template read from the topic; the catalogue's largest is about 1.5 KB.
MAX_TEMPLATE_BYTES = 64 * 1024

Source = Literal["shipped", "topic"]


@dataclass(frozen=True, slots=True)
class InForce:
    """One message template in force, and where it came from."""

    template: MessageTemplate
    source: Source


@dataclass(slots=True)
class TemplateOverlay:
    """Merge the shipped templates with the topic's, parsing each topic entry once.

    Attributes:
        shipped: The catalogue shipped with the package (its fallbacks are everyone's).
        on_refused: Called with the number of entries refused whenever it may change.
    """

    shipped: Catalogue
    on_refused: Callable[[int], None] = lambda _count: None
    _entries: CheckedEntries[MessageTemplate] | None = None
    _built: tuple[list[tuple[bytes, bytes | None]], Catalogue] | None = None

    @classmethod
    def shipped_with(
        cls, on_refused: Callable[[int], None] = lambda _count: None
    ) -> TemplateOverlay:
        """The overlay of the catalogue shipped with the package."""
        return cls(default_catalogue(), on_refused)

    def in_force(self, entries: Iterable[tuple[bytes, bytes | None]]) -> dict[str, InForce]:
        """Return the templates in force by message id, given the topic's entries."""
        merged = {
            message_id: InForce(template, "shipped")
            for message_id, template in self.shipped.messages.items()
        }
        for key, raw in entries:
            template = self._template(key, raw)
            if template is None:
                continue
            shipped = self.shipped.messages.get(template.id)
            if shipped is None or template.version > shipped.version:
                merged[template.id] = InForce(template, "topic")
        return merged

    def catalogue(self, entries: Sequence[tuple[bytes, bytes | None]]) -> Catalogue:
        """Return the catalogue in force; the same object until the topic's entries change."""
        if not entries:
            return self.shipped
        entries = list(entries)
        if self._built is None or self._built[0] != entries:
            current = self.in_force(entries)
            built = catalogue_of(
                (each.template for each in current.values()), self.shipped.fallbacks
            )
            self._built = (entries, built)
            log.info(
                "message templates in force",
                extra={"from_topic": sum(each.source == "topic" for each in current.values())},
            )
        return self._built[1]

    def refused(self) -> dict[str, list[str]]:
        """Return the topic's entries refused so far: message id -> reasons."""
        return self._checked_entries().refused()

    def _checked_entries(self) -> CheckedEntries[MessageTemplate]:
        if self._entries is None:
            self._entries = CheckedEntries(
                self._checked, "message template", "template", shown_id, self.on_refused
            )
        return self._entries

    def _template(self, key: bytes, raw: bytes | None) -> MessageTemplate | None:
        return self._checked_entries().value(key, raw)

    def _checked(self, key: bytes, raw: bytes) -> MessageTemplate | list[str]:
        """Return the entry's template, or why it cannot be used."""
        if len(raw) > MAX_TEMPLATE_BYTES:
            return [f"template is {len(raw)} bytes; at most {MAX_TEMPLATE_BYTES}"]
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            return [f"not JSON: {error.msg}"]
        result = validate_template(document)
        if isinstance(result, list):
            return result
        problems = []
        if result.id.encode() != key:
            problems.append(f"id {result.id!r} does not match the message key")
        problems += replacement_problems(result, self.shipped.messages.get(result.id))
        return problems or result


def replacement_problems(new: MessageTemplate, old: MessageTemplate | None) -> list[str]:
    """Return why ``new`` cannot replace ``old`` whatever their versions.

    Only trigger messages are data yet (``intervention`` ones ship with the package), and
    a new version keeps every channel of the one it replaces: a trigger may send on it.
    """
    problems = []
    if new.scope != "trigger":
        problems.append(
            f"scope: {new.scope} templates ship with the package; only trigger ones apply"
        )
    if old is not None:
        dropped = sorted(channel.value for channel in set(old.channels()) - set(new.channels()))
        if dropped:
            problems.append(
                f"drops channel {', '.join(dropped)} of version {old.version}: "
                "a trigger may send on it; keep it (or change the trigger first)"
            )
    return problems


def shown_id(key: bytes) -> str:
    """Return a topic key as logs may show it: a message id, or only its length."""
    text = key.decode(errors="replace")
    return text if _MESSAGE_ID.fullmatch(text) else f"<not a message id: {len(key)} bytes>"


def load_template_files(paths: Iterable[Path]) -> tuple[list[MessageTemplate], dict[str, str]]:
    """Load and validate message templates from YAML files in the catalogue's format.

    Returns:
        The templates, and the fallbacks the files give (the applied ones must be the
        shipped ones: fallbacks are per variable, not per template).

    Raises:
        TemplateError: With every problem found, each naming its file.
    """
    templates: list[MessageTemplate] = []
    fallbacks: dict[str, str] = {}
    problems: list[str] = []
    for path in paths:
        try:
            document = yaml.safe_load(path.read_text("utf-8"))
        except yaml.YAMLError as error:
            problems.append(f"{path}: not valid YAML: {error}")
            continue
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"{path}: cannot be read: {error}")
            continue
        found, wrong = message_templates(document, str(path))
        templates += found
        problems += wrong
        if isinstance(document, Mapping):
            given = document.get("fallbacks") or {}
            problems += [f"{path}: {problem}" for problem in fallback_problems(given)]
            fallbacks |= given
    seen: set[str] = set()
    for template in templates:
        if template.id in seen:
            problems.append(f"all files: template {template.id!r} is defined twice")
        seen.add(template.id)
    if problems:
        raise TemplateError(problems)
    return templates, fallbacks
