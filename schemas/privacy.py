"""Erasure: the control message that makes the worker forget a user, and retention's format.

An erasure request is not an event (it says nothing the user did, and no trigger,
segment, funnel or score may count it), so it is not a member of ``schemas.events``'
payload union. It travels on the input topics all the same, keyed by the user like
their events, so that it is ordered after every earlier message of that user on that
topic and a replay after a crash applies it again in the same place. The intake tells
it apart by its ``control`` field (``schemas.intake.decode_input``); an event never has
one. See ``docs/privacy.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from schemas.events import Identifier

#: The ``control`` value of an erasure request.
ERASURE_REQUEST: Literal["erasure_request"] = "erasure_request"
#: The JSON field that marks a control message on an input topic.
CONTROL_FIELD = "control"
#: Longest retention one may set, in days (a century): more is a typo.
MAX_RETENTION_DAYS = 36_500


class ErasureRequest(BaseModel):
    """Forget one user: delete their record (and so their held sends) on the worker.

    Published by ``nudge users forget`` onto every input topic, keyed by ``user_id``.
    ``erasure_id`` is random (never derived from the user: a hash of the id would name
    them); the database's ``erasures`` row carries the same id.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    control: Literal["erasure_request"] = ERASURE_REQUEST
    schema_version: Literal[1] = 1
    erasure_id: Identifier
    user_id: Identifier
    requested_at: AwareDatetime


def parse_retention(text: str) -> Mapping[str, int]:
    """Parse ``NUDGE_RETENTION_DAYS``: ``table=days`` pairs separated by commas.

    Args:
        text: Such as ``"trigger_events=30, dead_letters=0"``; blank: no overrides.

    Returns:
        Table name -> days (``0``: keep forever), read-only.

    Raises:
        ValueError: A pair is not ``name=days`` with a whole number of days from 0 to
            36,500, or a table is named twice.
    """
    days: dict[str, int] = {}
    for raw in text.split(","):
        pair = raw.strip()
        if not pair:
            continue
        name, sep, value = (part.strip() for part in pair.partition("="))
        if not sep or not name or not value.isdigit() or int(value) > MAX_RETENTION_DAYS:
            msg = f"{pair!r} is not table=days (days a whole number from 0 to 36500)"
            raise ValueError(msg)
        if name in days:
            msg = f"table {name!r} is given twice"
            raise ValueError(msg)
        days[name] = int(value)
    return MappingProxyType(days)
