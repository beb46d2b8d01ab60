"""Two definition sets over one history: what each trigger would do under each, and the diff.

``simulate`` decodes the history once and replays it twice, from empty state each time,
with the live definitions and with the candidate ones; ``Simulation.to_json`` is the
report ``nudge triggers simulate --json`` prints. A change to one trigger can move
others (the caps are shared, a more important trigger takes the slots first), so every
trigger is compared, not only the changed ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.triggers import TriggerDefinition
from streams.core.replay.history import History, InputMessage, Window, take_in
from streams.core.replay.replay import CoreSetup, Tally, TriggerTally, replay

#: What the report says about state, once per report.
STATE_NOTE = (
    "state starts empty at the oldest event replayed: baselines (weekly spend, monthly "
    "income...) warm up over the replay; --warmup folds older history first, uncounted"
)


@dataclass(frozen=True, slots=True)
class TriggerComparison:
    """One trigger under the live and the candidate definitions.

    Attributes:
        trigger_id: The trigger.
        changed: Its candidate definition differs from the live one (or is new, or gone).
        live: What it did under the live definitions (empty if it has none).
        candidate: What it did under the candidate definitions.
        gained: Users it fired for only under the candidate, sorted.
        lost: Users it fired for only under the live definitions, sorted.
    """

    trigger_id: str
    changed: bool
    live: TriggerTally
    candidate: TriggerTally
    gained: list[str]
    lost: list[str]

    @property
    def differs(self) -> bool:
        """Whether anything it did differs between the two runs."""
        return self.live != self.candidate


@dataclass(frozen=True, slots=True)
class Simulation:
    """The report: the history, both runs' totals, and every trigger compared."""

    window: Window
    history: History
    live: Tally
    candidate: Tally
    triggers: list[TriggerComparison]

    @property
    def changed(self) -> list[str]:
        """The ids of the triggers whose definition the candidate changes."""
        return [t.trigger_id for t in self.triggers if t.changed]

    def to_json(self, examples: int) -> dict[str, Any]:
        """Return the report as JSON-ready data, with up to ``examples`` users per list."""
        history = self.history
        return {
            "window": {
                "since": self.window.start.isoformat(),
                "until": self.window.end.isoformat(),
                "warmup_from": self.window.folded_from.isoformat(),
            },
            "state": STATE_NOTE,
            "input": {
                "messages": history.messages,
                "events": len(history.events) - history.warmup,
                "warmup_events": history.warmup,
                "outside_window": history.outside,
                "dead_letters": dict(sorted(history.dead_letters.items())),
            },
            "runs": {"live": _totals(self.live), "candidate": _totals(self.candidate)},
            "changed": self.changed,
            "triggers": {
                t.trigger_id: {
                    "changed": t.changed,
                    "live": _tally_json(t.live),
                    "candidate": _tally_json(t.candidate),
                    "gained": len(t.gained),
                    "lost": len(t.lost),
                    "gained_examples": t.gained[:examples],
                    "lost_examples": t.lost[:examples],
                    "fired_examples": {
                        "live": sorted(t.live.fired_users)[:examples],
                        "candidate": sorted(t.candidate.fired_users)[:examples],
                    },
                }
                for t in self.triggers
            },
        }


def simulate(
    messages: Iterable[InputMessage],
    live: Sequence[TriggerDefinition],
    candidate: Sequence[TriggerDefinition],
    setup: CoreSetup,
    window: Window,
) -> Simulation:
    """Replay ``messages`` with the live and with the candidate definitions; compare.

    Args:
        messages: The input topics' messages, in any order (``take_in`` orders them).
        live: The definitions in force.
        candidate: The definitions as they would be after the change.
        setup: Templates, policies and the timer's settings, the same for both runs.
        window: The event time reported on, and the warm-up before it.
    """
    history = take_in(messages, window)
    live_tally = replay(history.events, live, setup, window)
    candidate_tally = replay(history.events, candidate, setup, window)
    return Simulation(
        window=window,
        history=history,
        live=live_tally,
        candidate=candidate_tally,
        triggers=compare(live, candidate, live_tally, candidate_tally),
    )


def compare(
    live: Sequence[TriggerDefinition],
    candidate: Sequence[TriggerDefinition],
    live_tally: Tally,
    candidate_tally: Tally,
) -> list[TriggerComparison]:
    """Return every trigger of either set compared, the changed ones first, then by id."""
    before = {d.id: d for d in live}
    after = {d.id: d for d in candidate}
    compared = []
    for trigger_id in sorted(before.keys() | after.keys()):
        old = live_tally.triggers.get(trigger_id, TriggerTally())
        new = candidate_tally.triggers.get(trigger_id, TriggerTally())
        compared.append(
            TriggerComparison(
                trigger_id=trigger_id,
                changed=before.get(trigger_id) != after.get(trigger_id),
                live=old,
                candidate=new,
                gained=sorted(new.fired_users - old.fired_users),
                lost=sorted(old.fired_users - new.fired_users),
            )
        )
    compared.sort(key=lambda t: not t.changed)  # stable: by id within each part
    return compared


def _tally_json(tally: TriggerTally) -> dict[str, Any]:
    return {
        "users": len(tally.fired_users),
        "firings": tally.firings,
        "sends": dict(sorted(tally.sends.items())),
        "suppressed": dict(sorted(tally.suppressed.items())),
    }


def _totals(tally: Tally) -> dict[str, int]:
    return {
        "events": tally.events,
        "users": tally.users,
        "duplicates": tally.duplicates,
        "not_evaluated": tally.not_evaluated,
        "processing_errors": tally.processing_errors,
        "timer_passes": tally.ticks,
        "firings": sum(t.firings for t in tally.triggers.values()),
        "sends": sum(sum(t.sends.values()) for t in tally.triggers.values()),
    }
