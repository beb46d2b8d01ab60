"""How one event folds into a user's record, at most once per event id.

Buckets are keyed by event time (``occurred_at``), so replaying the same events gives the
same state; each kind of event has its own small fold, chosen by the payload's type.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from models.online import anomaly, goals
from schemas.events import (
    AlertRule,
    ApplicationComplete,
    ApplicationStart,
    AppSession,
    BalanceSnapshot,
    CommsOutcome,
    Event,
    GoalModification,
    HealthSignal,
    IncomeDeposit,
    PageView,
    Payment,
    ProfileUpdate,
    QuoteRequest,
    RiskScore,
    SavingsProgress,
    Transaction,
)
from schemas.scores import ScoreModel
from streams.core.state import alert_stats
from streams.core.state.activity_weeks import (
    ACTIVITY_OF_EVENT,
    WEEKS_KEPT,
    count_activity,
    week_of_day,
)
from streams.core.state.consent import record_consent
from streams.core.state.dedup import DEDUP_WINDOW_HOURS, fingerprint, remember, watermark_hour
from streams.core.state.record import UserState
from streams.core.state.risk_memory import RiskMemory, note_payment, note_risk_score
from streams.core.state.scores import add_points, default_score_model, event_points
from streams.core.state.visits import VISIT_EVENTS, VisitPolicy, note_visit
from streams.core.units import (
    day_number,
    day_of,
    hour_number,
    month_number,
    to_cents,
    user_zone,
)

#: Days of daily spend kept: five 7-day windows (this week and four for the baseline)
#: plus a week of allowed lateness.
DAILY_BUCKETS_KEPT = 42


#: Months of income kept: the month just closed, three for the baseline, and the current.
MONTHLY_BUCKETS_KEPT = 6
#: Income deposits kept (amounts only): enough to tell a regular salary from a one-off.
DEPOSITS_KEPT = 6


#: Days of app-session counts kept: this week, the four weeks of the usual-use baseline,
#: and a week of allowed lateness.
SESSION_DAYS_KEPT = 42


#: Hours of page-view counts kept: one 24-hour window plus six hours of allowed lateness.
PAGE_VIEW_HOURS_KEPT = 30


#: The default cut of activity into visits (30 minutes without activity).
DEFAULT_VISITS = VisitPolicy()

#: Quote requests whose times are kept: enough to count "a second one within a week".
QUOTE_TIMES_KEPT = 3


#: Savings goals whose highest milestone is kept; the least recently progressed goal is
#: forgotten first (it would at worst be congratulated on a milestone again).
GOALS_KEPT = 5

#: Savings goals with a deadline whose progress figures are kept (``goal_probability``).
GOAL_PROGRESS_KEPT = 3


#: Started applications remembered until completed; the oldest is forgotten first.
APPLICATIONS_KEPT = 3


#: Savings milestones are every 25 % of a goal's target, up to 100 %.
MILESTONE_STEP = 25


def savings_milestone(saved: Decimal, target: Decimal) -> int:
    """Return the highest milestone (0, 25, 50, 75 or 100 %) ``saved`` reaches of ``target``.

    Exact (decimal) arithmetic, so 25 % of the target is the 25 milestone, not 24.99...
    A target of zero has no milestones.
    """
    if target <= 0:
        return 0
    reached = int(saved * 100 / target // MILESTONE_STEP) * MILESTONE_STEP
    return min(reached, 100)


def apply_event(
    state: UserState,
    event: Event,
    *,
    now: datetime | None = None,
    dedup_window_hours: int = DEDUP_WINDOW_HOURS,
    visits: VisitPolicy = DEFAULT_VISITS,
    scores: ScoreModel | None = None,
) -> bool:
    """Fold one event into the user's state, at most once per ``event_id``.

    Args:
        state: The user's record, changed in place.
        event: A validated event of this user.
        now: Processing time: the clock the dedup window runs on (redeliveries and
            retries come soon after, however far event time moved). Without it, the
            user's watermark is the clock (replays in tests).
        dedup_window_hours: Hours an applied id is remembered for on that clock
            (``streams.core.state.dedup``); default ``DEDUP_WINDOW_HOURS``.
        visits: How activity is cut into visits (``streams.core.state.visits``).
        scores: The behaviour scores' weights (the shipped ones if None).

    Returns:
        False if the event was already applied (a duplicate), True otherwise.
    """
    key = fingerprint(event.event_id)
    if key in state.seen:
        return False
    occurred = event.occurred_at.timestamp()
    day = day_number(event.occurred_at)
    _note_activity_since(state, day)
    if state.first_day is None or day < state.first_day:
        state.first_day = day
    state.watermark = max(state.watermark, occurred)
    hour = hour_number(now) if now is not None else watermark_hour(state.watermark)
    remember(state.seen, key, hour, dedup_window_hours)
    kind = event.type
    state.counts[kind] = state.counts.get(kind, 0) + 1
    state.last_seen[kind] = max(state.last_seen.get(kind, 0.0), occurred)
    activity = ACTIVITY_OF_EVENT.get(kind)
    if activity is not None:
        count_activity(state.activity_weeks, activity, week_of_day(day))
    returned = kind in VISIT_EVENTS and _fold_visit(state, event, occurred, visits)
    model = scores or default_score_model()
    gains = event_points(model, event, return_visit=returned)
    if any(gains):
        state.scores = add_points(state.scores, occurred, gains, model)
    fold = _FOLDS.get(type(event.payload))
    if type(event.payload) is Transaction and event.payload.direction == "debit":
        _score_debit(state, event.payload, event)  # against the record before this debit
    if fold is not None:
        fold(state, event.payload, event.occurred_at)
    return True


def _fold_visit(state: UserState, event: Event, occurred: float, policy: VisitPolicy) -> bool:
    """Place an activity event in its visit; return whether it is a return visit."""
    payload = event.payload
    start = end = occurred
    if isinstance(payload, AppSession):
        start = occurred - payload.duration_seconds  # the session ended at occurred_at
    elif isinstance(payload, PageView) and payload.duration_seconds:
        end = occurred + payload.duration_seconds
    return note_visit(
        state, start=start, end=end, pages=int(isinstance(payload, PageView)),
        session_id=event.session_id, source=event.source.value, policy=policy,
    )  # fmt: skip


def _note_activity_since(state: UserState, day: int) -> None:
    """Keep ``activity_since``: since when the weekly activity counts are whole.

    A new user's are from the start (0). A record from before counting began (version 2)
    gets the week after this event's: the weeks before hold nothing it did. Once that week
    has left the kept window, every kept week is whole again (0).
    """
    since = state.activity_since
    if since is None:
        state.activity_since = 0 if state.first_day is None else week_of_day(day) + 1
    elif since and since <= week_of_day(day) - WEEKS_KEPT:
        state.activity_since = 0


def _fold_transaction(state: UserState, payload: Transaction, at: datetime) -> None:
    if payload.direction != "debit":
        return
    day = day_number(at)
    cents = to_cents(payload.amount)
    if _add_bucket(state.daily_spend, day, cents, DAILY_BUCKETS_KEPT):
        state.spend_since = day if state.spend_since is None else min(state.spend_since, day)
    stats = state.alerts = state.alerts or alert_stats.empty()
    alert_stats.note_debit(stats, cents, at.timestamp(), payload.merchant, payload.category)


def _score_debit(state: UserState, payload: Transaction, event: Event) -> None:
    """Score a debit with the user's anomaly model, then teach it the debit.

    Before the debit is folded into the alert figures: their merchant and category
    bitmaps say whether this merchant and category are new to the user.
    """
    stats = state.alerts
    merchant, category = payload.merchant, payload.category
    new_merchant = (
        None
        if not merchant
        else (
            stats is None
            or not alert_stats.has_name(
                stats[alert_stats.MERCHANTS], merchant, alert_stats.MERCHANT_BITS
            )
        )
    )
    new_category = (
        None
        if not category
        else (
            stats is None
            or not alert_stats.has_name(
                stats[alert_stats.CATEGORIES], category, alert_stats.CATEGORY_BITS
            )
        )
    )
    zone = user_zone(state.profile.get("timezone") or event.context.timezone)
    model = state.anomaly = state.anomaly or anomaly.empty()
    anomaly.score_and_learn(
        model, dollars=float(payload.amount), local_hour=event.occurred_at.astimezone(zone).hour,
        new_merchant=new_merchant, new_category=new_category, country=event.context.country,
    )  # fmt: skip


def _fold_balance(state: UserState, payload: BalanceSnapshot, at: datetime) -> None:
    # Only an account with a credit limit says how close the user is to it.
    if payload.credit_limit:
        stats = state.alerts = state.alerts or alert_stats.empty()
        alert_stats.note_balance(stats, float(payload.balance), float(payload.credit_limit))


def _fold_alert_rule(state: UserState, payload: AlertRule, at: datetime) -> None:
    stats = state.alerts = state.alerts or alert_stats.empty()
    alert_stats.note_alert(stats, payload.alert_type, on=payload.action.turns_on)


def _fold_income(state: UserState, payload: IncomeDeposit, at: datetime) -> None:
    month = month_number(at)
    cents = to_cents(payload.amount)
    if _add_bucket(state.monthly_income, month, cents, MONTHLY_BUCKETS_KEPT):
        since = state.income_since
        state.income_since = month if since is None else min(since, month)
    state.deposits.append(cents)
    del state.deposits[:-DEPOSITS_KEPT]


def _fold_profile(state: UserState, payload: ProfileUpdate, at: datetime) -> None:
    _apply_profile(state.profile, payload)


#: Outcomes that show the user engaged with a message.
ENGAGED_OUTCOMES = frozenset(
    {"opened", "clicked", "replied", "converted", "accepted_offer", "engaged"}
)


def _fold_outcome(state: UserState, payload: CommsOutcome, at: datetime) -> None:
    if payload.outcome == "opted_out" and payload.channel:
        # An opt-out reported by the notification service stops that channel at once.
        consent = dict(state.profile.get("consent", {}))
        consent[payload.channel.value] = False
        state.profile["consent"] = consent
    elif payload.outcome in ENGAGED_OUTCOMES:
        state.engaged_at = max(state.engaged_at, at.timestamp())


def _fold_risk_score(state: UserState, payload: RiskScore, at: datetime) -> None:
    state.risk = state.risk or RiskMemory()
    note_risk_score(state.risk, at, payload.score, payload.top_drivers)


def _fold_payment(state: UserState, payload: Payment, at: datetime) -> None:
    state.risk = state.risk or RiskMemory()
    note_payment(state.risk, at, payload)


# The events that keep a few numbers for the life, engagement and lead triggers.


def _fold_page_view(state: UserState, payload: PageView, at: datetime) -> None:
    _add_bucket(state.hourly_page_views, hour_number(at), 1, PAGE_VIEW_HOURS_KEPT)


def _fold_app_session(state: UserState, payload: AppSession, at: datetime) -> None:
    _add_bucket(state.daily_sessions, day_number(at), 1, SESSION_DAYS_KEPT)


def _fold_quote(state: UserState, payload: QuoteRequest, at: datetime) -> None:
    state.quote_times = sorted([*state.quote_times, at.timestamp()])[-QUOTE_TIMES_KEPT:]


def _fold_health(state: UserState, payload: HealthSignal, at: datetime) -> None:
    moment = at.timestamp()
    # The latest report by event time wins: a late, older report does not replace it.
    if payload.stress_level is not None and moment >= state.stress_at:
        state.stress_level, state.stress_at = payload.stress_level, moment


def _fold_savings(state: UserState, payload: SavingsProgress, at: datetime) -> None:
    # Every progressed goal is kept, at 0 too: an open goal is one below 100.
    reached = savings_milestone(payload.saved, payload.target)
    _keep_goal(state, payload.goal_id, max(reached, state.goal_milestones.get(payload.goal_id, 0)))
    deadline = day_of(payload.deadline)
    moment, saved, target = at.timestamp(), float(payload.saved), float(payload.target)
    progress = state.goal_progress.pop(payload.goal_id, None)
    if progress is None and deadline is None:
        return  # no deadline, no probability to give: nothing to keep
    if progress is None:
        progress = goals.start(moment, saved, target, deadline)
    else:
        goals.note_progress(progress, moment, saved, target, deadline)
    _keep_progress(state, payload.goal_id, progress)


def _fold_goal_change(state: UserState, payload: GoalModification, at: datetime) -> None:
    # A new target starts the goal's milestones over; an abandoned goal is forgotten.
    progress = state.goal_progress.get(payload.goal_id)
    if progress is not None:
        if payload.deadline is not None:
            progress[goals.DEADLINE] = day_of(payload.deadline)
        if payload.target is not None:
            progress[goals.TARGET] = float(payload.target)
    elif payload.action == "created" and payload.target and payload.deadline is not None:
        # A goal created with a deadline starts from nothing saved, now.
        start = goals.start(at.timestamp(), 0.0, float(payload.target), day_of(payload.deadline))
        _keep_progress(state, payload.goal_id, start)
    if payload.action == "abandoned":
        state.goal_milestones.pop(payload.goal_id, None)
        state.goal_progress.pop(payload.goal_id, None)
    elif payload.action == "completed":
        _keep_goal(state, payload.goal_id, 100)
    elif payload.target is not None:
        _keep_goal(state, payload.goal_id, 0)


def _fold_application_start(state: UserState, payload: ApplicationStart, at: datetime) -> None:
    moment = at.timestamp()
    started = state.applications.pop(payload.application_id, None)
    first = min(started[0], moment) if started else moment
    state.applications[payload.application_id] = [first, payload.product]
    for application in list(state.applications)[:-APPLICATIONS_KEPT]:
        del state.applications[application]


def _fold_application_complete(
    state: UserState, payload: ApplicationComplete, at: datetime
) -> None:
    state.applications.pop(payload.application_id, None)


def _keep_progress(state: UserState, goal_id: str, progress: list[Any]) -> None:
    """Keep a goal's progress figures as the most recent; forget the oldest past the bound."""
    state.goal_progress.pop(goal_id, None)
    state.goal_progress[goal_id] = progress
    for goal in list(state.goal_progress)[:-GOAL_PROGRESS_KEPT]:
        del state.goal_progress[goal]


def _keep_goal(state: UserState, goal_id: str, milestone: int) -> None:
    """Set a goal's milestone, making it the most recent; forget the oldest past the bound."""
    milestones = state.goal_milestones
    milestones.pop(goal_id, None)
    milestones[goal_id] = milestone
    for goal in list(milestones)[:-GOALS_KEPT]:
        del milestones[goal]


def _add_bucket(buckets: dict[int, int], key: int, cents: int, kept: int) -> bool:
    """Add to a bucket and drop buckets too old to matter; False if ``key`` is one of those."""
    newest = max(buckets, default=key)
    if key <= newest - kept:
        return False  # later than the allowed lateness: no window looks at that bucket
    buckets[key] = buckets.get(key, 0) + cents
    if key > newest:
        for old in [k for k in buckets if k <= key - kept]:
            del buckets[old]
    return True


def _apply_profile(profile: dict[str, Any], update: ProfileUpdate) -> None:
    # Null means "not given", not "clear": serialisers write every field, most as null,
    # and a name change must not wipe the time zone set by an earlier update.
    changed = update.model_dump(
        exclude_unset=True,
        exclude_none=True,
        exclude={"type", "consent", "category_consent"},
        mode="json",
    )
    profile.update(changed)  # ``segments`` replaces the list: it is the user's membership now
    if update.consent:
        consent = dict(profile.get("consent", {}))
        consent.update({str(channel): allowed for channel, allowed in update.consent.items()})
        profile["consent"] = consent
    if update.category_consent:
        record_consent(profile, {str(k): v for k, v in update.category_consent.items()})


#: The fold of each payload type; events of other types only count (``apply_event``).
_FOLDS: dict[type[object], Callable[[UserState, Any, datetime], None]] = {
    Transaction: _fold_transaction,
    BalanceSnapshot: _fold_balance,
    AlertRule: _fold_alert_rule,
    IncomeDeposit: _fold_income,
    ProfileUpdate: _fold_profile,
    CommsOutcome: _fold_outcome,
    RiskScore: _fold_risk_score,
    Payment: _fold_payment,
    PageView: _fold_page_view,
    AppSession: _fold_app_session,
    QuoteRequest: _fold_quote,
    HealthSignal: _fold_health,
    SavingsProgress: _fold_savings,
    GoalModification: _fold_goal_change,
    ApplicationStart: _fold_application_start,
    ApplicationComplete: _fold_application_complete,
}
