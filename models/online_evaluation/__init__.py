"""The evaluations that justify each online model, on synthetic data built to be learnable.

Pure (no I/O) and deterministic for a seed, but for the per-debit timings. Each compares
a model of ``models.online`` with the simpler answer it replaces and with a river model:

- ``evaluate_anomalies`` (``anomalies``, on ``card_stream``'s labelled debits): the
  per-user anomaly score against river's HalfSpaceTrees and the "3x the usual day" rule:
  ROC-AUC overall and per kind of anomaly, precision and recall at the shipped threshold.
- ``simulate_send_time`` (``send_times``): the send-time bandit's open rate against
  sending at the trigger's time, at noon and at random, for users with hidden hours.
- ``evaluate_forecasts`` (``forecasts``): next week's spending forecast against the naive
  last week, a 4-week mean and river's Holt-Winters; ``evaluate_goals`` (``goal_odds``):
  the goal probability's Brier score and reliability.

``tables`` renders them (``nudge models evaluate-online``; ``make demo`` shows a short
run). docs/learning.md says what was chosen, and why, with the figures.
"""

from models.online_evaluation.anomalies import AnomalyEvaluation, evaluate_anomalies
from models.online_evaluation.forecasts import ForecastEvaluation, evaluate_forecasts
from models.online_evaluation.goal_odds import GoalCalibration, evaluate_goals
from models.online_evaluation.send_times import SendTimeSimulation, simulate_send_time
from models.online_evaluation.tables import (
    as_dict,
    render_anomalies,
    render_forecasts,
    render_send_time,
)

__all__ = [
    "AnomalyEvaluation", "ForecastEvaluation", "GoalCalibration", "SendTimeSimulation",
    "as_dict", "evaluate_anomalies", "evaluate_forecasts", "evaluate_goals",
    "render_anomalies", "render_forecasts", "render_send_time", "simulate_send_time",
]  # fmt: skip
