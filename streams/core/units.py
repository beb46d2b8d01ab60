"""Units of time and money, one home for each: days, hours and months as numbers, cents.

Event time is bucketed in UTC; money is kept in integer cents so sums are exact.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SECONDS_PER_DAY = 86_400


SECONDS_PER_HOUR = 3_600


def day_number(moment: datetime) -> int:
    """Return the UTC day of ``moment`` as days since 1970-01-01."""
    return int(moment.timestamp() // SECONDS_PER_DAY)


def day_of(calendar_day: date | None) -> int | None:
    """Return a calendar date as days since 1970-01-01 (``day_number``'s scale), or ``None``."""
    return None if calendar_day is None else calendar_day.toordinal() - _EPOCH_ORDINAL


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def month_number(moment: datetime) -> int:
    """Return the UTC calendar month of ``moment`` as ``year * 12 + month - 1``."""
    utc = moment.astimezone(UTC)
    return utc.year * 12 + utc.month - 1


def month_number_of(epoch_seconds: float) -> int:
    """Return the UTC calendar month (``month_number``) of a time in epoch seconds."""
    return month_number(datetime.fromtimestamp(epoch_seconds, UTC))


def month_start(moment: datetime) -> datetime:
    """Return the start of ``moment``'s UTC calendar month (UTC)."""
    utc = moment.astimezone(UTC)
    return utc.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def hour_number(moment: datetime) -> int:
    """Return the UTC hour of ``moment`` as hours since 1970-01-01 00:00."""
    return int(moment.timestamp() // SECONDS_PER_HOUR)


def days_since(moment: float, at: datetime) -> float:
    """Return the days (fractional) from ``moment`` (epoch seconds) to ``at``."""
    return (at.timestamp() - moment) / SECONDS_PER_DAY


def to_cents(amount: Decimal) -> int:
    """Convert an amount to integer cents, rounding half to even."""
    return int((amount * 100).to_integral_value())


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
