"""The population's open rate per local hour: the send-time bandit's prior (a global model).

Workers add every send and every credited open they see to their own counts
(``HourCounts.add``); the counts are checkpointed on ``models.checkpoints`` per input
partition (``schemas.learning``) and the prior a worker serves is the sum of every
partition's latest checkpoint: the same for every worker, and the same while a batch is
replayed, so deciding an event again picks the same hour.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

HOURS = 24
#: Messages an hour needs before its own rate replaces the overall rate (shrinkage).
SHRINK = 20.0


@dataclass(slots=True)
class HourCounts:
    """Sends and opens per local hour (24 each)."""

    sends: list[int] = field(default_factory=lambda: [0] * HOURS)
    opens: list[int] = field(default_factory=lambda: [0] * HOURS)

    def add(self, hour: int, *, sends: int = 0, opens: int = 0) -> None:
        """Count sends and opens at ``hour``."""
        self.sends[hour] += sends
        self.opens[hour] += opens

    def merged(self, others: Iterable[HourCounts]) -> HourCounts:
        """Return these counts plus ``others``'."""
        total = HourCounts(list(self.sends), list(self.opens))
        for other in others:
            for hour in range(HOURS):
                total.sends[hour] += other.sends[hour]
                total.opens[hour] += other.opens[hour]
        return total

    def to_dict(self) -> dict[str, list[int]]:
        """Return the counts as JSON-ready lists."""
        return {"sends": list(self.sends), "opens": list(self.opens)}

    @classmethod
    def from_dict(cls, data: dict[str, list[int]]) -> HourCounts:
        """Rebuild counts from ``to_dict``'s lists (refusing a wrong length)."""
        sends, opens = list(data["sends"]), list(data["opens"])
        if len(sends) != HOURS or len(opens) != HOURS:
            msg = f"hour counts need {HOURS} sends and {HOURS} opens"
            raise ValueError(msg)
        return cls([int(s) for s in sends], [int(o) for o in opens])

    def rates(self) -> tuple[float, ...]:
        """Return each hour's open rate, shrunk towards the overall rate; empty when no sends.

        ``(opens(h) + SHRINK * overall) / (sends(h) + SHRINK)``: an hour with few messages
        says little, and borrows the overall rate until it has more.
        """
        total = sum(self.sends)
        if not total:
            return ()
        overall = sum(self.opens) / total
        # (Opens can outnumber sends after a crash lost a checkpoint's sends: still a rate.)
        return tuple(
            min((self.opens[h] + SHRINK * overall) / (self.sends[h] + SHRINK), 1.0)
            for h in range(HOURS)
        )
