"""A fault run against the reference: lost, extra, duplicated and changed ids.

Lost: in the reference, not in the fault run. Extra: the other way round. Duplicates:
copies of one id on a topic beyond the first (allowed under at-least-once, counted).
Changed: an id in both whose content differs. Conflicting: one id on a topic with
copies of different content (a replay that did not reproduce its output).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from streams.chaos.observe import Observation
from streams.core.state.dedup import fingerprint

#: Ids listed per category in the report; the counts are always complete.
SAMPLES = 10


def compare(reference: Observation, run: Observation) -> dict[str, Any]:
    """Return per topic, table and the state: counts (and samples) of every difference."""
    topics = {
        topic: _topic(reference.messages[topic], run.messages.get(topic, {}))
        for topic in reference.messages
    }
    rows = {table: _ids(reference.rows[table], run.rows.get(table, {})) for table in reference.rows}
    state = _ids(reference.state, run.state) | _applied(reference.applied, run.applied)
    return {"topics": topics, "rows": rows, "state": state}


def _topic(reference: Mapping[str, list[str]], run: Mapping[str, list[str]]) -> dict[str, Any]:
    found = _ids({k: v[0] for k, v in reference.items()}, {k: v[0] for k, v in run.items()})
    duplicates = sum(len(copies) - 1 for copies in run.values())
    conflicting = sorted(k for k, copies in run.items() if len(set(copies)) > 1)
    found |= {
        "messages": sum(len(copies) for copies in run.values()),
        "duplicates": duplicates,
        "conflicting": len(conflicting),
        "conflicting_sample": conflicting[:SAMPLES],
    }
    return found


def _ids(reference: Mapping[str, str], run: Mapping[str, str]) -> dict[str, Any]:
    lost = sorted(set(reference) - set(run))
    extra = sorted(set(run) - set(reference))
    changed = sorted(k for k in set(reference) & set(run) if reference[k] != run[k])
    return {
        "reference": len(reference),
        "found": len(run),
        "lost": len(lost),
        "extra": len(extra),
        "changed": len(changed),
        "lost_sample": lost[:SAMPLES],
        "extra_sample": extra[:SAMPLES],
        "changed_sample": changed[:SAMPLES],
    }


def _applied(reference: Mapping[str, int], run: Mapping[str, int]) -> dict[str, Any]:
    """Events each user's final record counts, against the reference: missing or doubled."""
    gaps = {user: run.get(user, 0) - count for user, count in reference.items()}
    gaps |= {user: count for user, count in run.items() if user not in reference}
    return {
        "events_missing": sum(-gap for gap in gaps.values() if gap < 0),
        "events_doubled": sum(gap for gap in gaps.values() if gap > 0),
        "users_with_gaps": {user: gap for user, gap in sorted(gaps.items()) if gap}
        if sum(1 for gap in gaps.values() if gap) <= SAMPLES * 5
        else f"{sum(1 for gap in gaps.values() if gap)} users",
    }


def lost_inputs(
    reference: Observation, run: Observation, located: Mapping[str, tuple[str, int, int]]
) -> dict[str, Any]:
    """Say where in the input the lost outputs came from: per partition, offset ranges.

    Args:
        reference: The reference run (it knows what each lost id's cause was).
        run: The fault run.
        located: Event id -> (topic, partition, offset) of the recorded input.
    """
    offsets: dict[str, list[int]] = defaultdict(list)
    for topic, copies in reference.messages.items():
        for key in set(copies) - set(run.messages.get(topic, {})):
            source = reference.sources.get(key)
            if source is not None and source in located:
                name, partition, offset = located[source]
                offsets[f"{name}/{partition}"].append(offset)
    return {where: _ranges(sorted(set(found))) for where, found in sorted(offsets.items())}


def _ranges(offsets: list[int]) -> dict[str, Any]:
    return {"first": offsets[0], "last": offsets[-1], "causes": len(offsets)}


def unapplied_events(
    reference: Observation, run: Observation, located: Mapping[str, tuple[str, int, int]]
) -> dict[str, list[list[int]]]:
    """Return per input partition the offset ranges of events the run never applied.

    Events the reference applied to a user's record and no record of the run remembers;
    each range is ``[first, last]``, both included.
    """
    offsets: dict[str, list[int]] = defaultdict(list)
    missing = reference.applied_ids - run.applied_ids  # fingerprints of event ids
    for event_id, (name, partition, offset) in located.items():
        if fingerprint(event_id) in missing:
            offsets[f"{name}/{partition}"].append(offset)
    return {where: _contiguous(sorted(found)) for where, found in sorted(offsets.items())}


def _contiguous(offsets: list[int]) -> list[list[int]]:
    """Group sorted offsets into ranges (a malformed message between two counts as a gap)."""
    ranges: list[list[int]] = []
    for offset in offsets:
        if ranges and offset - ranges[-1][1] <= 2:
            ranges[-1][1] = offset
        else:
            ranges.append([offset, offset])
    return ranges


def verdict(differences: Mapping[str, Any]) -> dict[str, int]:
    """Return the totals that decide a run: lost and extra ids, changed rows, duplicates."""
    topics = differences["topics"].values()
    rows = differences["rows"].values()
    return {
        "lost": sum(t["lost"] for t in topics) + sum(r["lost"] for r in rows),
        "extra": sum(t["extra"] for t in topics) + sum(r["extra"] for r in rows),
        "changed": sum(t["changed"] for t in topics) + sum(r["changed"] for r in rows),
        "duplicates_on_topics": sum(t["duplicates"] for t in topics),
        "conflicting": sum(t["conflicting"] for t in topics),
        "state_differs": differences["state"]["lost"]
        + differences["state"]["extra"]
        + differences["state"]["changed"],
        "events_missing": differences["state"]["events_missing"],
        "events_doubled": differences["state"]["events_doubled"],
    }
