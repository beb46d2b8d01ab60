"""The feature registry: every feature's function, by name, and the contexts that use them.

Every feature named in ``schemas.features`` has a function in one family module
(``basics``, ``financial``, ``life``, ``career``, ``engagement``, ``behavior``,
``sessions``, ``behavior_scores``, ``patterns``, ``peers``,
``funnels``, ``learned``), merged into ``COMPUTE`` here; a test
holds the two lists equal. Values are plain: floats (dollars, percent, days, counts, epoch seconds),
strings and booleans; ``None`` when there is not enough history or the event does not
carry the figure, which no comparison matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from schemas.events import Event
from schemas.peers import PeerDistributions
from schemas.scores import ScoreModel
from streams.core.features import (
    basics,
    behavior,
    behavior_scores,
    career,
    engagement,
    financial,
    funnels,
    learned,
    life,
    patterns,
    peers,
    sessions,
)
from streams.core.features.context import Before, Feature, FeatureContext
from streams.core.state.record import UserState

_FAMILIES = (
    basics, financial, life, career, engagement, behavior, sessions, behavior_scores,
    patterns, peers, funnels, learned,
)  # fmt: skip

#: Features derived from others: a decision records these inputs beside the result.
DEPENDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {name: inputs for family in _FAMILIES for name, inputs in family.DEPENDS.items()}
)

#: Feature name -> how to compute it. Must match ``schemas.features.FEATURES``.
COMPUTE: Mapping[str, Feature] = MappingProxyType(
    {name: compute for family in _FAMILIES for name, compute in family.COMPUTE.items()}
)


def event_context(
    state: UserState,
    event: Event,
    before: Before,
    scores: ScoreModel | None = None,
    peers: PeerDistributions | None = None,
) -> FeatureContext:
    """The context of an event, evaluated at its own time."""
    return FeatureContext(
        event.user_id, state, event, before, event.occurred_at, COMPUTE,
        score_model=scores, peers=peers,
    )  # fmt: skip


def scheduled_context(
    user_id: str,
    state: UserState,
    now: datetime,
    scores: ScoreModel | None = None,
    peers: PeerDistributions | None = None,
) -> FeatureContext:
    """The context of a scheduled evaluation at ``now`` (nothing changed, no event)."""
    return FeatureContext(
        user_id, state, None, Before.of(state), now, COMPUTE, score_model=scores, peers=peers
    )
