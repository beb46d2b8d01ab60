"""From an event, or a tick of the clock, to decisions and commands: the pure core.

``process`` folds an event into the user's state, evaluates the trigger definitions that
event concerns, and returns every decision (fired or suppressed, with the reason) and
every command to send. ``process_scheduled`` evaluates time-based definitions for a user
when nothing happened (inactivity, a date coming up), and ``release_due`` hands over
commands held for a later ``send_at`` (``release``). Each match is judged in ``firing``
(eligibility first, then the send policy); with a behaviour policy, the timer also judges
each activity's last week (``streams.core.behavior.change``). Ids derive from the cause
(event id, closed month, episode or judged week), so running any of them again on the same
input gives the same output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from schemas.events import Event
from schemas.triggers import TriggerDefinition
from streams.core.alerts.serving import AlertModel, AlertOutputs, on_event, serve_promoted
from streams.core.behavior.change import BehaviorPolicy, judge_behavior
from streams.core.decisions.firing import judge, remember
from streams.core.decisions.learning import credit_outcome, debit_score
from streams.core.decisions.release import release_due
from streams.core.decisions.result import Result
from streams.core.decisions.send_policy import SendPolicy
from streams.core.decisions.shadow import is_shadow, judge_shadow, shadow_memory
from streams.core.experiments.attribution import attribute
from streams.core.features.context import Before, FeatureContext
from streams.core.features.registry import event_context, scheduled_context
from streams.core.funnels.progress import advance, expire
from streams.core.patterns.label import update_pattern
from streams.core.patterns.snapshot import new_day, snapshot
from streams.core.rendering import Catalogue
from streams.core.risk.intervention import decide_intervention
from streams.core.risk.policy import InterventionPolicy
from streams.core.segments.membership import update_segments
from streams.core.segments.personalization import update_personalization
from streams.core.state.analytics import Analytics
from streams.core.state.fold import apply_event
from streams.core.state.record import UserState
from streams.core.state.segment_tracks import track_event
from streams.core.state.studies import Experiments
from streams.core.triggers.evaluation import evaluate


def process(  # noqa: PLR0913 - the core's inputs, each policy keyword-only with a default
    state: UserState,
    event: Event,
    definitions: Sequence[TriggerDefinition],
    catalogue: Catalogue,
    *,
    now: datetime,
    max_event_age_seconds: float,
    policy: SendPolicy | None = None,
    interventions: InterventionPolicy | None = None,
    intervention_templates: Catalogue | None = None,
    analytics: Analytics | None = None,
    alert_model: AlertModel | None = None,
) -> Result:
    """Apply one event to its user's state and decide what to send.

    Args:
        state: The user's record; changed in place.
        event: A validated event of that user.
        definitions: Trigger definitions; paused ones are skipped.
        catalogue: Message templates.
        now: Processing time. Used to skip evaluating events older than
            ``max_event_age_seconds`` (backfills build state but message nobody), and as
            the clock of the dedup window (``streams.core.state.dedup``).
        max_event_age_seconds: See ``now``.
        policy: Frequency caps and quiet hours shared by all triggers (defaults if None).
        interventions: Risk tiers, trend, cool-off (defaults if None); a fresh
            ``risk_score`` event may start an intervention (``streams.core.risk.intervention``).
        intervention_templates: The intervention messages in force (the shipped ones if
            None; ``streams.core.templates``).
        analytics: How visits are cut, scores weighed and users labelled with a pattern
            (``streams.core.state.analytics``; the shipped ones if None). A fresh event
            updates the user's pattern before the triggers are evaluated, and a change
            is a ``pattern_change`` decision (``streams.core.patterns``). Then its live
            segments are judged (``streams.core.segments``), before the triggers, so
            ``target.segments`` sees who is in them now.
        alert_model: The alert recommender in force, if any: a user whose alert profile
            changed materially, or who was not served its version yet, is served
            (``streams.core.alerts.serving``; profiles are published with or without one).

    Returns:
        The decisions and commands, empty for duplicates and stale events.
    """
    before = Before.of(state)
    models = analytics or Analytics()
    if not apply_event(state, event, now=now, visits=models.visits, scores=models.scores):
        return Result(applied=False, evaluated=False)
    occurred = event.occurred_at.timestamp()
    track_event(state, event.type, occurred, models.segments)
    # Facts, late or not: a conversion, a funnel step (before the triggers, which may
    # read the drop-out it notes).
    conversions = attribute(state, event, models.experiments)
    steps = advance(state, event, models.funnels)
    opened = credit_outcome(state, event)
    fresh = (now - event.occurred_at).total_seconds() <= max_event_age_seconds
    alerts = on_event(
        state, event.user_id, at=event.occurred_at, cause=event.event_id, fresh=fresh,
        model=alert_model,
    )  # fmt: skip
    score = debit_score(state, event)
    if not fresh:
        return Result(
            evaluated=False, conversions=conversions, funnel_steps=steps,
            alert_profile=alerts.profile, opened_hours=opened, anomaly_score=score,
        )  # fmt: skip
    ctx = event_context(state, event, before, models.scores, models.peers)
    insight = update_pattern(ctx, models.patterns)
    at = max(occurred, state.watermark)
    joined_or_left = update_segments(ctx, models.segments, at=at, cause=event.event_id)
    rule_changed = update_personalization(ctx, models.personalization, at)
    wanted = [d for d in definitions if event.type in d.evaluate_on.events]
    result = _decide_all(
        ctx, wanted, catalogue, now, policy or SendPolicy(), experiments=models.experiments
    )
    result.segment_changes = joined_or_left
    result.conversions = conversions
    result.funnel_steps = steps
    result.alert_profile = alerts.profile
    result.recommendations = alerts.recommendations or []
    result.opened_hours = opened
    result.anomaly_score = score
    if insight is not None:
        result.decisions.insert(0, insight)
    if insight is not None or joined_or_left or rule_changed or new_day(before.watermark, occurred):
        result.analytics = snapshot(ctx, occurred, event.event_id)
    if event.type == "risk_score" and state.risk is not None:
        risk = decide_intervention(
            state.risk, event, state.profile, interventions, intervention_templates
        )
        if risk.decision is not None:
            result.decisions.append(risk.decision)
        if risk.command is not None:
            result.interventions.append(risk.command)
    return result


def process_scheduled(
    user_id: str,
    state: UserState,
    definitions: Sequence[TriggerDefinition],
    catalogue: Catalogue,
    *,
    now: datetime,
    policy: SendPolicy | None = None,
    experiments: Experiments | None = None,
) -> Result:
    """Evaluate time-based definitions for one user at ``now``, with no event.

    Each definition judges an episode once (``TriggerDefinition.episode``): a firing, or
    a suppression, is not repeated on later ticks until the episode changes.

    Args:
        user_id: Whose record ``state`` is.
        state: The user's record; changed in place when something is decided.
        definitions: Definitions with a schedule that are due; paused ones are skipped.
        catalogue: Message templates.
        now: The scheduler's clock.
        policy: Frequency caps and quiet hours (defaults if None).
        experiments: The experiments in force (exposures and arms, as on events).
    """
    ctx = scheduled_context(user_id, state, now)
    wanted = [d for d in definitions if d.evaluate_on.every is not None]
    judged = dict(state.evaluated)
    result = _decide_all(
        ctx, wanted, catalogue, now, policy or SendPolicy(), experiments=experiments
    )
    result.judged = state.evaluated != judged  # kept, so a month is judged once
    return result


def process_idle(  # noqa: PLR0913 - the timer's inputs, each keyword-only with a default
    user_id: str,
    state: UserState,
    due: Sequence[TriggerDefinition],
    catalogue: Catalogue,
    *,
    now: datetime,
    policy: SendPolicy | None = None,
    behavior: BehaviorPolicy | None = None,
    analytics: Analytics | None = None,
    segments: bool = False,
    alert_model: AlertModel | None = None,
    categories: Mapping[str, str] | None = None,
) -> Result:
    """What the timer does for one user at ``now``: release held sends, then run ``due``.

    Released commands come first in ``commands`` (``Result.released`` counts them). With
    ``behavior`` (the daily pass, not while replaying), each activity's last complete
    week is judged too (``streams.core.behavior.change``), and the user's pattern is
    updated (a user gone quiet becomes ``at_risk`` with no event): their decisions come
    last. With ``segments`` (the segments' pass, not while replaying), the user's live
    segments are judged at ``now`` (an inactive user joins with no event). With
    ``alert_model``, a user not served its version yet is
    (``streams.core.alerts.serving.serve_promoted``). ``categories`` (trigger id ->
    category, for the definitions in force) lets a release re-check category consent.
    """
    released = release_due(
        user_id, state, now, policy=policy or SendPolicy(), categories=categories
    )
    served = None if alert_model is None else serve_promoted(state, user_id, alert_model, now)
    if not due and behavior is None and not segments:
        return _with_served(released, served)
    models = analytics or Analytics()
    result = (
        process_scheduled(
            user_id, state, due, catalogue, now=now, policy=policy,
            experiments=models.experiments,
        )
        if due
        else Result()
    )  # fmt: skip
    ctx = scheduled_context(user_id, state, now, models.scores, models.peers)
    was = state.pattern
    if behavior is not None:
        judged = judge_behavior(user_id, state, now, behavior)
        result.decisions.extend(judged.decisions)
        insight = update_pattern(ctx, models.patterns)
        if insight is not None:
            result.decisions.append(insight)
        result.judged = result.judged or judged.changed or state.pattern != was
    rule_changed = False
    if segments:
        result.funnel_steps = expire(state, now.timestamp(), models.funnels, user_id)
        result.segment_changes = update_segments(ctx, models.segments, at=now.timestamp())
        rule_changed = update_personalization(ctx, models.personalization, now.timestamp())
        result.judged |= rule_changed
    if result.segment_changes or state.pattern != was or rule_changed:
        result.analytics = snapshot(ctx, now.timestamp(), None)
    result.decisions[:0] = released.decisions
    result.commands[:0] = released.commands
    result.released = released.released
    return _with_served(result, served)


def _with_served(result: Result, served: AlertOutputs | None) -> Result:
    """Add a promotion's serving to ``result``; the record (who was served) is then stored."""
    if served is not None:
        result.recommendations.extend(served.recommendations or [])
        result.alert_profile = served.profile
        result.judged = True
    return result


def _decide_all(
    ctx: FeatureContext,
    definitions: Sequence[TriggerDefinition],
    catalogue: Catalogue,
    now: datetime,
    policy: SendPolicy,
    *,
    experiments: Experiments | None,
) -> Result:
    matches = []
    for definition in definitions:
        if definition.status == "paused":
            continue
        if is_shadow(definition):
            with shadow_memory(ctx.state, definition.id):  # its judged months and episodes
                match = evaluate(definition, ctx)
        else:
            match = evaluate(definition, ctx)
        if match is not None:
            matches.append((definition, match))
    # Most important first: when triggers compete for the capped slots, they win them.
    # (Sorting the few matches, not every definition on every event: this is the hot path.)
    matches.sort(key=lambda pair: (pair[0].priority.rank, pair[0].id))
    result = Result()
    taken: set[str] = set()
    for definition, match in matches:
        if is_shadow(definition):
            # Recorded, never sent: it takes no slot from the live triggers after it.
            shadow = judge_shadow(
                ctx, definition, match, catalogue=catalogue, policy=policy, taken=taken,
                now=now, experiments=experiments,
            )  # fmt: skip
            result.decisions.append(shadow)
            continue
        firing = judge(
            ctx, definition, match, catalogue=catalogue, policy=policy, taken=taken, now=now,
            experiments=experiments,
        )  # fmt: skip
        result.sent_hours += remember(ctx.state, definition, firing, ctx.at.timestamp())
        taken.update(command.channel.value for command in firing.commands)
        result.decisions.append(firing.decision)
        result.assignments.extend(firing.assignments)
        result.held += len(firing.held)
        result.commands.extend(c for c in firing.commands if c.command_id not in firing.held)
    return result
