"""Entries of a compacted definitions topic, each parsed once, the unusable refused once.

The trigger definitions and the message templates are both data on a compacted topic that
any operator may publish to, so both are re-validated by every worker. The bookkeeping is
the same for either: an entry parses once per value; an entry that cannot be used is
refused with its reasons (logged once, counted through ``on_refused``) while the last good
value of that key stays in force; a tombstone removes the entry and withdraws its
refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(slots=True)
class CheckedEntries(Generic[T]):
    """Each key's latest usable value, from raw topic entries.

    Attributes:
        check: Key and raw value -> the value, or why it cannot be used.
        what: What an entry is, for the log ("trigger definition").
        key_field: The log field that names the entry ("trigger").
        shown: The key as logs may show it (never arbitrary bytes).
        on_refused: Called with the number of entries refused whenever it may change.
    """

    check: Callable[[bytes, bytes], T | list[str]]
    what: str
    key_field: str
    shown: Callable[[bytes], str]
    on_refused: Callable[[int], None] = lambda _count: None
    parsed: dict[bytes, tuple[bytes, T]] = field(default_factory=dict)
    rejected: dict[bytes, tuple[bytes, list[str]]] = field(default_factory=dict)
    """Key -> the refused value and why; cleared when a usable value replaces it."""

    def value(self, key: bytes, raw: bytes | None) -> T | None:
        """Return the value in force for ``key`` given its latest raw entry (``None``: none)."""
        cached = self.parsed.get(key)
        if raw is None:
            self.rejected.pop(key, None)  # a tombstone withdraws a refused entry too
            return None
        if cached is not None and cached[0] == raw:
            return cached[1]
        refused = self.rejected.get(key)
        if refused is not None and refused[0] == raw:
            return cached[1] if cached else None  # already reported; keep the last good one
        try:
            result = self.check(key, raw)
        except Exception as error:  # noqa: BLE001 - one bad entry must not stop the others
            result = [f"could not be used: {type(error).__name__}"]
        if isinstance(result, list):
            self.rejected[key] = (raw, result)
            self.on_refused(len(self.rejected))
            log.error(
                f"refused a {self.what} from the topic",
                extra={self.key_field: self.shown(key), "problems": result},
            )
            return cached[1] if cached else None
        self.rejected.pop(key, None)
        self.on_refused(len(self.rejected))
        self.parsed[key] = (raw, result)
        return result

    def keep_only(self, keys: set[bytes]) -> None:
        """Forget the keys no longer on the topic, and their refusals.

        A feed drops a tombstoned key rather than hand its tombstone on, so a refusal
        would otherwise be counted for ever.
        """
        gone = [key for key in self.rejected if key not in keys]
        for key in gone:
            del self.rejected[key]
        for key in [key for key in self.parsed if key not in keys]:
            del self.parsed[key]
        if gone:
            self.on_refused(len(self.rejected))

    def refused(self) -> dict[str, list[str]]:
        """Return the entries refused so far: key -> reasons."""
        return {
            key.decode(errors="replace"): problems for key, (_, problems) in self.rejected.items()
        }
