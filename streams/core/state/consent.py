"""Consent to sensitive trigger categories, kept in the profile in a few bytes.

``profile["cc"]`` is one integer: for the category at index ``i`` of
``schemas.events.TriggerCategory``, bit ``2i`` says consent was given and bit ``2i + 1``
that it was withdrawn (neither: never said). A dict of names cost the typical record
about 50 bytes of its 1 KiB budget; this costs about 8.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

from schemas.events import TriggerCategory

#: The profile's key for the categories' consent.
KEY = "cc"
_INDEX = {name: index for index, name in enumerate(get_args(TriggerCategory))}


def record_consent(profile: dict[str, Any], given: Mapping[str, bool]) -> None:
    """Merge consents given (True) or withdrawn (False) per category into ``profile``."""
    bits = int(profile.get(KEY, 0))
    for category, allowed in given.items():
        index = _INDEX[category]
        bits &= ~(0b11 << (2 * index))
        bits |= (0b01 if allowed else 0b10) << (2 * index)
    profile[KEY] = bits


def consent_to(profile: Mapping[str, Any], category: str) -> bool | None:
    """Return whether the user gave (True) or withdrew (False) consent to ``category``.

    ``None``: they never said, or the category is not one consent is kept for.
    """
    index = _INDEX.get(category)
    if index is None:
        return None
    state = (int(profile.get(KEY, 0)) >> (2 * index)) & 0b11
    return {0b01: True, 0b10: False}.get(state)
