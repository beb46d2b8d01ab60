"""Is the goal probability calibrated? Synthetic savers, predictions, and what happened.

Each saver opens a goal with a deadline 60 to 180 days away and deposits every 7 or 14
days an amount of $25 to $200, each deposit varying (lognormal, sigma 0.1 to 0.5), each
skipped with a chance of up to 30 %; one saver in five changes pace once (x0.3 to x1.5)
somewhere along the way. The target is what the planned pace would save, times 0.75 to
1.3, so about half make it. Every deposit is a progress report
(``models.online.goals.note_progress``). A quarter, half and three quarters of the way to
the deadline, ``goals.probability`` is asked; at the deadline the goal was reached or not.

The figures: the Brier score of the predictions (mean squared difference from the
outcome, 0 is perfect), that of always predicting the overall share reached (the
baseline a forecast must beat), and a reliability table: per band of predicted
probability, how many predictions, their mean, and the share of those goals reached.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from models.online import goals

#: The first day's UTC day number (any day) and the hour deposits come at.
FIRST_DAY = 20_458
DEPOSIT_HOUR = 9
SECONDS_PER_DAY = 86_400
#: When the probability is asked, as shares of the way to the deadline.
ASKED_AT = (0.25, 0.5, 0.75)
#: The reliability table's bands of predicted probability.
BANDS = 5
PACE_CHANGE_SHARE = 0.2


@dataclass(frozen=True, slots=True)
class Band:
    """Predictions within one band of probability, and how they came out."""

    low: float
    high: float
    predictions: int
    mean_predicted: float | None
    reached_share: float | None


@dataclass(frozen=True, slots=True)
class GoalCalibration:
    """The goal probability's calibration over ``savers`` synthetic savers."""

    savers: int
    seed: int
    predictions: int
    reached_share: float
    brier: float
    base_rate_brier: float
    bands: list[Band] = field(default_factory=list)

    @property
    def skill(self) -> float:
        """The Brier skill score: 1 - brier / base_rate_brier (above 0: better than the base)."""
        return 1 - self.brier / self.base_rate_brier if self.base_rate_brier else 0.0


def evaluate_goals(savers: int = 1000, seed: int = 0) -> GoalCalibration:
    """Simulate ``savers`` goals; return the probability's Brier score and reliability."""
    rng = random.Random(f"goals:{seed}")  # noqa: S311 - a simulation
    pairs: list[tuple[float, bool]] = []
    for _ in range(savers):
        pairs.extend(_saver(rng))
    outcomes = [reached for _, reached in pairs]
    share = sum(outcomes) / len(outcomes)
    return GoalCalibration(
        savers=savers,
        seed=seed,
        predictions=len(pairs),
        reached_share=share,
        brier=sum((p - r) ** 2 for p, r in pairs) / len(pairs),
        base_rate_brier=sum((share - r) ** 2 for r in outcomes) / len(outcomes),
        bands=_bands(pairs),
    )


def _saver(rng: random.Random) -> list[tuple[float, bool]]:
    """One saver's predictions (those the model gave) and whether the goal was reached."""
    days = rng.randint(60, 180)
    every = rng.choice((7, 14))
    amount, spread, skip = rng.uniform(25, 200), rng.uniform(0.1, 0.5), rng.uniform(0.0, 0.3)
    change = rng.randrange(days) if rng.random() < PACE_CHANGE_SHARE else None
    factor = rng.uniform(0.3, 1.5)
    target = round(amount * (1 - skip) * (days // every) * rng.uniform(0.75, 1.3), 2)
    deadline = FIRST_DAY + days
    start = FIRST_DAY * SECONDS_PER_DAY + DEPOSIT_HOUR * 3600
    goal = goals.start(float(start), 0.0, target, deadline)
    asked = {round(days * share) for share in ASKED_AT}
    predictions = []
    saved = 0.0
    for day in range(1, days + 1):
        if day in asked:
            chance = goals.probability(goal, float(start + day * SECONDS_PER_DAY - 3600))
            if chance is not None:
                predictions.append(chance)
        if day % every or rng.random() < skip:
            continue
        pace = factor if change is not None and day >= change else 1.0
        saved += round(amount * pace * math.exp(rng.gauss(-spread * spread / 2, spread)), 2)
        goal_at = float(start + day * SECONDS_PER_DAY)
        goals.note_progress(goal, goal_at, saved, target, deadline)
    reached = saved >= target
    return [(p, reached) for p in predictions]


def _bands(pairs: list[tuple[float, bool]]) -> list[Band]:
    bands = []
    for band in range(BANDS):
        low, high = band / BANDS, (band + 1) / BANDS
        inside = [(p, r) for p, r in pairs if low <= p < high or (band == BANDS - 1 and p == 1)]
        bands.append(
            Band(
                low=low,
                high=high,
                predictions=len(inside),
                mean_predicted=sum(p for p, _ in inside) / len(inside) if inside else None,
                reached_share=sum(r for _, r in inside) / len(inside) if inside else None,
            )
        )
    return bands
