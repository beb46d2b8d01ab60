"""The send policy across triggers: frequency caps and quiet hours.

Caps count a user's sends per channel over a day and a week, whatever trigger sent them;
when several triggers fire on one event, the higher priority takes the slots first (the
caller evaluates in priority order). Quiet hours never drop a message: a send that would
land in them, in the user's own time zone, is moved to the morning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streams.core.state.ledger import SEND_LEDGER_SECONDS, sends_within
from streams.core.state.record import UserState
from streams.core.units import SECONDS_PER_DAY

#: The week cap's window; the send ledger keeps exactly this much.
WEEK = SEND_LEDGER_SECONDS


@dataclass(frozen=True, slots=True)
class SendPolicy:
    """Limits every trigger shares.

    Attributes:
        cap_per_channel_day: Most sends per user and channel in any 24 hours.
        cap_per_channel_week: Most sends per user and channel in any 7 days.
        quiet_start: Local hour (0-23) quiet hours begin.
        quiet_end: Local hour (0-23) they end; sends are moved to this hour.
    """

    cap_per_channel_day: int = 2
    cap_per_channel_week: int = 5
    quiet_start: int = 21
    quiet_end: int = 8


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


def user_zone(name: object) -> ZoneInfo:
    """Return the user's time zone, UTC when unknown or invalid.

    The intake accepts IANA names only, but a record written before it did may hold
    anything: a folder (``America``) raises ``IsADirectoryError``, a long name ``OSError``.
    """
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    return ZoneInfo("UTC")


def outside_quiet_hours(send_at: datetime, zone: ZoneInfo, policy: SendPolicy) -> datetime:
    """Return ``send_at``, or the end of the quiet hours it falls in (user's local time)."""
    local = send_at.astimezone(zone)
    start, end = policy.quiet_start, policy.quiet_end
    if start == end:
        return send_at  # quiet hours turned off
    overnight = start > end
    hour = local.hour
    quiet = (hour >= start or hour < end) if overnight else (start <= hour < end)
    if not quiet:
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
