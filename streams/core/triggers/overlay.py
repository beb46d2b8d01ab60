"""The definitions a worker evaluates: the shipped catalogue, overlaid by the topic.

``triggers.definitions`` (compacted, key = trigger id) holds what operators applied with
``nudge triggers apply`` or ``pause``. An entry there replaces the shipped definition of
the same id, or adds a new one; the catalogue needs no publishing to work. Entries are
re-validated here (the topic is not trusted): an invalid one -- or one that cannot be
used for any other reason -- is refused with its reasons (logged once, reported to
``on_refused``, which the worker wires to ``nudge_trigger_definitions_refused``, and shown by
``nudge triggers list``), the previous
good version of that trigger stays in force, and every other definition is unaffected.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import orjson

from schemas.triggers import TriggerDefinition, validate_definition
from streams.core.rendering import Catalogue
from streams.core.topic_entries import CheckedEntries
from streams.core.triggers.catalogue import default_definitions

log = logging.getLogger(__name__)

#: Largest definition read from the topic; the catalogue's largest is about 2 KB.
MAX_DEFINITION_BYTES = 64 * 1024


#: What a trigger id looks like (``schemas.triggers.TriggerDefinition.id``).
_TRIGGER_ID = re.compile(rb"^[a-z][a-z0-9_]{2,63}$")
#: Namespaced keys other readers of the topic own (``analytics:scores``...).
_NAMESPACED = re.compile(rb"^analytics:[a-z_]{1,32}$")


def shown_key(key: bytes) -> str:
    """Return a topic key as logs may show it: a trigger id (or ours), or only its length.

    Whoever can publish to the topic chooses the key; logs must not echo arbitrary bytes.
    """
    if _TRIGGER_ID.match(key) or _NAMESPACED.match(key):
        return key.decode()
    return f"<not a trigger id: {len(key)} bytes>"


@dataclass(slots=True)
class DefinitionOverlay:
    """Merge shipped definitions with the topic's, parsing each topic entry once.

    Attributes:
        shipped: The catalogue shipped with the package, by id.
        known_templates: ``(template id, channel)`` pairs the renderer has; a topic
            definition naming another is rejected like an invalid one.
        on_refused: Called with the number of entries refused whenever it may change.
    """

    shipped: Mapping[str, TriggerDefinition]
    known_templates: frozenset[tuple[str, str]]
    on_refused: Callable[[int], None] = lambda _count: None
    _entries: CheckedEntries[TriggerDefinition] | None = None
    _indexed: tuple[list[tuple[bytes, bytes | None]], dict[str, list[TriggerDefinition]]] | None = (
        None
    )

    @classmethod
    def shipped_with(
        cls, catalogue: Catalogue, on_refused: Callable[[int], None] = lambda _count: None
    ) -> DefinitionOverlay:
        """The overlay of the shipped catalogue, checking topic entries against ``catalogue``."""
        shipped = {d.id: d for d in default_definitions()}
        return cls(shipped, catalogue.known_pairs(), on_refused)

    def use_templates(self, known: frozenset[tuple[str, str]]) -> None:
        """Check the topic's definitions against ``known`` templates from now on.

        The templates in force change when one is applied (``templates.definitions``):
        every topic entry is judged again, so one naming a template applied since is
        accepted, and one naming a template no longer there refused.
        """
        if known != self.known_templates:
            self.known_templates = known
            self._entries = None  # every entry is judged again, against the new templates
            self._indexed = None

    def current(self, entries: Iterable[tuple[bytes, bytes | None]]) -> list[TriggerDefinition]:
        """Return the definitions in force, given the topic's ``(key, value)`` entries."""
        merged = dict(self.shipped)
        entries = list(entries)
        self._checked_entries().keep_only({key for key, _ in entries})
        for key, raw in entries:
            if b":" in key:
                continue  # a namespaced entry (``analytics:scores``...): not a trigger's
            definition = self._definition(key, raw)
            if definition is not None:
                merged[definition.id] = definition
        return sorted(merged.values(), key=lambda d: (d.priority.rank, d.id))

    def by_event_type(
        self, entries: list[tuple[bytes, bytes | None]]
    ) -> Mapping[str, list[TriggerDefinition]]:
        """Return the definitions in force grouped by the event types that evaluate them.

        Rebuilt only when the topic's entries change, so each event looks at the few
        definitions its type concerns, not the whole catalogue.
        """
        if self._indexed is None or self._indexed[0] != entries:
            index: dict[str, list[TriggerDefinition]] = {}
            for definition in self.current(entries):
                for event_type in definition.evaluate_on.events:
                    index.setdefault(event_type, []).append(definition)
            self._indexed = (entries, index)
        return self._indexed[1]

    def refused(self) -> dict[str, list[str]]:
        """Return the topic's entries refused so far: trigger id -> reasons."""
        return self._checked_entries().refused()

    def _checked_entries(self) -> CheckedEntries[TriggerDefinition]:
        if self._entries is None:
            self._entries = CheckedEntries(
                self._checked, "trigger definition", "trigger", shown_key, self.on_refused
            )
        return self._entries

    def _definition(self, key: bytes, raw: bytes | None) -> TriggerDefinition | None:
        return self._checked_entries().value(key, raw)

    def _checked(self, key: bytes, raw: bytes) -> TriggerDefinition | list[str]:
        """Return the entry's definition, or why it cannot be used."""
        if len(raw) > MAX_DEFINITION_BYTES:
            return [f"definition is {len(raw)} bytes; at most {MAX_DEFINITION_BYTES}"]
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            return [f"not JSON: {error.msg}"]
        result = validate_definition(document)
        if isinstance(result, list):
            return result
        problems = []
        if result.id.encode() != key:
            problems.append(f"id {result.id!r} does not match the message key")
        for wanted in result.channels:
            if (wanted.template, wanted.channel.value) not in self.known_templates:
                problems.append(f"channels: no template {wanted.template} for {wanted.channel}")
        return problems or result
