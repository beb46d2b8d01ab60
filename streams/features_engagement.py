"""Engagement and lead-journey features: app sessions, page views, quotes and forms.

Registered into ``streams.features.COMPUTE``. Windows end at the current event's time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from schemas.events import (
    ApplicationComplete,
    ApplicationStart,
    FormAbandon,
    FormStart,
    FormSubmit,
    QuoteRequest,
)
from streams.baselines import DAYS_PER_WEEK
from streams.state import SECONDS_PER_DAY, day_number, hour_number

if TYPE_CHECKING:
    from streams.features import Context, Value

HOURS_PER_DAY = 24
#: A form is a quote form when one word of its id is "quote" or "quotes" (``auto-quote``,
#: ``quote_home_v2``): producers name forms this way; there is no form catalogue.
_QUOTE_WORDS = frozenset({"quote", "quotes"})
_WORDS = re.compile(r"[^a-z0-9]+")


def _app_sessions_week(ctx: Context) -> Value:
    today = day_number(ctx.event.occurred_at)
    sessions = ctx.state.daily_sessions
    return float(sum(sessions.get(day, 0) for day in range(today - DAYS_PER_WEEK + 1, today + 1)))


def _page_views_day(ctx: Context) -> Value:
    hour = hour_number(ctx.event.occurred_at)
    views = ctx.state.hourly_page_views
    return float(sum(views.get(h, 0) for h in range(hour - HOURS_PER_DAY + 1, hour + 1)))


def _quote_requests_week(ctx: Context) -> Value:
    now = ctx.event.occurred_at.timestamp()
    week = DAYS_PER_WEEK * SECONDS_PER_DAY
    return float(sum(1 for at in ctx.state.quote_times if 0 <= now - at <= week))


def _quote_form(ctx: Context) -> Value:
    payload = ctx.event.payload
    if not isinstance(payload, FormStart | FormSubmit | FormAbandon):
        return None
    return not _QUOTE_WORDS.isdisjoint(_WORDS.split(payload.form_id.lower()))


def _product(ctx: Context) -> Value:
    payload = ctx.event.payload
    kinds = FormStart | FormSubmit | FormAbandon | QuoteRequest
    if not isinstance(payload, kinds | ApplicationStart | ApplicationComplete):
        return None
    product = (payload.product or "").strip()
    return product or None


COMPUTE: dict[str, Callable[[Context], Value]] = {
    "app_sessions_week": _app_sessions_week,
    "page_views_day": _page_views_day,
    "quote_requests_week": _quote_requests_week,
    "quote_form": _quote_form,
    "product": _product,
}

DEPENDS: dict[str, tuple[str, ...]] = {}
