"""Triggers in ``shadow``: evaluated and recorded as if active, never sent.

A shadow trigger's match is judged exactly as an active one's would be (eligibility,
cooldown, the arms, quiet hours, the caps as live sends left them), and recorded as a
decision suppressed with reason ``shadow`` whose ``would_have`` says what it would have
been. Nothing else it does reaches live sends:

- no command is made or held, no send enters the ledger, so no cap or quiet-hour slot
  is taken, and a lower-priority live trigger on the same event is judged as if the
  shadow one did not exist;
- it exposes nobody to an experiment (no arm is assigned);
- its own memory (last firing, closed month judged, episode judged) is kept under
  ``shadow:<id>`` in the record. While in shadow it reads the trigger's live memory too
  (a trigger paused, then shadowed, still honours its last real firing's cooldown), but
  it writes only its own: a trigger promoted from shadow to active starts with the
  cooldowns and episodes of its real sends alone.

Its decisions carry ids of their own (``shadow:`` before the cause), so the live decision
made on the same cause after a promotion is never taken for a duplicate of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from schemas.ids import decision_id
from schemas.records import Outcome, SuppressionReason, TriggerDecision, WouldHave
from schemas.triggers import TriggerDefinition
from streams.core.decisions.firing import judge
from streams.core.decisions.send_policy import SendPolicy
from streams.core.features.context import FeatureContext
from streams.core.rendering import Catalogue
from streams.core.state.record import UserState
from streams.core.state.studies import Experiments
from streams.core.triggers.evaluation import Match

#: Prefix of a shadow trigger's keys in the record's per-trigger memories. Trigger ids
#: cannot hold ``:`` (``schemas.triggers``), so no live trigger ever reads these.
SHADOW_PREFIX = "shadow:"
#: The record's per-trigger memories: last firing, closed month judged, episode judged.
_MEMORIES = ("last_fired", "evaluated", "episodes")


def is_shadow(definition: TriggerDefinition) -> bool:
    """Return whether ``definition`` is evaluated in shadow (``testing`` reads as it)."""
    return definition.status in ("shadow", "testing")


@contextmanager
def shadow_memory(state: UserState, trigger_id: str) -> Iterator[None]:
    """Within: the trigger's memories are its shadow's; after, the live ones are back.

    Read: the shadow's own, or the live one (the later firing or month of the two).
    Written: whatever changed goes to the shadow's keys only.
    """
    key = SHADOW_PREFIX + trigger_id
    live: dict[str, Any] = {}
    loaded: dict[str, Any] = {}
    for name in _MEMORIES:
        memory: dict[str, Any] = getattr(state, name)
        live[name] = memory.get(trigger_id)
        own = memory.get(key)
        if own is not None:
            later = name != "episodes" and live[name] is not None
            memory[trigger_id] = max(own, live[name]) if later else own
        loaded[name] = memory.get(trigger_id)
    try:
        yield
    finally:
        for name in _MEMORIES:
            memory = getattr(state, name)
            value = memory.get(trigger_id)
            if value is not None and value != loaded[name]:
                memory[key] = value
            if live[name] is None:
                memory.pop(trigger_id, None)
            else:
                memory[trigger_id] = live[name]


def judge_shadow(  # noqa: PLR0913 - judge's inputs
    ctx: FeatureContext,
    definition: TriggerDefinition,
    match: Match,
    *,
    catalogue: Catalogue,
    policy: SendPolicy,
    taken: set[str],
    now: datetime,
    experiments: Experiments | None,
) -> TriggerDecision:
    """Judge a shadow trigger's match as if active; return its ``shadow`` decision.

    Changes only the shadow's own memory (its would-be firing starts its would-be
    cooldown); see the module's description.
    """
    with shadow_memory(ctx.state, definition.id):
        firing = judge(
            ctx, definition, match, catalogue=catalogue, policy=policy, taken=taken, now=now,
            experiments=experiments,
        )  # fmt: skip
        if firing.decision.outcome is Outcome.FIRED or firing.silent:
            at = ctx.at.timestamp()
            memory = ctx.state.last_fired
            memory[definition.id] = max(at, memory.get(definition.id, at))
    would = firing.decision
    channels = [command.channel.value for command in firing.commands]
    # What judge added after the match's own sentence: "Suppressed: ..." or "Note: ...".
    said = would.detail.removeprefix(match.detail).strip()
    verb = (
        f"sent on {', '.join(channels)}"
        if would.outcome is Outcome.FIRED
        else f"been suppressed ({would.reason})"
    )
    return would.model_copy(
        update={
            "decision_id": decision_id(definition.id, ctx.user_id, f"shadow:{match.cause}"),
            "outcome": Outcome.SUPPRESSED,
            "reason": SuppressionReason.SHADOW,
            "detail": f"{match.detail} Shadow, nothing sent: would have {verb}. {said}".strip(),
            "command_ids": [],
            "experiment": None,
            "variant": None,
            "would_have": WouldHave(outcome=would.outcome, reason=would.reason, channels=channels),
        }
    )
