"""Engagement and lead-journey features: app sessions, page views, quotes and forms.

Registered into ``streams.core.features.registry.COMPUTE``. Windows end at the current event's time.
"""

from __future__ import annotations

import re

from schemas.events import (
    ApplicationComplete,
    ApplicationStart,
    FormAbandon,
    FormStart,
    FormSubmit,
    QuoteRequest,
)
from streams.core.features.baselines import (
    DAYS_PER_WEEK,
    baseline_weeks,
    mean_of,
    percent_change,
    week_spend,
)
from streams.core.features.context import Feature, FeatureContext, Value
from streams.core.units import SECONDS_PER_DAY, day_number, days_since, hour_number

HOURS_PER_DAY = 24
#: A form is a quote form when one word of its id is "quote" or "quotes" (``auto-quote``,
#: ``quote_home_v2``): producers name forms this way; there is no form catalogue.
_QUOTE_WORDS = frozenset({"quote", "quotes"})
_WORDS = re.compile(r"[^a-z0-9]+")


def _app_sessions_week(ctx: FeatureContext) -> Value:
    return float(week_spend(ctx.state.daily_sessions, day_number(ctx.at)))


def _page_views_day(ctx: FeatureContext) -> Value:
    hour = hour_number(ctx.at)
    views = ctx.state.hourly_page_views
    return float(sum(views.get(h, 0) for h in range(hour - HOURS_PER_DAY + 1, hour + 1)))


def _quote_requests_week(ctx: FeatureContext) -> Value:
    now = ctx.at.timestamp()
    week = DAYS_PER_WEEK * SECONDS_PER_DAY
    return float(sum(1 for at in ctx.state.quote_times if 0 <= now - at <= week))


def _quote_form(ctx: FeatureContext) -> Value:
    payload = ctx.payload
    if not isinstance(payload, FormStart | FormSubmit | FormAbandon):
        return None
    return not _QUOTE_WORDS.isdisjoint(_WORDS.split(payload.form_id.lower()))


def _product(ctx: FeatureContext) -> Value:
    payload = ctx.payload
    kinds = FormStart | FormSubmit | FormAbandon | QuoteRequest
    if not isinstance(payload, kinds | ApplicationStart | ApplicationComplete):
        return None
    product = (payload.product or "").strip()
    return product or None


def _last_app_session(ctx: FeatureContext) -> Value:
    return ctx.state.last_seen.get("app_session")


def _days_since(moment: Value, ctx: FeatureContext) -> Value:
    if not isinstance(moment, float | int) or isinstance(moment, bool):
        return None
    return days_since(moment, ctx.at)


def _days_since_app_session(ctx: FeatureContext) -> Value:
    return _days_since(ctx.value("last_app_session_at"), ctx)


def _sessions_baseline(ctx: FeatureContext) -> Value:
    # The spending baseline's rules on session counts: full weeks since the first event.
    first = ctx.state.first_day
    if first is None:
        return None
    return mean_of(baseline_weeks(ctx.state.daily_sessions, day_number(ctx.at), first))


def _sessions_change(ctx: FeatureContext) -> Value:
    current, usual = ctx.value("app_sessions_week"), ctx.value("app_sessions_week_baseline")
    if not isinstance(current, float) or not isinstance(usual, float) or usual <= 0:
        return None
    return percent_change(current, usual)


def _feature_unused_since(ctx: FeatureContext) -> Value:
    used = ctx.state.last_seen.get("feature_used")
    if used is not None:
        return used
    first = ctx.state.first_day
    return None if first is None else float(first * SECONDS_PER_DAY)


def _days_since_feature_used(ctx: FeatureContext) -> Value:
    return _days_since(ctx.value("feature_unused_since"), ctx)


def _pending_application(ctx: FeatureContext) -> tuple[str, float, str] | None:
    # The oldest started application that has not completed.
    pending = ctx.state.applications
    if not pending:
        return None
    oldest = min(pending, key=lambda app: (pending[app][0], app))
    started, product = pending[oldest]
    return oldest, float(started), str(product)


def _application_id(ctx: FeatureContext) -> Value:
    pending = _pending_application(ctx)
    return None if pending is None else pending[0]


def _application_product(ctx: FeatureContext) -> Value:
    pending = _pending_application(ctx)
    return None if pending is None else pending[2]


def _application_days(ctx: FeatureContext) -> Value:
    pending = _pending_application(ctx)
    return None if pending is None else _days_since(pending[1], ctx)


def _iso_week(ctx: FeatureContext) -> Value:
    year, week, _ = ctx.at.isocalendar()
    return f"{year:04d}-W{week:02d}"


COMPUTE: dict[str, Feature] = {
    "last_app_session_at": _last_app_session,
    "days_since_app_session": _days_since_app_session,
    "app_sessions_week_baseline": _sessions_baseline,
    "app_sessions_change_pct": _sessions_change,
    "feature_unused_since": _feature_unused_since,
    "days_since_feature_used": _days_since_feature_used,
    "application_pending_id": _application_id,
    "application_pending_product": _application_product,
    "application_pending_days": _application_days,
    "iso_week": _iso_week,
    "app_sessions_week": _app_sessions_week,
    "page_views_day": _page_views_day,
    "quote_requests_week": _quote_requests_week,
    "quote_form": _quote_form,
    "product": _product,
}

DEPENDS: dict[str, tuple[str, ...]] = {
    "days_since_app_session": ("last_app_session_at",),
    "app_sessions_change_pct": ("app_sessions_week", "app_sessions_week_baseline"),
    "days_since_feature_used": ("feature_unused_since",),
    "application_pending_days": ("application_pending_id",),
}
