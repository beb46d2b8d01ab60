"""Behaviour change: each tracked activity's last complete week against the user's baseline.

The rule, from the event-tracking specification: for every tracked activity (sessions,
page views, transactions, logins, feature use), a rise of at least 100 % or a fall of at
least 50 % against the user's own baseline is a change. Here:

- the week judged is the last complete UTC week (Monday to Sunday) once
  ``WEEK_CLOSE_GRACE`` has passed after it ended, so that events reported a little late
  are counted;
- the baseline is the mean count of the four weeks before it, and exists only when the
  user's history covers those four weeks (their first event on or before the first
  Monday) and the mean is at least ``min_baseline`` events a week. Below that the
  percentages are noise: one login after a usual one is +100 %, none is -100 %;
- change = (week - baseline) / baseline x 100: +100 is twice the usual, -50 half of it.
  "At least" is inclusive, with 1e-9 allowed, so 14 sessions against a usual 7 is a rise.

``judge_behavior`` runs on the worker's timer (``process_idle``): a ``behavior_change``
decision per activity that entered a changed state, with the activity, direction and
size (``schemas.records.BehaviorChange``). Once per entry: a change still there the week
after is not told again, one that ended and came back is. Each feature
``<activity>_week_change_pct`` (``streams.core.features.behavior``) gives the same figure
at any evaluation's time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from schemas.ids import decision_id
from schemas.records import (
    BEHAVIOR_CHANGE_TRIGGER_ID,
    Activity,
    BehaviorChange,
    Outcome,
    TriggerDecision,
)
from streams.core.state.activity_weeks import WEEKS_KEPT, first_day_of_week, week_of_day
from streams.core.state.record import UserState
from streams.core.units import day_number

#: Weeks before the judged one whose mean is the baseline.
BASELINE_WEEKS = 4

#: How long after a week ends it is judged: events reported this late still count.
WEEK_CLOSE_GRACE = timedelta(hours=6)

#: Comparisons allow this much, so a rise of exactly 100 % is one.
_EPSILON = 1e-9

Direction = Literal["rise", "fall"]


@dataclass(frozen=True, slots=True)
class BehaviorPolicy:
    """The thresholds of the rule (settings ``NUDGE_BEHAVIOR_CHANGE_*``).

    Attributes:
        rise_pct: A week at least this much above the baseline is a rise (percent).
        fall_pct: A week at least this much below it is a fall (percent).
        min_baseline: Fewest events a week, on average, for a baseline to exist (the
            ``*_week_change_pct`` features do not apply it: a trigger sets its own).
        enabled: Whether the timer judges behaviour change at all.
    """

    rise_pct: float = 100.0
    fall_pct: float = 50.0
    min_baseline: float = 5.0
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class WeekChange:
    """One activity's judged week against its baseline."""

    week: int
    count: int
    baseline: float
    change_pct: float


def judged_week(at: datetime) -> int:
    """Return the week judged at ``at``: the last complete one, once its grace has passed."""
    return week_of_day(day_number(at - WEEK_CLOSE_GRACE)) - 1


def judged_week_closed_at(at: datetime) -> datetime:
    """Return when the week judged at ``at`` became judgeable: its end plus the grace.

    A worker still reading events older than this (a backlog after an outage, a replay)
    has not seen all of that week yet: its timer waits.
    """
    monday_after = first_day_of_week(judged_week(at) + 1)
    return datetime.fromtimestamp(monday_after * 86_400, UTC) + WEEK_CLOSE_GRACE


def week_change(
    weeks: Mapping[int, int],
    week: int,
    first_day: int | None,
    min_baseline: float,
    *,
    since: int | None = 0,
) -> WeekChange | None:
    """Return ``week`` against the four before it, or ``None`` when there is no baseline.

    Args:
        weeks: One activity's counts by week number (``UserState.activity_weeks``).
        week: The week judged.
        first_day: The user's first day seen (``UserState.first_day``).
        min_baseline: Fewest events a week, on average, for a baseline to exist.
        since: The first week whose counts are whole (``UserState.activity_since``): a
            record from before counting began has none before it, and ``None`` none yet.
    """
    if first_day is None or first_day > first_day_of_week(week - BASELINE_WEEKS):
        return None
    if since is None or since > week - BASELINE_WEEKS:
        return None
    baseline = sum(weeks.get(w, 0) for w in range(week - BASELINE_WEEKS, week)) / BASELINE_WEEKS
    if baseline <= 0 or baseline < min_baseline - _EPSILON:
        return None
    count = weeks.get(week, 0)
    return WeekChange(week, count, baseline, (count - baseline) / baseline * 100)


def state_change(
    state: UserState, activity: str, week: int, min_baseline: float
) -> WeekChange | None:
    """Return ``week_change`` of one activity of ``state`` (its counts and history)."""
    return week_change(
        state.activity_weeks.get(activity, {}), week, state.first_day, min_baseline,
        since=state.activity_since,
    )  # fmt: skip


def direction(change_pct: float, policy: BehaviorPolicy) -> Direction | None:
    """Return ``rise``, ``fall``, or ``None`` when the change is within the thresholds."""
    if change_pct >= policy.rise_pct - _EPSILON:
        return "rise"
    if change_pct <= -policy.fall_pct + _EPSILON:
        return "fall"
    return None


@dataclass(slots=True)
class Judged:
    """What ``judge_behavior`` did: the decisions, and whether the record changed."""

    decisions: list[TriggerDecision] = field(default_factory=list)
    changed: bool = False


def memory_key(activity: str) -> str:
    """Return the ``UserState.evaluated`` key that remembers ``activity``'s told change.

    Its value is the last week judged changed, signed: + for a rise, - for a fall. Only
    activities in a changed state have one.
    """
    return f"{BEHAVIOR_CHANGE_TRIGGER_ID}:{activity}"


def judge_behavior(user_id: str, state: UserState, now: datetime, policy: BehaviorPolicy) -> Judged:
    """Judge every activity's last complete week at ``now``; tell each change once.

    A change is told when it begins: not when the week before was already changed the
    same way. That week is known from the memory (``memory_key``) when the timer judged
    it; when the timer judged no week in between (a worker down for a week), from the
    counts the record still keeps. When even those do not say, the change is not told
    again: a change told twice is worse than a week that no pass looked at.

    Args:
        user_id: Whose record ``state`` is.
        state: The record; its memory of told changes (``memory_key``) is updated.
        now: The timer's clock.
        policy: The thresholds.
    """
    judged = Judged()
    if not policy.enabled:
        return judged
    week = judged_week(now)
    for activity in Activity:
        key = memory_key(activity.value)
        told = state.evaluated.get(key)
        if told is not None and abs(told) >= week:
            continue  # judged already, and changed
        change = state_change(state, activity.value, week, policy.min_baseline)
        moved = direction(change.change_pct, policy) if change is not None else None
        if change is None or moved is None:
            if told is not None:
                del state.evaluated[key]  # the change is over: the next one is news
                judged.changed = True
            continue
        sign = 1 if moved == "rise" else -1
        state.evaluated[key] = sign * week
        judged.changed = True
        if told is None or told * sign < 0 or not _went_on(state, activity, told, week, policy):
            judged.decisions.append(_decision(user_id, activity, moved, change, now))
    return judged


def _went_on(
    state: UserState, activity: Activity, told: int, week: int, policy: BehaviorPolicy
) -> bool:
    """Whether the change told in week ``abs(told)`` went on to the week before ``week``.

    Yes when it was told for that week. When weeks went unjudged since, the week before
    is judged from the kept counts; when they no longer hold its baseline, it is taken to
    have gone on (not told twice).
    """
    if abs(told) == week - 1:
        return True
    newest = max((max(counts) for counts in state.activity_weeks.values()), default=week)
    if week - 1 - BASELINE_WEEKS < newest - WEEKS_KEPT + 1:
        return True  # its baseline has left the kept weeks
    before = state_change(state, activity.value, week - 1, policy.min_baseline)
    moved = "rise" if told > 0 else "fall"
    return before is not None and direction(before.change_pct, policy) == moved


def _decision(
    user_id: str, activity: Activity, moved: Direction, change: WeekChange, now: datetime
) -> TriggerDecision:
    monday = datetime.fromtimestamp(first_day_of_week(change.week) * 86_400, UTC).date()
    what = activity.value.replace("_", " ")
    detail = (
        f"{what.capitalize()} {'rose' if moved == 'rise' else 'fell'} "
        f"{abs(change.change_pct):.0f} % in the week of {monday.isoformat()}: "
        f"{change.count} against a usual {change.baseline:.1f} a week (the 4 weeks before)."
    )
    return TriggerDecision(
        decision_id=decision_id(
            BEHAVIOR_CHANGE_TRIGGER_ID, user_id, f"{activity.value}:{monday.isoformat()}"
        ),
        user_id=user_id,
        trigger_id=BEHAVIOR_CHANGE_TRIGGER_ID,
        outcome=Outcome.FIRED,
        detail=detail,
        source_event_id=None,
        event_type=None,
        occurred_at=now,
        features={f"{activity.value}_week_change_pct": round(change.change_pct, 2)},
        command_ids=[],
        behavior_change=BehaviorChange(
            activity=activity,
            direction=moved,
            change_pct=round(change.change_pct, 2),
            week_start=monday,
            week_count=change.count,
            baseline_per_week=change.baseline,
        ),
    )
