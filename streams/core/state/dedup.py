"""Which event ids a user's record remembers, to apply each event at most once.

Duplicates come from two places:

- **Kafka redelivery.** After a crash or a rebalance the events after the last committed
  offset are read again, and the changelog may already hold a record that applied them.
  They are the user's latest arrivals, redelivered soon after.
- **Producers** sending one ``event_id`` twice, usually close together.

Both are recent in the user's own *event time*: the record keeps the id of every event
applied while the user's watermark (latest ``occurred_at``) was at most
``DEDUP_WINDOW_HOURS`` whole UTC hours behind where it is now. Each id is stamped with the
watermark's hour just after it was applied (its own hour, or a later one for a late
event), and dropped once the watermark's hour passes ``stamp + window``. So:

- an id is recognised exactly while the user's event time has moved on by at most the
  window since it was applied (48 h by default: both sources above are minutes);
- a *late* event (``occurred_at`` far behind the watermark) is checked like any other and
  applied when new; its id is then kept for the window from its arrival, not from its
  own time, so a redelivery of a backfill is still recognised. No event is refused for
  its age, and an old event's copy is only missed when the user's event time moved on
  by more than the window between the two copies; such a copy is applied again (counted
  twice; buckets older than the kept days are untouched, and an event older than
  ``NUDGE_MAX_EVENT_AGE_SECONDS`` messages nobody);
- the last ``DEDUP_FLOOR`` ids are kept whatever their age: a burst that moves the
  watermark by more than the window in one uncommitted stretch (a catch-up after a
  producer outage) still has its latest events recognised;
- at most ``DEDUP_CEILING`` ids are kept, the oldest dropped first, so a flood (one
  user sending hundreds of events within the window) cannot grow a record without
  bound. Dedup is exact within the window up to that many events.

Ids are kept as 64-bit BLAKE2b fingerprints, not as text: 8 bytes instead of ~40 for a
UUID. Two different ids of one user share a fingerprint with probability 2**-64 per pair,
so a new event is taken for a duplicate (and dropped) with probability at most
``len(kept) / 2**64``: about 1e-18 for a typical user's 20 ids, 3e-17 at the ceiling, or
one lost event in ~10**12 years at a million events a second. That is the only inexact
part; it is stated here rather than tested by sampling (``test_dedup`` checks the
fingerprint is the stated BLAKE2b and that distinct ids in a large sample do not meet).

On the changelog (``encode_seen``) each kept id is 9 bytes, in arrival order: the
fingerprint, then one byte with the stamp's age in hours behind the watermark's hour
(``OUTSIDE_WINDOW_AGE`` for ids kept only by the floor), the whole base64-encoded. Records
of version 1 held the last 256 ids as text; they are read as stamped at the watermark's
hour (kept for one more window), the safe side.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from streams.core.units import SECONDS_PER_HOUR

#: Hours of the user's event time an applied id is remembered for (see the module
#: docstring). Redeliveries and producer retries arrive within minutes; two days leave
#: wide room and match the default ``NUDGE_MAX_EVENT_AGE_SECONDS``. Each id in the window
#: costs 12 bytes of record; ``apply_event`` takes another window for tests.
DEDUP_WINDOW_HOURS = 48

#: Largest window the one-byte age on the changelog can express (255 means "outside").
MAX_DEDUP_WINDOW_HOURS = 254

#: The latest ids kept whatever their age: a burst moving the watermark by more than the
#: window in one stretch keeps its last ones. 8 ids cost ~100 bytes on the changelog.
DEDUP_FLOOR = 8

#: The most ids kept: a flood of one user's events costs at most ~6 KB of record.
DEDUP_CEILING = 512

#: Bytes of a fingerprint (BLAKE2b digest size).
FINGERPRINT_BYTES = 8

#: In-memory stamp of an id kept only by the floor: its hour no longer matters.
OUTSIDE_WINDOW = -1

#: Encoded age of an id kept only by the floor.
OUTSIDE_WINDOW_AGE = 255

_ENTRY_BYTES = FINGERPRINT_BYTES + 1


def fingerprint(event_id: str) -> int:
    """Return the 64-bit fingerprint of ``event_id`` (BLAKE2b, 8-byte digest, big-endian)."""
    digest = hashlib.blake2b(event_id.encode(), digest_size=FINGERPRINT_BYTES).digest()
    return int.from_bytes(digest, "big")


def remember(seen: dict[int, int], key: int, hour: int, window_hours: int) -> None:
    """Keep fingerprint ``key`` stamped ``hour`` (the watermark's hour), then prune.

    Args:
        seen: Fingerprint -> stamp (UTC hour number, or ``OUTSIDE_WINDOW``), oldest
            arrival first; changed in place.
        key: The fingerprint of an event just applied (not in ``seen``).
        hour: The user's watermark hour after applying it: the newest stamp.
        window_hours: ``DEDUP_WINDOW_HOURS`` or the configured window.
    """
    seen[key] = hour
    prune(seen, hour, window_hours)


def prune(seen: dict[int, int], hour: int, window_hours: int) -> None:
    """Drop ids stamped before ``hour - window_hours``, keeping the last ``DEDUP_FLOOR``.

    Ids outside the window that the floor keeps are restamped ``OUTSIDE_WINDOW``; beyond
    ``DEDUP_CEILING`` ids the oldest arrivals go first.
    """
    oldest = hour - window_hours
    keys = list(seen)
    floor_from = len(keys) - DEDUP_FLOOR
    for position, key in enumerate(keys):
        if position < len(keys) - DEDUP_CEILING:
            del seen[key]
        elif seen[key] < oldest:
            if position < floor_from:
                del seen[key]
            else:
                seen[key] = OUTSIDE_WINDOW


def encode_seen(seen: dict[int, int], hour: int) -> str:
    """Return ``seen`` as base64: per id its fingerprint and its age behind ``hour``."""
    packed = bytearray()
    for key, stamp in seen.items():
        age = hour - stamp if stamp != OUTSIDE_WINDOW else OUTSIDE_WINDOW_AGE
        packed += key.to_bytes(FINGERPRINT_BYTES, "big")
        packed.append(min(age, OUTSIDE_WINDOW_AGE))
    return base64.b64encode(bytes(packed)).decode("ascii")


def decode_seen(text: str, hour: int) -> dict[int, int]:
    """Rebuild what ``encode_seen(seen, hour)`` wrote.

    Raises:
        ValueError: Not base64, or not a whole number of entries.
    """
    try:
        packed = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        msg = f"dedup ids are not base64: {exc}"
        raise ValueError(msg) from exc
    if len(packed) % _ENTRY_BYTES:
        msg = f"dedup ids are {len(packed)} bytes, not a multiple of {_ENTRY_BYTES}"
        raise ValueError(msg)
    seen: dict[int, int] = {}
    for start in range(0, len(packed), _ENTRY_BYTES):
        key = int.from_bytes(packed[start : start + FINGERPRINT_BYTES], "big")
        age = packed[start + FINGERPRINT_BYTES]
        seen[key] = OUTSIDE_WINDOW if age == OUTSIDE_WINDOW_AGE else hour - age
    return seen


def seen_from_ids(event_ids: list[str], hour: int) -> dict[int, int]:
    """Return version-1 ``recent_ids`` as fingerprints stamped ``hour`` (the watermark's)."""
    return {fingerprint(event_id): hour for event_id in event_ids}


def watermark_hour(watermark: float) -> int:
    """Return the UTC hour number of a watermark in epoch seconds."""
    return int(watermark // SECONDS_PER_HOUR)
