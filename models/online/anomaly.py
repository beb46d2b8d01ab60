"""An anomaly score for each debit, from the user's own spending: prequential, per user.

Each debit is scored against what the user's record knew before it, then learned. The raw
score is a sum of surprisals (nats), one per view of the debit, as if the views were
independent (the negative log-likelihood of the debit under the user's model, less that
of an ordinary one):

- **amount**: ``z = (ln(1 + dollars) - mean) / sqrt(var + AMOUNT_VAR_FLOOR)``, with the
  exponentially weighted mean and variance of the user's log amounts (``ALPHA``: river's
  ``stats.EWMean`` and ``stats.EWVar`` updates, pinned by a test); surprisal
  ``max(z, 0)**2 / 2``. Only a large amount is news.
- **hour**: the local hour's 3-hour bin against the user's histogram of bins (Laplace
  smoothed): ``max(0, ln((1 / HOUR_BINS) / p(bin)))``, zero until the history says more
  than "uniform".
- **new merchant**: a merchant the user has not paid before costs ``-ln(p_new)``, where
  ``p_new`` is the user's exponentially weighted rate of new merchants (floored at
  ``RATE_FLOOR``). Someone who always tries new places is not surprised by one more.
- **new category**: the same with categories, at half weight.
- **abroad**: a country other than the user's home (a majority vote over the countries of
  their debits: Boyer-Moore, two fields) costs ``-ln(p_abroad)``, the user's rate of
  debits abroad.

The score is ``1 - exp(-raw / SCALE)``, in [0, 1): monotone in the raw sum, so ROC-AUC is
the raw sum's. A user with fewer than ``MIN_DEBITS`` debits has no score (``None``).

Layout of ``UserState.anomaly`` (a list; ``None`` until the first debit): see the indices
below; ``LAST`` and ``REASON`` are the latest debit's score and its largest view. Floats
are rounded to ``DECIMALS`` places: the record stays short and the update is
still exact to what it stores.
"""

from __future__ import annotations

import math
from typing import Any

N, MEAN, VAR, HOURS, P_NEW, P_NEWCAT, P_ABROAD, HOME, VOTES, LAST, REASON = range(11)

#: Weight of the newest debit in the exponentially weighted figures (river's fading factor).
ALPHA = 0.1
#: Added to the log-amount variance: a user who always spends the same is not alarmed by cents.
AMOUNT_VAR_FLOOR = 0.05
#: Local hours are counted in bins of three hours: eight bins.
HOUR_BINS = 8
#: A bin count at this height halves every bin: the histogram follows a changing routine.
HOUR_COUNT_CAP = 60
#: Rates are never taken below this: a never-seen thing costs at most ``-ln(RATE_FLOOR)``.
RATE_FLOOR = 0.02
#: The new-merchant, new-category and abroad rates a user starts from.
PRIOR_NEW, PRIOR_NEWCAT, PRIOR_ABROAD = 0.5, 0.3, 0.05
#: Weight of the new-category surprisal (a new category is usually also a new merchant).
CATEGORY_WEIGHT = 0.5
#: Nats of raw surprisal that map to ``1 - 1/e`` of the score.
SCALE = 4.0
#: Debits before a user's score means anything.
MIN_DEBITS = 10
DECIMALS = 4


def empty() -> list[Any]:
    """Return the state of a user with no debit yet."""
    return [
        0,
        0.0,
        0.0,
        [0] * HOUR_BINS,
        PRIOR_NEW,
        PRIOR_NEWCAT,
        PRIOR_ABROAD,
        None,
        0,
        None,
        None,
    ]


def score_and_learn(  # noqa: PLR0913 - the debit's views, each keyword-only
    state: list[Any],
    *,
    dollars: float,
    local_hour: int,
    new_merchant: bool | None,
    new_category: bool | None,
    country: str | None,
) -> float | None:
    """Score one debit against ``state``, then learn it; the score is also kept in ``LAST``.

    Args:
        state: The user's anomaly state (``empty()`` for a first debit); changed in place.
        dollars: The debit's amount.
        local_hour: Hour of the day (0-23) in the user's time zone.
        new_merchant: Whether the merchant is one the user has not paid before; ``None``
            when the debit names no merchant.
        new_category: The same for the category.
        country: Where the debit happened (ISO code), ``None`` when not said.

    Returns:
        The score in [0, 1), or ``None`` while the user has fewer than ``MIN_DEBITS``.
    """
    parts = surprisals(
        state, dollars=dollars, local_hour=local_hour, new_merchant=new_merchant,
        new_category=new_category, country=country,
    )  # fmt: skip
    raw = sum(parts.values())
    score = None if state[N] < MIN_DEBITS else round(1.0 - math.exp(-raw / SCALE), DECIMALS)
    reason = max(parts, key=parts.__getitem__) if score else None  # none for a score of 0
    learn(
        state, dollars=dollars, local_hour=local_hour, new_merchant=new_merchant,
        new_category=new_category, country=country,
    )  # fmt: skip
    state[LAST], state[REASON] = score, reason
    return score


def surprise(  # noqa: PLR0913 - as score_and_learn
    state: list[Any],
    *,
    dollars: float,
    local_hour: int,
    new_merchant: bool | None,
    new_category: bool | None,
    country: str | None,
) -> float:
    """Return the debit's raw surprisal (nats) against ``state``, changing nothing."""
    parts = surprisals(
        state, dollars=dollars, local_hour=local_hour, new_merchant=new_merchant,
        new_category=new_category, country=country,
    )  # fmt: skip
    return sum(parts.values())


def surprisals(  # noqa: PLR0913 - as score_and_learn
    state: list[Any],
    *,
    dollars: float,
    local_hour: int,
    new_merchant: bool | None,
    new_category: bool | None,
    country: str | None,
) -> dict[str, float]:
    """Return each view's surprisal in nats, changing nothing.

    The views are ``amount``, ``hour``, ``merchant``, ``category`` and ``abroad``; the
    largest is the score's reason.
    """
    parts = {"amount": 0.0, "hour": 0.0, "merchant": 0.0, "category": 0.0, "abroad": 0.0}
    if state[N]:
        z = (_log_amount(dollars) - state[MEAN]) / math.sqrt(state[VAR] + AMOUNT_VAR_FLOOR)
        parts["amount"] = max(z, 0.0) ** 2 / 2
    hours = state[HOURS]
    seen = sum(hours)
    p_bin = (hours[local_hour * HOUR_BINS // 24] + 1) / (seen + HOUR_BINS)
    parts["hour"] = max(0.0, math.log(1 / HOUR_BINS / p_bin))
    if new_merchant:
        parts["merchant"] = -math.log(max(state[P_NEW], RATE_FLOOR))
    if new_category:
        parts["category"] = -CATEGORY_WEIGHT * math.log(max(state[P_NEWCAT], RATE_FLOOR))
    if _abroad(state, country):
        parts["abroad"] = -math.log(max(state[P_ABROAD], RATE_FLOOR))
    return parts


def learn(  # noqa: PLR0913 - as score_and_learn
    state: list[Any],
    *,
    dollars: float,
    local_hour: int,
    new_merchant: bool | None,
    new_category: bool | None,
    country: str | None,
) -> None:
    """Fold one debit into ``state``: the amount's figures, the hour, the rates, the home."""
    x = _log_amount(dollars)
    if state[N] == 0:
        state[MEAN], state[VAR] = round(x, DECIMALS), 0.0
    else:
        # river's stats.EWVar: the variance is updated with the mean before the new value.
        diff = x - state[MEAN]
        mean = state[MEAN] + ALPHA * diff
        state[VAR] = round((1 - ALPHA) * (state[VAR] + ALPHA * diff * diff), DECIMALS)
        state[MEAN] = round(mean, DECIMALS)
    state[N] += 1
    hours = state[HOURS]
    hours[local_hour * HOUR_BINS // 24] += 1
    if max(hours) >= HOUR_COUNT_CAP:
        state[HOURS] = [count // 2 for count in hours]
    if new_merchant is not None:
        state[P_NEW] = _ew(state[P_NEW], new_merchant)
    if new_category is not None:
        state[P_NEWCAT] = _ew(state[P_NEWCAT], new_category)
    if country is not None:
        state[P_ABROAD] = _ew(state[P_ABROAD], _abroad(state, country))
        _vote(state, country)


def last_score(state: list[Any] | None) -> tuple[float | None, str | None]:
    """Return the score of the user's latest debit and the view that made it most unusual.

    ``(None, None)`` before ``MIN_DEBITS``; the reason is ``None`` for a score of 0.
    """
    return (None, None) if state is None else (state[LAST], state[REASON])


def _abroad(state: list[Any], country: str | None) -> bool:
    return country is not None and state[HOME] is not None and country != state[HOME]


def _vote(state: list[Any], country: str) -> None:
    """Boyer-Moore majority vote: the home country is the one most debits happen in."""
    if state[HOME] == country:
        state[VOTES] += 1
    elif state[VOTES] == 0:
        state[HOME], state[VOTES] = country, 1
    else:
        state[VOTES] -= 1


def _ew(rate: float, happened: bool) -> float:
    return round(rate + ALPHA * (float(happened) - rate), DECIMALS)


def _log_amount(dollars: float) -> float:
    return math.log1p(max(dollars, 0.0))
