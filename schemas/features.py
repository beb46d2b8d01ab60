"""The features trigger conditions may name: the contract between definitions and the engine.

A trigger definition names features, never code. Each feature has a kind that decides
which comparisons make sense; ``streams.core.features.registry`` computes them from a
user's state and the current event, and a test holds the two lists equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FeatureKind(StrEnum):
    """What a feature's value is, and so which operators apply to it."""

    NUMBER = "number"
    """A float; gt, gte, lt, lte, eq, ne, in, between."""
    TEXT = "text"
    """A string; eq, ne, in, changed_to."""
    BOOLEAN = "boolean"
    """True or false; eq, ne, changed_to."""
    MOMENT = "moment"
    """A point in time (epoch seconds); within (past or future)."""


@dataclass(frozen=True, slots=True)
class Feature:
    """One named feature.

    Attributes:
        name: What definitions call it.
        kind: Its value's kind.
        description: What it measures.
        unit: ``dollars``, ``percent``, ``days``, ``minutes``, ``count``, ``times`` (a
            multiple) or empty; messages format values by it.
        tracks_changes: Its value before the event is kept, so ``changed_to`` applies.
    """

    name: str
    kind: FeatureKind
    description: str
    unit: str = ""
    tracks_changes: bool = False


_N, _T, _B, _M = FeatureKind.NUMBER, FeatureKind.TEXT, FeatureKind.BOOLEAN, FeatureKind.MOMENT

_USD, _PCT, _DAYS = "dollars", "percent", "days"
_MIN, _COUNT, _TIMES = "minutes", "count", "times"

FEATURES: dict[str, Feature] = {
    f.name: f
    for f in (
        Feature("event_type", _T, "type of the event being evaluated"),
        Feature("event_amount", _N, "amount of the current transaction or deposit", _USD),
        Feature("transaction_category", _T, "category of the current transaction"),
        Feature("transaction_direction", _T, "debit or credit, for the current transaction"),
        Feature("spend_week", _N, "debit spending over the 7 UTC days ending today", _USD),
        Feature("spend_week_baseline", _N, "mean weekly spending of the 4 weeks before", _USD),
        Feature("spend_week_change_pct", _N, "this week's spending against the baseline", _PCT),
        Feature("spend_week_deviation", _N, "standard deviation of the baseline weeks", _USD),
        Feature(
            "spend_week_zscore",
            _N,
            "this week's spending in deviations from the "
            "baseline mean (deviation floored at 1 % of the mean)",
        ),
        Feature(
            "spend_trend",
            _T,
            "the baseline weeks' own direction: increasing, decreasing or stable (±10 % over them)",
        ),
        # learned (models/online; streams/core/features/learned.py)
        Feature(
            "transaction_anomaly_score",
            _N,
            "how unusual the current debit is for this user, from 0 to 1 (amount, hour, "
            "new merchant or category, abroad: models/online/anomaly.py); none before 10 debits",
        ),
        Feature(
            "transaction_anomaly_reason",
            _T,
            "what made the current debit most unusual: amount, hour, merchant, category or abroad",
        ),
        Feature(
            "spend_forecast_week",
            _N,
            "forecast of the next 7 days' debits (smoothed past weeks: models/online/forecast.py)",
            _USD,
        ),
        Feature("days_to_payday", _N, "days until the next pay deposit is due (monthly)", _DAYS),
        Feature(
            "forecast_overspend_pct",
            _N,
            "spending since the last pay plus the forecast until the next, over the usual "
            "deposit, in percent above it (negative: money left)",
            _PCT,
        ),
        Feature(
            "goal_probability",
            _N,
            "probability of reaching the current savings goal by its deadline, from 0 to 1 "
            "(on a schedule: the least likely open goal's; models/online/goals.py)",
        ),
        Feature("goal_days_left", _N, "days until that goal's deadline", _DAYS),
        Feature("closed_month", _T, "the calendar month just closed, YYYY-MM"),
        Feature("income_closed_month", _N, "income in the calendar month just closed", _USD),
        Feature("income_month_baseline", _N, "mean income of the 3 months before it", _USD),
        Feature("income_change_pct", _N, "closed month's income against the baseline", _PCT),
        Feature("income_drop_pct", _N, "how far the closed month's income fell short", _PCT),
        Feature("income_month_deviation", _N, "standard deviation of the baseline months", _USD),
        Feature(
            "income_month_zscore",
            _N,
            "the closed month's income in deviations from the "
            "baseline mean (deviation floored at 1 % of the mean)",
        ),
        Feature(
            "income_trend",
            _T,
            "the baseline months' own direction: increasing, "
            "decreasing or stable (±10 % over them)",
        ),
        Feature(
            "usual_deposit",
            _N,
            "median of a regularly paid user's last deposits (3 to "
            "6, all within 10 % of it); none for irregular pay",
            _USD,
        ),
        Feature(
            "deposit_drop_pct",
            _N,
            "how far the current deposit falls below the usual deposit",
            _PCT,
        ),
        Feature(
            "pay_cut_told_for_closed_month",
            _B,
            "pay_cut fired for a deposit of the calendar month just closed",
        ),
        Feature("days_since_income_drop_told", _N, "days since income_drop last fired", _DAYS),
        Feature("tier", _T, "the user's tier: free, standard or premium", tracks_changes=True),
        Feature("relationship_status", _T, "relationship status", tracks_changes=True),
        Feature("days_since_first_seen", _N, "days since the user's first event", _DAYS),
        Feature("last_event_at", _M, "when the user's previous event occurred"),
        # financial (streams/core/features/financial.py)
        Feature("spend_day_baseline", _N, "usual daily spending: the weekly baseline / 7", _USD),
        Feature("debit_multiple", _N, "the current debit as a multiple of the usual day", _TIMES),
        Feature("account_kind", _T, "checking, savings, credit_card or loan, for a snapshot"),
        Feature("account_balance", _N, "balance in the current snapshot", _USD),
        Feature("credit_limit", _N, "credit limit in the current snapshot", _USD),
        Feature("credit_available", _N, "credit limit minus the balance owed", _USD),
        Feature("credit_utilisation_pct", _N, "balance owed against the credit limit", _PCT),
        Feature("savings_saved", _N, "amount saved towards the current goal", _USD),
        Feature("savings_target", _N, "target of the current savings goal", _USD),
        Feature("savings_progress_pct", _N, "amount saved against the goal's target", _PCT),
        Feature("open_savings_goals", _N, "savings goals started and not yet reached", _COUNT),
        Feature("last_savings_progress_at", _M, "when savings progress was last reported"),
        Feature("days_since_savings_progress", _N, "days since the last savings progress", _DAYS),
        Feature(
            "savings_milestone_crossed",
            _N,
            "milestone (25/50/75/100) this event reached first for its goal; 0 if none",
            _PCT,
        ),
        # health and life (streams/core/features/life.py)
        Feature("exercise_minutes", _N, "exercise reported by the current health signal", _MIN),
        Feature("stress_level", _N, "latest stress level reported, from 0 to 1"),
        Feature("stress_reported_at", _M, "when the latest stress level was reported"),
        Feature("previous_relationship_status", _T, "relationship status before the event"),
        Feature(
            "days_until_birthday", _N, "days until the user's next birthday (0 = today)", _DAYS
        ),
        Feature("next_birthday", _T, "date of the user's next birthday, YYYY-MM-DD"),
        Feature("days_until_lease_end", _N, "days until the lease ends (negative after)", _DAYS),
        Feature("lease_end", _T, "the date the user's lease ends, YYYY-MM-DD"),
        Feature("days_until_grace_end", _N, "days until the student-loan grace period ends", _DAYS),
        Feature("student_loan_grace_end", _T, "the date the student-loan grace period ends"),
        # career (streams/core/features/career.py)
        Feature("salary", _N, "salary in the current career signal", _USD),
        Feature("market_rate", _N, "market rate for the role in the current signal", _USD),
        Feature("salary_gap_pct", _N, "how far the salary falls short of market rate", _PCT),
        Feature("career_field", _T, "the user's field, from the current career signal"),
        Feature("job_matches", _N, "matching jobs in the current career signal", _COUNT),
        Feature("missing_skills_count", _N, "skills the current signal finds missing", _COUNT),
        Feature("missing_skills_top", _T, "up to three of those skills, comma-separated"),
        # engagement and lead journey (streams/core/features/engagement.py)
        Feature("app_sessions_week", _N, "app sessions over the 7 UTC days ending today", _COUNT),
        Feature("page_views_day", _N, "page views over the 24 UTC hours ending now", _COUNT),
        Feature("quote_requests_week", _N, "quote requests in the 7 days up to now", _COUNT),
        Feature("quote_form", _B, "the current form's id names a quote form"),
        Feature("product", _T, "product of the current form, quote or application"),
        Feature("last_app_session_at", _M, "when the user's latest app session ended"),
        Feature("days_since_app_session", _N, "days since the latest app session", _DAYS),
        Feature(
            "app_sessions_week_baseline", _N, "usual weekly sessions: the 4 weeks before", _COUNT
        ),
        Feature("app_sessions_change_pct", _N, "this week's sessions against the usual", _PCT),
        Feature("feature_unused_since", _M, "last product feature use, or first seen if none"),
        Feature("days_since_feature_used", _N, "days since any product feature was used", _DAYS),
        Feature("application_pending_id", _T, "the oldest application started, not completed"),
        Feature("application_pending_product", _T, "product of that application"),
        Feature("application_pending_days", _N, "days since that application started", _DAYS),
        Feature("iso_week", _T, "ISO week of the evaluation, YYYY-Www"),
        # visits: sessions of web, app and email activity (streams/core/features/sessions.py)
        Feature("sessions_7d", _N, "visits (sessions) started in the last 7 days", _COUNT),
        Feature("sessions_30d", _N, "visits started in the last 30 days", _COUNT),
        Feature("avg_session_minutes", _N, "mean visit length over the last 7 days", _MIN),
        Feature("pages_per_session", _N, "mean pages viewed per visit, last 7 days", _COUNT),
        Feature("time_spent_minutes_7d", _N, "time spent in visits, last 7 days", _MIN),
        Feature("days_active_14d", _N, "days with a visit among the last 14", _DAYS),
        Feature("sources_used", _T, "sources of the user's visits: web, app, email..."),
        Feature("sources_used_count", _N, "how many sources the user's visits came from", _COUNT),
        # behaviour scores, 0-100 (streams/core/features/behavior_scores.py)
        Feature("engagement_score", _N, "engagement: points for activity, faded (0-100)"),
        Feature("interest_score", _N, "interest: high-value content and return visits (0-100)"),
        Feature("intent_score", _N, "intent: quotes, applications, calls (0-100)"),
        Feature(
            "conversion_probability",
            _N,
            "chance to convert: recent activity, funnel, engagement",
            _PCT,
        ),  # fmt: skip
        # patterns (streams/core/features/patterns.py)
        Feature(
            "pattern",
            _T,
            "the user's pattern: high_intent, qualified_interest, "
            "researching, exploring or at_risk",
            tracks_changes=True,
        ),  # fmt: skip
        Feature(
            "days_since_visit", _N, "days since the user's last web, app or email activity", _DAYS
        ),  # fmt: skip
        Feature(
            "form_abandoned_recently",
            _B,
            "a form left unfinished in the last 7 days, and nothing submitted since",
        ),  # fmt: skip
        # peer comparison (streams/core/features/peers.py; schemas/peers.py)
        Feature(
            "savings_rate_pct",
            _N,
            "share of the usual monthly income not spent over the last 30 days",
            _PCT,
        ),  # fmt: skip
        Feature("peer_group", _T, "the segment the user is compared in, or all"),
        Feature(
            "spend_week_peer_pct",
            _N,
            "share of the user's peers who spent less this week (percentile)",
            _PCT,
        ),  # fmt: skip
        Feature(
            "savings_rate_peer_pct",
            _N,
            "share of the user's peers with a lower savings rate (percentile)",
            _PCT,
        ),  # fmt: skip
        Feature(
            "engagement_peer_pct",
            _N,
            "share of the user's peers less engaged (percentile)",
            _PCT,
        ),  # fmt: skip
        # funnels (streams/core/features/funnels.py; schemas/funnels.py): the last drop-out
        Feature("funnel_dropped", _T, "the funnel the user last dropped out of"),
        Feature(
            "funnel_dropped_step", _N, "the last step reached in that funnel before the drop"
        ),  # fmt: skip
        Feature("funnel_dropped_at", _M, "when the user dropped out of it (its window closed)"),
        # behaviour change (streams/core/features/behavior.py): the last complete week
        *(
            Feature(
                f"{activity}_week_change_pct",
                _N,
                f"{activity.replace('_', ' ')} in the last complete week against the "
                "4 weeks before",
                _PCT,
            )
            for activity in ("transactions", "sessions", "page_views", "feature_use", "logins")
        ),  # fmt: skip
    )
}


def feature(name: str) -> Feature | None:
    """Return the feature called ``name``, if there is one."""
    return FEATURES.get(name)
