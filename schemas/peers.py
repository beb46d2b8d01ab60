"""Peer distributions: where users stand among similar users, as data.

Each user is compared with a peer group: the first of their live segments that has a
distribution (in the order the distributions list them), or ``all`` users. A
distribution is 101 cut points per metric (the 0th to the 100th percentile of the
group's latest values), computed from PostgreSQL by ``nudge peers refresh`` (run on a
schedule) and published on the definitions topic under ``analytics:peers``; workers read
a user's percentile from them (``streams.core.features.peers``). Groups smaller than
``MIN_PEERS`` users get no distribution: their members are compared with everyone.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

#: The metrics compared, and the feature each is read from.
PEER_METRICS: dict[str, str] = {
    "spend_week": "spend_week",
    "savings_rate": "savings_rate_pct",
    "engagement": "engagement_score",
}
#: Smallest group with a distribution of its own.
MIN_PEERS = 20
#: The group of every user.
ALL_USERS = "all"
#: Cut points per metric: the 0th to the 100th percentile.
CUT_POINTS = 101

Metric = Literal["spend_week", "savings_rate", "engagement"]


class PeerGroup(BaseModel):
    """One group's distributions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    users: Annotated[int, Field(ge=MIN_PEERS)]
    metrics: dict[Metric, list[float]]

    @model_validator(mode="after")
    def _cut_points(self) -> PeerGroup:
        for metric, points in self.metrics.items():
            if len(points) != CUT_POINTS or any(b < a for a, b in pairwise(points)):
                msg = f"metrics.{metric}: {CUT_POINTS} cut points in ascending order"
                raise ValueError(msg)
        return self


class PeerDistributions(BaseModel):
    """Every group's distributions, in the order groups are tried."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    computed_at: AwareDatetime
    groups: dict[str, PeerGroup] = {}

    @property
    def order(self) -> list[str]:
        """The group ids in the order they are tried (``all`` is the fallback)."""
        return [group for group in self.groups if group != ALL_USERS]


def validate_peers(document: Any) -> PeerDistributions | list[str]:
    """Return the distributions, or every problem as ``path: reason``."""
    try:
        return PeerDistributions.model_validate(document)
    except ValidationError as exc:
        return [
            f"{'.'.join(str(part) for part in error['loc']) or '(top)'}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors(include_url=False, include_input=False)
        ]
