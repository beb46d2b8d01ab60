"""Which event ids a user's record remembers, to apply each event at most once.

Duplicates come from two places:

- **Kafka redelivery.** After a crash or a rebalance the events after the last committed
  offset are read again, and the changelog may already hold a record that applied them.
  They are the user's latest arrivals, redelivered soon after.
- **Producers** sending one ``event_id`` twice, usually close together.

Both are close in *processing* time, not necessarily in event time: a catch-up after a
producer outage, or a history load, brings weeks of one user's events in seconds, and a
crash in the middle redelivers them all. (A first version stamped ids with the user's
watermark, event time; the SIGKILL test of ``test_rocksdb_store`` then double-applied a
fast stream's redelivered events, whose event time had moved days within one
uncommitted stretch.) So the record keeps the id of every event applied within the last
``DEDUP_WINDOW_HOURS`` whole UTC hours of the record's *dedup clock*: each id is stamped
with the processing hour it was applied in (``now`` of ``process``; the user's watermark
hour when there is no clock, as in unit tests), the clock never goes back (a worker
whose clock is behind stamps with the newest stamp), and an id is dropped once a later
event is stamped more than the window after it. So:

- an id is recognised exactly for 48 h (default) of processing after it was applied,
  whatever the events' own times; the window only moves when the user has a new event,
  so a worker down for a week still recognises what it redelivers on restart;
- no event is refused for its age: a late event is checked like any other, and its id
  kept like any other. A copy is applied again only if it comes more than the window
  after the first (it is then counted twice);
- the last ``DEDUP_FLOOR`` ids are kept whatever their stamp;
- at most ``DEDUP_CEILING`` ids are kept, the oldest dropped first, so a flood (or a
  history load of hundreds of one user's events within an hour) cannot grow a record
  without bound. Dedup is exact within the window up to that many events.

Ids are kept as 64-bit BLAKE2b fingerprints, not as text: 8 bytes instead of ~40 for a
UUID. Two different ids of one user share a fingerprint with probability 2**-64 per pair,
so a new event is taken for a duplicate (and dropped) with probability at most
``len(kept) / 2**64``: about 1e-18 for a typical user's 15 ids, 3e-17 at the ceiling, or
one lost event in ~40 000 years at a million events a second. That is the only inexact
part; it is stated here rather than tested by sampling (``test_dedup`` checks the
fingerprint is the stated BLAKE2b and that distinct ids in a large sample do not meet).

On the changelog (``encode_seen``) the ids are ``[newest stamp, base64]``, 9 bytes per
id: the fingerprints in arrival order (big-endian, packed by ``struct`` in one call),
then one byte per id with its stamp's age in hours behind the newest
(``OUTSIDE_WINDOW_AGE`` for ids kept only by the floor). Records of version 1
held the last 256 ids as text; they are read as stamped at the watermark's hour.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from typing import Any

from streams.core.units import SECONDS_PER_HOUR

#: Hours of the dedup clock an applied id is remembered for (see the module docstring).
#: Redeliveries and producer retries arrive within minutes; two days leave wide room
#: (a rebalance storm, a retrying producer's backoff). Each id in the window costs 12
#: bytes of record; ``apply_event`` takes another window for tests.
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
    """Keep fingerprint ``key`` stamped with the record's clock at ``hour``, then prune.

    Args:
        seen: Fingerprint -> stamp (UTC hour number, or ``OUTSIDE_WINDOW``), oldest
            arrival first; changed in place.
        key: The fingerprint of an event just applied (not in ``seen``).
        hour: The processing hour (or, without a clock, the watermark's hour). A clock
            behind the newest stamp (another worker's) does not move the record's back.
        window_hours: ``DEDUP_WINDOW_HOURS`` or another window.
    """
    newest = max(hour, newest_stamp(seen, default=hour))
    seen[key] = newest
    prune(seen, newest, window_hours)


def newest_stamp(seen: dict[int, int], *, default: int) -> int:
    """Return the stamp of the latest id (stamps never go down), or ``default``."""
    return seen[next(reversed(seen))] if seen else default


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


def encode_seen(seen: dict[int, int]) -> list[Any]:
    """Return ``seen`` as ``[newest stamp, base64]``: the fingerprints, then their ages."""
    if not seen:
        return []
    newest = newest_stamp(seen, default=0)
    ages = bytes(
        OUTSIDE_WINDOW_AGE if stamp == OUTSIDE_WINDOW else min(newest - stamp, OUTSIDE_WINDOW_AGE)
        for stamp in seen.values()
    )
    packed = struct.pack(f">{len(seen)}Q", *seen) + ages
    return [newest, base64.b64encode(packed).decode("ascii")]


def decode_seen(encoded: list[Any]) -> dict[int, int]:
    """Rebuild what ``encode_seen`` wrote.

    Raises:
        ValueError: Not base64, or not a whole number of entries.
    """
    if not encoded:
        return {}
    newest, text = int(encoded[0]), encoded[1]
    try:
        packed = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        msg = f"dedup ids are not base64: {exc}"
        raise ValueError(msg) from exc
    if len(packed) % _ENTRY_BYTES:
        msg = f"dedup ids are {len(packed)} bytes, not a multiple of {_ENTRY_BYTES}"
        raise ValueError(msg)
    count = len(packed) // _ENTRY_BYTES
    keys = struct.unpack_from(f">{count}Q", packed)
    ages = packed[count * FINGERPRINT_BYTES :]
    return {
        key: OUTSIDE_WINDOW if age == OUTSIDE_WINDOW_AGE else newest - age
        for key, age in zip(keys, ages, strict=True)
    }


def seen_from_ids(event_ids: list[str], hour: int) -> dict[int, int]:
    """Return version-1 ``recent_ids`` as fingerprints stamped ``hour`` (the watermark's)."""
    return {fingerprint(event_id): hour for event_id in event_ids}


def watermark_hour(watermark: float) -> int:
    """Return the UTC hour number of a watermark in epoch seconds."""
    return int(watermark // SECONDS_PER_HOUR)
