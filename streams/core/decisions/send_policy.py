"""The send policy across triggers: frequency caps and quiet hours.

Caps count a user's sends per channel over a day and a week, whatever trigger sent them;
when several triggers fire on one event, the higher priority takes the slots first (the
caller evaluates in priority order). Quiet hours never drop a message: a send that would
land in them, in the user's own time zone, is moved to the morning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from streams.core.state.ledger import SEND_LEDGER_SECONDS, sends_within
from streams.core.state.record import UserState
from streams.core.units import SECONDS_PER_DAY, SECONDS_PER_HOUR, user_zone

#: The categories whose triggers need the category's consent, by the specification.
SENSITIVE_CATEGORIES = frozenset({"health", "financial"})

__all__ = [
    "WEEK", "SendPolicy", "at_hour", "best_time_hours", "channels_within_caps", "is_quiet",
    "outside_quiet_hours", "user_zone",
]  # fmt: skip

#: The week cap's window; the send ledger keeps exactly this much.
WEEK = SEND_LEDGER_SECONDS
HOURS_PER_DAY = 24


@dataclass(frozen=True, slots=True)
class SendPolicy:
    """Limits every trigger shares.

    Attributes:
        cap_per_channel_day: Most sends per user and channel in any 24 hours.
        cap_per_channel_week: Most sends per user and channel in any 7 days.
        quiet_start: Local hour (0-23) quiet hours begin.
        quiet_end: Local hour (0-23) they end; sends are moved to this hour.
        hour_prior: The population's open rate at each local hour (24), the prior of
            ``send_at: best_time`` (``models.online.prior``); empty when none is known.
        consent_categories: Trigger categories that need the user's consent to the
            category (``category_consent`` on the profile). None by default here, so the
            core's tests of other rules need no consent; the product's default is the
            specification's health and financial (``NUDGE_CONSENT_CATEGORIES``), which
            ``streams.runtime.policies.send_policy`` passes in.
        category_consent: ``required``: consent must have been given (the specification);
            ``withdrawal_only``: only a withdrawn consent suppresses.
    """

    cap_per_channel_day: int = 2
    cap_per_channel_week: int = 5
    quiet_start: int = 21
    quiet_end: int = 8
    hour_prior: tuple[float, ...] = ()
    consent_categories: frozenset[str] = frozenset()
    category_consent: str = "required"


def is_quiet(hour: int, policy: SendPolicy) -> bool:
    """Return whether a local ``hour`` is within the quiet hours."""
    start, end = policy.quiet_start, policy.quiet_end
    if start == end:
        return False
    return (hour >= start or hour < end) if start > end else (start <= hour < end)


def best_time_hours(
    earliest: datetime, max_delay: float, zone: ZoneInfo, policy: SendPolicy
) -> dict[int, datetime]:
    """Return each local hour a message may go at, and when it first comes.

    The hours are those outside quiet hours between ``earliest`` and ``max_delay``
    seconds later: ``earliest`` itself for its own hour, then each hour's start. In the
    order they come; empty when quiet hours cover the whole span.
    """
    hours: dict[int, datetime] = {}
    local = earliest.astimezone(zone)
    if not is_quiet(local.hour, policy):
        hours[local.hour] = earliest
    start = local.replace(minute=0, second=0, microsecond=0)
    for step in range(1, int(max_delay // SECONDS_PER_HOUR) + 1):
        moment = (start + timedelta(hours=step)).astimezone(zone)  # wall clock across DST
        if moment.hour not in hours and not is_quiet(moment.hour, policy):
            hours[moment.hour] = moment.astimezone(earliest.tzinfo)
        if len(hours) == HOURS_PER_DAY:
            break
    return hours


def channels_within_caps(
    state: UserState, channels: list[str], at: float, policy: SendPolicy
) -> tuple[list[str], list[str]]:
    """Split ``channels`` into those with room left at ``at`` and those at their cap."""
    room, full = [], []
    for channel in channels:
        day = sends_within(state, channel, at, SECONDS_PER_DAY)
        week = sends_within(state, channel, at, WEEK)
        if day < policy.cap_per_channel_day and week < policy.cap_per_channel_week:
            room.append(channel)
        else:
            full.append(channel)
    return room, full


def outside_quiet_hours(send_at: datetime, zone: ZoneInfo, policy: SendPolicy) -> datetime:
    """Return ``send_at``, or the end of the quiet hours it falls in (user's local time)."""
    local = send_at.astimezone(zone)
    start, end = policy.quiet_start, policy.quiet_end
    overnight = start > end
    hour = local.hour
    if not is_quiet(hour, policy):
        return send_at
    day = local.date() if (not overnight or hour < end) else local.date() + timedelta(days=1)
    morning = datetime.combine(day, time(end), tzinfo=zone)
    return morning.astimezone(send_at.tzinfo)


def at_hour(moment: datetime, hour: int, zone: ZoneInfo) -> datetime:
    """Return the first time at or after ``moment`` when the local clock reads ``hour``:00."""
    local = moment.astimezone(zone)
    candidate = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if candidate < local:
        candidate += timedelta(days=1)
        candidate = candidate.replace(hour=hour)  # a DST change keeps the wall-clock hour
    return candidate.astimezone(moment.tzinfo)
