"""What the analytics half of the record is kept with: visits, scores, patterns, segments.

One object so the core's entry points take one argument for all three, and the worker
can swap it whole when new weights or rules are applied. They are applied like trigger
definitions (``nudge scores apply``, ``nudge patterns apply``): published on the compacted
definitions topic under the keys ``SCORES_KEY`` and ``PATTERNS_KEY`` (trigger ids never
hold a colon), followed by every worker; a tombstone brings back the shipped ones.
Segments are one entry each, under ``segment:<id>`` (``nudge segments apply``): they
join the shipped ones, replacing a shipped one of the same id; a tombstone removes the
topic's (members leave at their next evaluation) and brings back a shipped one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import TypeVar

import orjson

from schemas.experiments import (
    MAX_EXPERIMENTS_IN_FORCE,
    ExperimentDefinition,
    overlap_problems,
    validate_experiment,
)
from schemas.funnels import MAX_FUNNELS_IN_FORCE, validate_funnel
from schemas.patterns import PatternRules, validate_patterns
from schemas.peers import PeerDistributions, validate_peers
from schemas.personalization import PersonalizationRules, validate_personalization
from schemas.scores import ScoreModel, validate_scores
from schemas.segments import MAX_SEGMENTS_IN_FORCE, validate_segment
from schemas.validation import Identified
from streams.core.state.scores import default_score_model
from streams.core.state.segment_tracks import Segments, default_segments
from streams.core.state.shipped import shipped
from streams.core.state.studies import Experiments, Funnels, default_experiments, default_funnels
from streams.core.state.visits import VisitPolicy

T = TypeVar("T")
D = TypeVar("D", bound=Identified)


@cache
def default_pattern_rules() -> PatternRules:
    """Return the shipped pattern rules (``streams/catalogue/patterns.yaml``), validated."""
    return shipped("patterns.yaml", validate_patterns)


@cache
def default_personalization() -> PersonalizationRules:
    """Return the shipped personalization rules (``streams/catalogue/personalization.yaml``)."""
    return shipped("personalization.yaml", validate_personalization)


@dataclass(frozen=True, slots=True)
class Analytics:
    """How visits are cut, how scores are weighed, which pattern rules label users."""

    visits: VisitPolicy = field(default_factory=VisitPolicy)
    scores: ScoreModel = field(default_factory=default_score_model)
    patterns: PatternRules = field(default_factory=default_pattern_rules)
    segments: Segments = field(default_factory=default_segments)
    personalization: PersonalizationRules = field(default_factory=default_personalization)
    peers: PeerDistributions | None = None
    """Where users stand among similar users (``nudge peers refresh``); none shipped."""
    experiments: Experiments = field(default_factory=default_experiments)
    """The experiments in force, with the global control group (``streams.core.experiments``)."""
    funnels: Funnels = field(default_factory=default_funnels)
    """The funnels in force (``streams.core.funnels``)."""


#: Keys of the definitions topic that hold the analytics data (JSON documents).
SCORES_KEY = b"analytics:scores"
PATTERNS_KEY = b"analytics:patterns"
PERSONALIZATION_KEY = b"analytics:personalization"
PEERS_KEY = b"analytics:peers"
#: Segment definitions are keyed ``segment:<id>``, experiments ``experiment:<id>`` and
#: funnels ``funnel:<id>``.
SEGMENT_PREFIX = b"segment:"
EXPERIMENT_PREFIX = b"experiment:"
FUNNEL_PREFIX = b"funnel:"


def segment_key(segment_id: str) -> bytes:
    """Return the definitions topic's key for a segment."""
    return SEGMENT_PREFIX + segment_id.encode()


@dataclass(frozen=True, slots=True)
class Applied:
    """The analytics in force, given the topic's entries, and the entries refused."""

    analytics: Analytics
    refused: dict[str, list[str]]


def analytics_from(
    entries: dict[bytes, bytes],
    visits: VisitPolicy,
    global_control: ExperimentDefinition | None = None,
) -> Applied:
    """Return the analytics the topic's entries give (the shipped ones where none, or bad).

    Args:
        entries: The definitions topic's entries (trigger ids and namespaced keys).
        visits: How visits are cut (a setting, not data on the topic).
        global_control: The global control group (a setting), if there is one.
    """
    refused: dict[str, list[str]] = {}
    scores = _entry(entries, SCORES_KEY, validate_scores, default_score_model(), refused)
    patterns = _entry(entries, PATTERNS_KEY, validate_patterns, default_pattern_rules(), refused)
    personal = _entry(
        entries, PERSONALIZATION_KEY, validate_personalization, default_personalization(), refused
    )
    segments = _segments(entries, refused)
    peers = _entry(entries, PEERS_KEY, validate_peers, None, refused)
    experiments = _experiments(entries, global_control, refused)
    funnels = _funnels(entries, refused)
    return Applied(
        Analytics(visits, scores, patterns, segments, personal, peers, experiments, funnels),
        refused,
    )


def _segments(entries: dict[bytes, bytes], refused: dict[str, list[str]]) -> Segments:
    """Return the shipped segments with the topic's added (or replacing them, by id)."""
    shipped_ones = default_segments()
    applied, changed = _listed(
        entries, SEGMENT_PREFIX, validate=validate_segment, shipped_ones=shipped_ones.definitions,
        most=MAX_SEGMENTS_IN_FORCE, refused=refused,
    )  # fmt: skip
    return Segments.of(tuple(applied.values())) if changed else shipped_ones


def _experiments(
    entries: dict[bytes, bytes],
    global_control: ExperimentDefinition | None,
    refused: dict[str, list[str]],
) -> Experiments:
    """Return the shipped experiments with the topic's added (or replacing them, by id).

    A running experiment on a trigger another running one already changes is refused.
    """

    def overlapping(
        applied: dict[str, ExperimentDefinition], found: ExperimentDefinition
    ) -> list[str]:
        return overlap_problems([*(d for d in applied.values() if d.id != found.id), found])

    applied, _ = _listed(
        entries, EXPERIMENT_PREFIX, validate=validate_experiment,
        shipped_ones=default_experiments().definitions.values(),
        most=MAX_EXPERIMENTS_IN_FORCE, refused=refused, conflicts=overlapping,
    )  # fmt: skip
    return Experiments.of(tuple(applied.values()), global_control)


def _funnels(entries: dict[bytes, bytes], refused: dict[str, list[str]]) -> Funnels:
    """Return the shipped funnels with the topic's added (or replacing them, by id)."""
    shipped_ones = default_funnels()
    applied, changed = _listed(
        entries, FUNNEL_PREFIX, validate=validate_funnel, shipped_ones=shipped_ones.definitions,
        most=MAX_FUNNELS_IN_FORCE, refused=refused,
    )  # fmt: skip
    return Funnels.of(tuple(applied.values())) if changed else shipped_ones


def _listed(  # noqa: PLR0913 - the namespace and its rules
    entries: dict[bytes, bytes],
    prefix: bytes,
    *,
    validate: Callable[[object], D | list[str]],
    shipped_ones: Iterable[D],
    most: int,
    refused: dict[str, list[str]],
    conflicts: Callable[[dict[str, D], D], list[str]] | None = None,
) -> tuple[dict[str, D], bool]:
    """Return the shipped definitions with the topic's ``<prefix><id>`` entries applied.

    An entry replaces a shipped definition of its id, or adds one while fewer than
    ``most`` are in force. One that fails validation, is published under another id's
    key, would exceed ``most``, or ``conflicts`` with those applied is refused (noted in
    ``refused`` with the reasons). Also returns whether any entry was applied.
    """
    applied: dict[str, D] = {d.id: d for d in shipped_ones}
    changed = False
    for key in sorted(k for k in entries if k.startswith(prefix)):
        found = validate(_document(entries[key]))
        if not isinstance(found, list) and key != prefix + found.id.encode():
            found = [f"id: {found.id!r} is published under the key {key.decode()!r}"]
        if not isinstance(found, list) and found.id not in applied and len(applied) >= most:
            found = [f"more than {most} {prefix.decode().rstrip(':')}s in force"]
        if not isinstance(found, list) and conflicts is not None:
            found = conflicts(applied, found) or found
        if isinstance(found, list):
            refused[key.decode()] = found
            continue
        applied[found.id] = found
        changed = True
    return applied, changed


def _entry(
    entries: dict[bytes, bytes],
    key: bytes,
    validate: Callable[[object], T | list[str]],
    shipped_one: T,
    refused: dict[str, list[str]],
) -> T:
    """Return the entry ``key`` validated, or ``shipped_one`` (noting why in ``refused``)."""
    raw = entries.get(key)
    if raw is None:
        return shipped_one
    found = validate(_document(raw))
    if isinstance(found, list):
        refused[key.decode()] = found
        return shipped_one
    return found


def _document(raw: bytes) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None  # refused by validation: "(top): Input should be a valid dictionary"
