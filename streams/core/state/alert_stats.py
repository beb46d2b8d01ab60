"""A user's running figures for the alert recommender, kept in their record (``alerts``).

The recommender's eight features (``schemas.alerts.AlertFeatureValues``) are computed from
every debit the user ever made, so the record keeps running figures instead of the
debits: the count, the total in cents (exact; the mean follows), the sum of squared
deviations (Welford's update, so the sample standard deviation needs no second pass), the
first and the last debit's time, and the latest balance and credit limit. Unique merchants
and unique categories are counted by linear counting (Whang et al., 1990) over bitmaps of
``MERCHANT_BITS`` and ``CATEGORY_BITS`` bits: each name sets the bit its CRC-32 picks, and
the count is ``-m ln(zero bits / m)``. That is exact in expectation and costs 68 bytes of
record (base64), where a set of names grows with the user; its standard error is about 5 % at 50
merchants and 6 % at 8 categories (``tests/unit/core/state/test_alert_stats.py`` measures
it). A full bitmap reads as ``m ln m``, the most it can tell.

The same list holds the alerts the user has on (a bit per ``AlertType``), what was last
published on ``alerts.profiles`` (to judge when the features have changed materially:
``streams.core.alerts``) and the model version the user was last served.

Layout of ``UserState.alerts`` (a list, as the record is JSON; ``None`` until the user's
first debit, balance with a limit, or alert action).
"""

from __future__ import annotations

import base64
import math
import zlib
from typing import Any

from schemas.alerts import AlertFeatureValues, AlertType

COUNT, TOTAL_CENTS, M2, FIRST_AT, LAST_AT = 0, 1, 2, 3, 4
MERCHANTS, CATEGORIES, BALANCE, LIMIT, ENABLED, PUBLISHED, SERVED = 5, 6, 7, 8, 9, 10, 11
#: Decimals the sum of squared deviations is kept to (dollars squared): plenty, and short.
M2_DECIMALS = 4

#: Bits of the unique-merchant and unique-category bitmaps.
MERCHANT_BITS = 256
CATEGORY_BITS = 128
SECONDS_PER_DAY = 86_400.0

#: Alert type -> its bit in ``ENABLED``, in the enum's order (never reorder: records hold it).
ALERT_BITS: dict[AlertType, int] = {alert: 1 << i for i, alert in enumerate(AlertType)}


def empty() -> list[Any]:
    """Return the figures of a user with nothing recorded yet."""
    return [0, 0, 0.0, 0, 0, "", "", None, None, 0, None, 0]


def note_debit(
    stats: list[Any], amount_cents: int, at: float, merchant: str | None, category: str | None
) -> None:
    """Add one debit (its amount in cents, time, merchant and category) to the figures."""
    before, count = stats[COUNT], stats[COUNT] + 1
    amount = amount_cents / 100
    mean_before = stats[TOTAL_CENTS] / 100 / before if before else 0.0
    stats[TOTAL_CENTS] += amount_cents
    mean = stats[TOTAL_CENTS] / 100 / count
    stats[M2] = round(stats[M2] + (amount - mean_before) * (amount - mean), M2_DECIMALS)
    stats[COUNT] = count
    moment = int(at)
    stats[FIRST_AT] = moment if count == 1 else min(stats[FIRST_AT], moment)
    stats[LAST_AT] = max(stats[LAST_AT], moment)
    if merchant:
        stats[MERCHANTS] = _set_bit(stats[MERCHANTS], merchant, MERCHANT_BITS)
    if category:
        stats[CATEGORIES] = _set_bit(stats[CATEGORIES], category, CATEGORY_BITS)


def note_balance(stats: list[Any], balance: float, limit: float) -> None:
    """Keep the latest balance of an account with a credit limit."""
    stats[BALANCE] = balance
    stats[LIMIT] = limit


def note_alert(stats: list[Any], alert: AlertType, *, on: bool) -> None:
    """Put an alert on or off."""
    bit = ALERT_BITS[alert]
    stats[ENABLED] = stats[ENABLED] | bit if on else stats[ENABLED] & ~bit


def enabled(stats: list[Any]) -> list[AlertType]:
    """Return the alerts the user has on, in the enum's order."""
    bits = stats[ENABLED]
    return [alert for alert, bit in ALERT_BITS.items() if bits & bit]


def utilisation(stats: list[Any]) -> float:
    """Return the latest balance over its credit limit (0 when unknown or in credit)."""
    balance, limit = stats[BALANCE], stats[LIMIT]
    if balance is None or not limit:
        return 0.0
    return float(max(balance, 0.0) / limit)


def features(stats: list[Any]) -> AlertFeatureValues | None:
    """Return the recommender's features, or ``None`` before the first debit (cold start)."""
    count = stats[COUNT]
    if not count:
        return None
    days = max((stats[LAST_AT] - stats[FIRST_AT]) / SECONDS_PER_DAY, 1.0)
    volatility = math.sqrt(max(stats[M2], 0.0) / (count - 1)) if count > 1 else 0.0
    return AlertFeatureValues(
        total_amount=stats[TOTAL_CENTS] / 100,
        average_transaction=stats[TOTAL_CENTS] / 100 / count,
        spending_volatility=volatility,
        transaction_count=float(count),
        transactions_per_day=count / days,
        unique_merchants=distinct(stats[MERCHANTS], MERCHANT_BITS),
        unique_categories=distinct(stats[CATEGORIES], CATEGORY_BITS),
        credit_utilisation=utilisation(stats),
    )


def distinct(bitmap: str, bits: int) -> float:
    """Estimate how many distinct names set ``bitmap`` (linear counting)."""
    if not bitmap:
        return 0.0
    ones = _bits(bitmap).bit_count()
    zeros = bits - ones
    if zeros == 0:
        return bits * math.log(bits)
    return -bits * math.log(zeros / bits)


def has_name(bitmap: str, name: str, bits: int) -> bool:
    """Return whether ``name``'s bit is set: seen before, or (rarely) a name sharing its bit."""
    return bool(_bits(bitmap) >> (zlib.crc32(name.encode()) % bits) & 1)


def _set_bit(bitmap: str, name: str, bits: int) -> str:
    """Set the bit ``name`` picks in ``bitmap`` (base64 of its bytes; "" when empty)."""
    value = _bits(bitmap) | 1 << (zlib.crc32(name.encode()) % bits)
    return base64.b64encode(value.to_bytes(bits // 8, "little")).decode()


def _bits(bitmap: str) -> int:
    return int.from_bytes(base64.b64decode(bitmap), "little") if bitmap else 0
