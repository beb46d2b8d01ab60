"""How far off next week's spending forecast is, against the naive forecast and Holt-Winters.

A synthetic population's daily spending, in the style of ``streams.simulation``'s
personas (a daily level of $25 to $120) with more life in it: a lognormal day-to-day
noise (sigma 0.2 to 0.5), weekend days 1 to 1.6 times the others, a big day (3 to 8
times) on about one day in thirty, and for one user in five a lasting change of level
(x0.6 to x1.5) some week. At each week's start from the third, every method forecasts
the next seven days' total from what came before:

- ``ew a=...``: ``models.online.forecast.next_week_cents``, the shipped forecast, on the
  record's daily buckets (its last five complete weeks, exponentially smoothed), at its
  ``ALPHA`` and at others;
- ``last week``: the naive forecast, the last seven days' total;
- ``4-week mean``: the mean of the last four weeks (the spending baseline's);
- ``holt-winters``: river's ``time_series.HoltWinters`` on the user's weekly totals
  since the first, one step ahead: level only (``ALPHA``; simple exponential smoothing
  over every week, started from the mean of the first two), and with a trend (weight
  0.1, started from the first two weeks' difference).

The errors are the mean absolute error in dollars and the mean absolute percentage error
over every (user, week) all of them forecast.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from river import time_series

from models.online import forecast

#: Weeks simulated per user.
WEEKS = 16
#: The smoothing weights tried (the shipped one among them).
ALPHAS = (0.2, 0.3, 0.5)
#: Holt-Winters' trend weight.
TREND_BETA = 0.1
#: Chance a day is a big one, and how big.
BIG_DAY_CHANCE = 1 / 30
BIG_DAY_FACTORS = (3.0, 8.0)
#: Share of users whose level changes once, and by how much.
SHIFT_SHARE = 0.2
SHIFT_FACTORS = (0.6, 1.5)
#: The first simulated day's number: any day; 2026-01-05 is a Monday.
FIRST_DAY = 20_458
DAYS_PER_WEEK = forecast.DAYS_PER_WEEK


@dataclass(frozen=True, slots=True)
class ForecastError:
    """One method's errors over the forecasts judged."""

    method: str
    mae_dollars: float
    mape_pct: float


@dataclass(frozen=True, slots=True)
class ForecastEvaluation:
    """Every method's errors, over ``forecasts`` (user, week) pairs of ``users`` users."""

    users: int
    seed: int
    forecasts: int
    errors: list[ForecastError] = field(default_factory=list)

    def error(self, method: str) -> ForecastError:
        """Return the errors of ``method``."""
        return next(e for e in self.errors if e.method == method)


def daily_spend(rng: random.Random, weeks: int = WEEKS) -> dict[int, int]:
    """Return one synthetic user's debits per UTC day (cents), ``weeks`` weeks of them."""
    level = rng.uniform(25.0, 120.0)
    noise = rng.uniform(0.2, 0.5)
    weekend = rng.uniform(1.0, 1.6)
    shift_week = rng.randrange(2, weeks) if rng.random() < SHIFT_SHARE else None
    shift = rng.uniform(*SHIFT_FACTORS)
    days = {}
    for day in range(weeks * DAYS_PER_WEEK):
        dollars = level * (shift if shift_week is not None and day >= shift_week * 7 else 1.0)
        dollars *= weekend if day % DAYS_PER_WEEK >= 5 else 1.0  # Saturday and Sunday
        # exp(N(-s^2/2, s)) has mean 1: the noise leaves the level where it is.
        dollars *= math.exp(rng.gauss(-noise * noise / 2, noise))
        if rng.random() < BIG_DAY_CHANCE:
            dollars *= rng.uniform(*BIG_DAY_FACTORS)
        days[FIRST_DAY + day] = round(dollars * 100)
    return days


def evaluate_forecasts(users: int = 500, seed: int = 0) -> ForecastEvaluation:
    """Forecast every user's weeks with every method; return the errors (see the module)."""
    rng = random.Random(f"forecasts:{seed}")  # noqa: S311 - a simulation
    errors: dict[str, list[tuple[float, float]]] = {}
    for _ in range(users):
        days = daily_spend(rng)
        totals = [
            sum(days[FIRST_DAY + week * DAYS_PER_WEEK + d] for d in range(DAYS_PER_WEEK))
            for week in range(WEEKS)
        ]
        holts = _holt_winters()
        for week, actual in enumerate(totals):
            if week >= forecast.MIN_WEEKS:
                today = FIRST_DAY + week * DAYS_PER_WEEK
                guesses = _guesses(days, today, totals[:week], holts)
                for method, guess in guesses.items():
                    errors.setdefault(method, []).append((guess, actual))
            for holt in holts.values():
                holt.learn_one(actual)  # type: ignore[no-untyped-call]
    return ForecastEvaluation(
        users=users,
        seed=seed,
        forecasts=len(next(iter(errors.values()), [])),
        errors=[_errors(method, pairs) for method, pairs in errors.items()],
    )


def _guesses(
    days: dict[int, int],
    today: int,
    past: list[int],
    holts: dict[str, time_series.HoltWinters],
) -> dict[str, float]:
    """Every method's forecast of the seven days from ``today`` (cents)."""
    guesses = {}
    for alpha in ALPHAS:
        shipped = forecast.next_week_cents(days, today, FIRST_DAY, alpha=alpha)
        assert shipped is not None  # noqa: S101 - MIN_WEEKS complete weeks are there
        guesses[f"ew a={alpha}"] = shipped
    guesses["last week"] = float(past[-1])
    guesses["4-week mean"] = sum(past[-4:]) / len(past[-4:])
    for name, holt in holts.items():
        guesses[name] = float(holt.forecast(horizon=1)[0])  # type: ignore[no-untyped-call]
    return guesses


def _holt_winters() -> dict[str, time_series.HoltWinters]:
    """A user's Holt-Winters forecasters, level only and with a trend (river: unannotated)."""
    return {
        "holt-winters": time_series.HoltWinters(alpha=forecast.ALPHA),  # type: ignore[no-untyped-call]
        "holt-winters, trend": time_series.HoltWinters(  # type: ignore[no-untyped-call]
            alpha=forecast.ALPHA, beta=TREND_BETA
        ),
    }


def _errors(method: str, pairs: list[tuple[float, float]]) -> ForecastError:
    mae = sum(abs(guess - actual) for guess, actual in pairs) / len(pairs) / 100
    mape = sum(abs(guess - actual) / actual for guess, actual in pairs) / len(pairs) * 100
    return ForecastError(method, round(mae, 2), round(mape, 2))
