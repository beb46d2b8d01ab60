"""The forecast and goal evaluations: the shipped forecast beats last week's; goals have skill."""

from __future__ import annotations

import random

import pytest

from models.online import forecast
from models.online_evaluation.forecasts import daily_spend, evaluate_forecasts
from models.online_evaluation.goal_odds import evaluate_goals


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_shipped_forecast_errs_clearly_less_than_last_weeks_total(seed: int) -> None:
    evaluation = evaluate_forecasts(users=200, seed=seed)
    shipped = evaluation.error(f"ew a={forecast.ALPHA}")
    naive = evaluation.error("last week")
    assert shipped.mae_dollars < naive.mae_dollars * 0.9, (shipped, naive)
    assert shipped.mape_pct < naive.mape_pct
    assert evaluation.forecasts == 200 * 14  # weeks 3 to 16 of each user


def test_the_population_spends_at_its_level_with_weekends_and_big_days() -> None:
    days = daily_spend(random.Random(1), weeks=52)
    assert len(days) == 364 and all(cents > 0 for cents in days.values())
    values = sorted(days.values())
    assert values[-1] > 3 * values[len(values) // 2]  # big days


def test_the_goal_probability_beats_the_base_rate() -> None:
    calibration = evaluate_goals(savers=600, seed=0)
    assert 0.3 < calibration.reached_share < 0.7  # targets built so about half make it
    assert calibration.brier < calibration.base_rate_brier
    assert sum(band.predictions for band in calibration.bands) == calibration.predictions
