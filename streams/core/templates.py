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

The topic holds both scopes of message: ``trigger`` ones (the catalogue triggers name)
and ``intervention`` ones (the wordings of a risk intervention's plan). An intervention
message can only be given a new version of a shipped id (a plan names its messages by
intervention type, so a new id would never be sent), and like a trigger message it keeps
every channel it had: a plan sends on each.

Fallbacks are per variable and ship with the catalogue: an applied template uses them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
    shipped_interventions,
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


@dataclass(frozen=True, slots=True)
class Catalogues:
    """The templates in force for each scope of message."""

    triggers: Catalogue
    """What trigger definitions name (``streams.templates/catalogue.yaml`` and the topic)."""
    interventions: Catalogue
    """What risk interventions render (``streams.templates/interventions.yaml`` and the topic)."""


@dataclass(slots=True)
class TemplateOverlay:
    """Merge the shipped templates with the topic's, parsing each topic entry once.

    Attributes:
        shipped: The trigger messages shipped with the package (their fallbacks are the
            trigger messages').
        on_refused: Called with the number of entries refused whenever it may change.
        interventions: The intervention messages shipped with the package.
    """

    shipped: Catalogue
    on_refused: Callable[[int], None] = lambda _count: None
    interventions: Catalogue = field(default_factory=shipped_interventions)
    _entries: CheckedEntries[MessageTemplate] | None = None
    _built: tuple[list[tuple[bytes, bytes | None]], Catalogues] | None = None
    _plain: Catalogues | None = None

    @classmethod
    def shipped_with(
        cls, on_refused: Callable[[int], None] = lambda _count: None
    ) -> TemplateOverlay:
        """The overlay of the catalogues shipped with the package."""
        return cls(default_catalogue(), on_refused)

    def in_force(self, entries: Iterable[tuple[bytes, bytes | None]]) -> dict[str, InForce]:
        """Return the templates in force by message id (both scopes), given the topic's entries."""
        merged = {
            message_id: InForce(template, "shipped")
            for message_id, template in self._shipped_messages().items()
        }
        entries = list(entries)
        self._checked_entries().keep_only({key for key, _ in entries})
        for key, raw in entries:
            template = self._template(key, raw)
            if template is None:
                continue
            shipped = merged.get(template.id)
            if shipped is None or template.version > shipped.template.version:
                merged[template.id] = InForce(template, "topic")
        return merged

    def catalogue(self, entries: Sequence[tuple[bytes, bytes | None]]) -> Catalogue:
        """Return the trigger messages in force; the same object until the entries change."""
        return self.catalogues(entries).triggers

    def catalogues(self, entries: Sequence[tuple[bytes, bytes | None]]) -> Catalogues:
        """Return the templates in force; the same object until the topic's entries change."""
        if not entries:
            if self._plain is None:
                self._plain = Catalogues(self.shipped, self.interventions)
            return self._plain
        entries = list(entries)
        if self._built is None or self._built[0] != entries:
            current = self.in_force(entries).values()
            built = Catalogues(
                triggers=catalogue_of(
                    (each.template for each in current if each.template.scope == "trigger"),
                    self.shipped.fallbacks,
                ),
                interventions=catalogue_of(
                    (each.template for each in current if each.template.scope == "intervention"),
                    self.interventions.fallbacks,
                ),
            )
            self._built = (entries, built)
            log.info(
                "message templates in force",
                extra={"from_topic": sum(each.source == "topic" for each in current)},
            )
        return self._built[1]

    def _shipped_messages(self) -> dict[str, MessageTemplate]:
        return {**self.interventions.messages, **self.shipped.messages}

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
        problems += replacement_problems(result, self._shipped_messages().get(result.id))
        return problems or result


def replacement_problems(new: MessageTemplate, old: MessageTemplate | None) -> list[str]:
    """Return why ``new`` cannot replace ``old`` whatever their versions.

    A new version keeps the scope and every channel of the one it replaces (a trigger or
    an intervention plan may send on it); a message new to the catalogue is a trigger's
    (an intervention plan names only the shipped ones).
    """
    if old is None:
        if new.scope == "intervention":
            return [
                f"scope: intervention: no intervention message is called {new.id!r}; "
                "only the shipped ones (nudge templates list) take a new version"
            ]
        return []
    if new.scope != old.scope:
        return [f"scope: {new.scope}, but version {old.version} is a {old.scope} message's"]
    dropped = sorted(channel.value for channel in set(old.channels()) - set(new.channels()))
    if not dropped:
        return []
    sender = "a trigger" if old.scope == "trigger" else "its intervention plan"
    return [
        f"drops channel {', '.join(dropped)} of version {old.version}: "
        f"{sender} may send on it; keep it"
        + (" (or change the trigger first)" if old.scope == "trigger" else "")
    ]


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
