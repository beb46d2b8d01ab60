"""The evaluations as text tables and as JSON-ready dicts (``nudge models evaluate-online``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from models.online import forecast
from models.online_evaluation.anomalies import AnomalyEvaluation
from models.online_evaluation.card_stream import KINDS, TEST_DAYS
from models.online_evaluation.forecasts import ForecastEvaluation
from models.online_evaluation.goal_odds import ASKED_AT, GoalCalibration
from models.online_evaluation.send_times import (
    BASELINES,
    POLICIES,
    WINDOW_HOURS,
    SendTimeSimulation,
)

#: Sends per column of the send-time table.
BLOCK = 10


def render_anomalies(evaluation: AnomalyEvaluation) -> str:
    """Return the anomaly evaluation: ROC-AUC per method and kind, then operating points."""
    e = evaluation
    kinds = ", ".join(f"{kind} {e.anomalies[kind]}" for kind in KINDS)
    lines = [
        f"Unusual debits: {e.users} card holders, {e.debits} debits; {e.tested} scored in the "
        f"last {TEST_DAYS} days, {sum(e.anomalies.values())} of them injected ({kinds})",
        f"{'method':<22}{'ROC-AUC':>8}" + "".join(f"{k:>8}" for k in KINDS) + f"{'us/debit':>10}",
    ]
    for m in e.methods:
        cost = "-" if m.micros_per_debit is None else f"{m.micros_per_debit:.1f}"
        lines.append(
            f"{m.name:<22}{_f(m.auc):>8}"
            + "".join(f"{_f(m.auc_by_kind[k]):>8}" for k in KINDS)
            + f"{cost:>10}"
        )
    lines += [
        "",
        f"{'flagged when':<38}{'flagged':>8}{'precision':>10}{'recall':>8}"
        + "".join(f"{k:>8}" for k in KINDS),
    ]
    for p in e.points:
        lines.append(
            f"{p.name:<38}{p.hits.flagged:>8}{_f(p.hits.precision):>10}{_f(p.hits.recall):>8}"
            + "".join(f"{_f(p.recall_by_kind[k]):>8}" for k in KINDS)
        )
    lines.append("(recall per kind: the share of that kind's anomalies flagged)")
    return "\n".join(lines)


def render_send_time(simulation: SendTimeSimulation) -> str:
    """Return the send-time simulation: open rates per policy, per block of sends, uplifts."""
    s = simulation
    blocks = [(first, min(first + BLOCK - 1, s.sends)) for first in range(1, s.sends + 1, BLOCK)]
    if blocks[-1] != (s.sends - s.last + 1, s.sends):
        blocks.append((s.sends - s.last + 1, s.sends))  # the last ones, when not a block
    header = (
        f"{'policy':<15}{f'1-{s.sends}':>8}"
        + "".join(f"{f'{a}-{b}':>8}" for a, b in blocks)
        + "   learned is"
    )
    lines = [
        f"Send time: {s.users} users with a hidden {WINDOW_HOURS}-hour window, {s.sends} "
        "messages each; open rate per policy",
        header,
    ]
    for policy in POLICIES:
        uplift = (
            f"   {s.uplift(policy):.2f}x "
            f"({s.uplift(policy, recent=True):.2f}x over the last {s.last})"
            if policy in BASELINES
            else ""
        )
        lines.append(
            f"{policy:<15}{s.rate(policy):>8.3f}"
            + "".join(f"{s.rate(policy, a, b):>8.3f}" for a, b in blocks)
            + uplift
        )
    return "\n".join(lines)


def render_forecasts(evaluation: ForecastEvaluation, calibration: GoalCalibration) -> str:
    """Return the forecast errors, then the goal probability's calibration."""
    e, g = evaluation, calibration
    shipped = f"ew a={forecast.ALPHA}"
    lines = [
        f"Next week's spending: {e.users} users, {e.forecasts} weekly forecasts",
        f"{'method':<22}{'MAE $':>9}{'MAPE %':>8}",
    ]
    for err in e.errors:
        name = f"{err.method} (shipped)" if err.method == shipped else err.method
        lines.append(f"{name:<22}{err.mae_dollars:>9.2f}{err.mape_pct:>8.1f}")
    asked = ", ".join(f"{share:.0%}" for share in ASKED_AT)
    lines += [
        "",
        f"Goal probability: {g.savers} savers, {g.predictions} predictions (at {asked} of the "
        f"way), {g.reached_share:.1%} of the goals reached",
        f"Brier score {g.brier:.3f}; always {g.reached_share:.3f}: {g.base_rate_brier:.3f}; "
        f"skill {g.skill:.2f}",
        f"{'predicted':<12}{'predictions':>12}{'mean':>8}{'reached':>9}",
    ]
    for band in g.bands:
        lines.append(
            f"{f'{band.low:.1f}-{band.high:.1f}':<12}{band.predictions:>12}"
            f"{_f(band.mean_predicted):>8}{_f(band.reached_share):>9}"
        )
    return "\n".join(lines)


def as_dict(
    anomalies: AnomalyEvaluation,
    send_time: SendTimeSimulation,
    forecasts: ForecastEvaluation,
    goals: GoalCalibration,
) -> dict[str, Any]:
    """Return every evaluation as JSON-ready data (rates and uplifts included)."""
    points = [
        {**asdict(p), "precision": p.hits.precision, "recall": p.hits.recall}
        for p in anomalies.points
    ]
    rates = {
        policy: {"rate": send_time.rate(policy), "rate_last": send_time.rate_last(policy)}
        for policy in POLICIES
    }
    uplift = {
        over: {"all": send_time.uplift(over), "last": send_time.uplift(over, recent=True)}
        for over in BASELINES
    }
    return {
        "anomalies": {**asdict(anomalies), "points": points},
        "send_time": {**asdict(send_time), "rates": rates, "uplift": uplift},
        "forecasts": asdict(forecasts),
        "goals": {**asdict(goals), "skill": goals.skill},
    }


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
