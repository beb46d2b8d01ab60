"""What risk interventions remember about a user: scores, payments, the last one started.

Part of the user's record (``UserState.risk``); folded by ``streams.core.state.fold`` and
read by ``streams.core.risk``. Each change is kept by event time, whatever the order
events arrive in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from schemas.events import Payment


@dataclass(frozen=True, slots=True)
class PaymentDue:
    """The user's next payment, from a ``payment`` event with status ``due``.

    Attributes:
        amount: Decimal amount as text (exact, JSON-able).
        currency: ISO 4217 code.
        due_date: When it is due, if the producer said.
        noted_at: Event time of the ``due`` event (epoch seconds).
    """

    amount: str
    currency: str
    due_date: date | None
    noted_at: float


@dataclass(slots=True)
class RiskMemory:
    """What risk interventions remember about one user (embedded in the user's record).

    Attributes:
        scores: ``(event time in epoch seconds, score)``, oldest first, the newest few.
        drivers: Top drivers of the newest score.
        last_intervention_at: Event time of the last intervention that fired.
        last_intervention_level: Its tier (``low`` ... ``critical``); ``None`` in records
            written before escalation, which then cannot escalate until the next one.
        last_missed_payment_at: Latest event time of a ``missed`` payment.
        payment_due: The next payment due; cleared when paid or missed.
        payment_closed_at: Latest event time of a ``paid`` or ``missed`` payment, so a late
            ``due`` event older than it does not bring a settled payment back.
    """

    scores: list[tuple[float, float]] = field(default_factory=list)
    drivers: list[str] = field(default_factory=list)
    last_intervention_at: float | None = None
    last_intervention_level: str | None = None
    last_missed_payment_at: float | None = None
    payment_due: PaymentDue | None = None
    payment_closed_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a compact JSON-able form; fields never set are left out."""
        data: dict[str, Any] = {"scores": [[at, score] for at, score in self.scores]}
        if self.drivers:
            data["drivers"] = list(self.drivers)
        for name in (
            "last_intervention_at",
            "last_intervention_level",
            "last_missed_payment_at",
            "payment_closed_at",
        ):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        if (due := self.payment_due) is not None:
            day = due.due_date.isoformat() if due.due_date else None
            data["payment_due"] = [due.amount, due.currency, day, due.noted_at]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RiskMemory:
        """Rebuild a memory written by ``to_dict``."""
        due = data.get("payment_due")
        return cls(
            scores=[(float(at), float(score)) for at, score in data.get("scores", ())],
            drivers=list(data.get("drivers", ())),
            last_intervention_at=data.get("last_intervention_at"),
            last_intervention_level=data.get("last_intervention_level"),
            last_missed_payment_at=data.get("last_missed_payment_at"),
            payment_due=None
            if due is None
            else PaymentDue(due[0], due[1], date.fromisoformat(due[2]) if due[2] else None, due[3]),
            payment_closed_at=data.get("payment_closed_at"),
        )


def note_risk_score(
    memory: RiskMemory, at: datetime, score: float, drivers: Sequence[str], *, keep: int = 5
) -> bool:
    """Place a score in the user's history by event time, keeping the ``keep`` newest.

    Args:
        memory: Changed in place.
        at: Event time of the score (timezone-aware).
        score: The risk score, 0 to 1.
        drivers: Its top drivers; kept when it is the newest score.
        keep: Scores kept (``InterventionPolicy.history``). 5.

    Returns:
        False when nothing changed: a score at that time is already there (a duplicate),
        or it is older than the ``keep`` newest.
    """
    moment = at.timestamp()
    if any(t == moment for t, _ in memory.scores):
        return False
    scores = sorted([*memory.scores, (moment, score)])[-keep:]
    if (moment, score) not in scores:
        return False
    memory.scores = scores
    if scores[-1][0] == moment:
        memory.drivers = list(drivers)
    return True


def note_payment(memory: RiskMemory, at: datetime, payment: Payment) -> None:
    """Fold a ``payment`` event in: due sets the next payment, paid and missed close it.

    The order events arrive in does not matter: each change is kept by event time.

    Args:
        memory: Changed in place.
        at: Event time of the payment event (timezone-aware).
        payment: Its payload.
    """
    moment = at.timestamp()
    if payment.status == "due":
        due, closed = memory.payment_due, memory.payment_closed_at
        if (closed is None or moment > closed) and (due is None or moment >= due.noted_at):
            amount = str(payment.amount)
            memory.payment_due = PaymentDue(amount, payment.currency, payment.due_date, moment)
        return
    if payment.status == "missed":
        memory.last_missed_payment_at = max(moment, memory.last_missed_payment_at or moment)
    memory.payment_closed_at = max(moment, memory.payment_closed_at or moment)
    if memory.payment_due is not None and memory.payment_due.noted_at <= moment:
        memory.payment_due = None
