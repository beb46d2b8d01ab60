"""Who may call the query API, how often, and how a read is written to the audit log.

Kept apart from the views so it is tested without a server: bearer tokens compared in
constant time, a token bucket per caller, a keyed hash that names a user in the audit log
(the log itself names nobody), and the signature one worker puts on a request it hands
to the worker that owns the user, so the hop is neither charged twice nor forged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

#: The header a worker puts on a request it forwards to the owning worker.
HOP_HEADER = "X-Nudge-Hop"
#: The audit log: one line per read of a user's data (who, what, when; never the data).
audit_log = logging.getLogger("nudge.audit")


@dataclass(slots=True)
class TokenBucket:
    """``burst`` requests at once, then ``rate`` a second."""

    rate: float
    burst: int
    tokens: float = -1.0
    at: float = 0.0

    def take(self, now: float) -> float:
        """Take one token; return 0 if there was one, else the seconds until there is."""
        if self.tokens < 0:  # first use: full
            self.tokens, self.at = float(self.burst), now
        self.tokens = min(float(self.burst), self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass(slots=True)
class Gate:
    """Authentication, rate limits and audit subjects of one worker's API."""

    callers: Mapping[str, str]
    """Token -> caller name (``Settings.api_callers``)."""
    rate: float
    burst: int
    key: bytes
    """Keys the audit subjects and the hop signatures."""
    clock: Callable[[], float] = time.monotonic
    buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def caller(self, authorization: str | None) -> str | None:
        """Return the caller an ``Authorization`` header names, or ``None``.

        Every token is compared, in constant time, so timing tells nothing of which
        characters matched.
        """
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            return None
        found = None
        for token, name in self.callers.items():
            if hmac.compare_digest(token.encode(), given.strip().encode()):
                found = name
        return found

    def wait(self, caller: str) -> float:
        """Charge one request to ``caller``; return 0, or the seconds to wait (429)."""
        bucket = self.buckets.get(caller)
        if bucket is None:
            bucket = self.buckets[caller] = TokenBucket(self.rate, self.burst)
        return bucket.take(self.clock())

    def subject(self, user_id: str) -> str:
        """Return the audit log's name for a user: a keyed hash, not the id."""
        return hmac.new(self.key, f"user:{user_id}".encode(), hashlib.sha256).hexdigest()[:24]

    def hop(self, caller: str, path_qs: str) -> str:
        """Return the signature of a request forwarded on behalf of ``caller``."""
        return hmac.new(self.key, f"hop:{caller}:{path_qs}".encode(), hashlib.sha256).hexdigest()

    def forwarded(self, caller: str, path_qs: str, signature: str | None) -> bool:
        """Return whether a request is a hop signed by a worker of this app."""
        return signature is not None and hmac.compare_digest(self.hop(caller, path_qs), signature)


def gate_key(app_id: str, audit_key: str | None, callers: Mapping[str, str]) -> bytes:
    """Return the key of the audit subjects and hop signatures.

    ``NUDGE_API_AUDIT_KEY`` when set; else derived from the app id and the tokens, the same
    on every worker of the app (and different after a token changes).
    """
    if audit_key:
        return audit_key.encode()
    material = "\n".join([app_id, *sorted(callers)]).encode()
    return hashlib.sha256(b"nudge-api\n" + material).digest()


def audit(caller: str, route: str, subject: str | None, status: int) -> None:
    """Write one read to the audit log: who, which endpoint, whose (hashed), the status."""
    audit_log.info(
        "api read",
        extra={"caller": caller, "route": route, "subject": subject, "status": status},
    )
