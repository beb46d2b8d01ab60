"""The demo's learned models: the anomaly evaluation, the send-time uplift, a few forecasts.

``print_learning`` runs short versions of ``models.online_evaluation``'s evaluations
(synthetic data built to be learnable; ``nudge models evaluate-online`` runs the full
ones): ROC-AUC of the per-user anomaly score, river's HalfSpaceTrees and the "3x the
usual day" rule, with precision and recall at the shipped threshold; the open rates of
learned send times against sending at the trigger's time, at noon and at random; then
next week's spending forecast for a few users of the demo's own population, from the
same synthetic history the demo published: the forecast of their last complete week
made a week before, against the naive one and what they spent, and both forecasts' errors
on the evaluation's population (livelier than the demo's steady spenders). A few seconds, no I/O but
the printing; it changes nothing the demo checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from models.online import forecast
from models.online_evaluation import evaluate_anomalies, evaluate_forecasts, simulate_send_time
from models.online_evaluation.anomalies import PER_USER, RULE, SHIPPED
from models.online_evaluation.send_times import BASELINES, POLICIES
from streams.core.units import day_number, to_cents
from streams.simulation.population import Mix, population_events
from streams.simulation.synthetic import Persona

#: Sizes small enough for a few seconds, large enough for the differences to show.
ANOMALY_USERS = 100
SEND_TIME_USERS = 300
SENDS = 60
FORECAST_USERS = 300
#: Users of the demo's population whose forecasts are shown.
SHOWN = 4
HEADER = "Learned models (synthetic data built to be learnable; docs/learning.md)"
#: The anomaly methods and operating points shown.
METHODS = (PER_USER, "half-space trees", RULE)
POINTS = (SHIPPED, "per-user score >= 0.8", RULE)
#: The margin the demo's test asks of learned send times over every fixed policy.
UPLIFT_MARGIN = 1.3


def print_learning(mix: Mix, *, users: int, seed: int, now: datetime) -> None:
    """Print the section (see the module) for the demo's population ``mix``/``users``."""
    _say(f"\n{HEADER}")
    anomalies = evaluate_anomalies(users=ANOMALY_USERS, seed=seed)
    _say(
        f"  Unusual debits: {anomalies.tested} debits of {anomalies.users} card holders, "
        f"{sum(anomalies.anomalies.values())} of them injected\n    anomalies (amount, time of "
        "day, new merchant abroad), each scored before it is learned"
    )
    aucs = ", ".join(f"{m.name} {_f(m.auc)}" for m in anomalies.methods if m.name in METHODS)
    _say(f"    ROC-AUC: {aucs}")
    _say(f"    {'flagged when':<38}{'precision':>10}{'recall':>8}")
    for name in POINTS:
        hits = anomalies.point(name).hits
        _say(f"    {name:<38}{_f(hits.precision):>10}{_f(hits.recall):>8}")
    sends = simulate_send_time(users=SEND_TIME_USERS, sends=SENDS, seed=seed)
    _say(
        f"  Send time: {sends.users} users with hidden preferred hours, {sends.sends} messages "
        f"each; open rate over the last {sends.last}:"
    )
    _say("    " + ", ".join(f"{p} {sends.rate_last(p):.3f}" for p in (*POLICIES,)))
    uplift = ", ".join(f"{sends.uplift(p, recent=True):.2f}x {p}" for p in BASELINES)
    _say(f"    learned send times: {uplift}")
    _print_forecasts(_shown(mix.population(users, seed=seed)), seed=seed, now=now)
    errors = evaluate_forecasts(users=FORECAST_USERS, seed=seed)
    shipped, naive = errors.error(f"ew a={forecast.ALPHA}"), errors.error("last week")
    _say(
        f"    on a livelier synthetic population ({errors.forecasts} forecasts): mean error "
        f"${shipped.mae_dollars:,.0f} ({shipped.mape_pct:.0f} %), naive "
        f"${naive.mae_dollars:,.0f} ({naive.mape_pct:.0f} %)"
    )


def _shown(personas: list[Persona]) -> list[Persona]:
    """A few users: ordinary ones first, then one of each other archetype."""
    chosen: list[Persona] = []
    for archetype in ("steady", "steady", "spender", "income_drop", "both"):
        found = next(
            (p for p in personas if p.archetype == archetype and p.story is None
             and p not in chosen),
            None,
        )  # fmt: skip
        if found is not None and len(chosen) < SHOWN:
            chosen.append(found)
    return chosen


def _print_forecasts(personas: list[Persona], *, seed: int, now: datetime) -> None:
    today = day_number(now)
    daily = _daily_debits(population_events(personas, now=now, seed=seed))
    _say(
        f"  Next week's spending (exponentially weighted, a = {forecast.ALPHA}) of "
        f"{len(personas)} of the demo's users:\n    the forecast of their last complete week "
        "made a week before, the naive one (the week before's total) and what they spent"
    )
    for persona in personas:
        days = daily.get(persona.user_id, {})
        since = min(days, default=None)
        week_ago = today - forecast.DAYS_PER_WEEK
        made = forecast.next_week_cents(days, week_ago, since)
        naive = sum(days.get(d, 0) for d in range(week_ago - 7, week_ago))
        spent = sum(days.get(d, 0) for d in range(week_ago, today))
        upcoming = forecast.next_week_cents(days, today, since)
        _say(
            f"    {persona.user_id} ({persona.archetype}): forecast ${_d(made)}, naive "
            f"${_d(naive)}, spent ${_d(spent)}; next week ${_d(upcoming)}"
        )


def _daily_debits(events: Iterable[dict[str, object]]) -> dict[str, dict[int, int]]:
    """User -> UTC day -> debits that day in cents, as the record keeps them."""
    daily: dict[str, dict[int, int]] = {}
    for event in events:
        payload = event["payload"]
        if not isinstance(payload, dict) or payload.get("type") != "transaction":
            continue
        if payload.get("direction") != "debit":
            continue
        day = day_number(datetime.fromisoformat(str(event["occurred_at"])))
        days = daily.setdefault(str(event["user_id"]), {})
        days[day] = days.get(day, 0) + to_cents(Decimal(str(payload["amount"])))
    return daily


def _f(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _d(cents: float | None) -> str:
    return "-" if cents is None else f"{cents / 100:,.0f}"


def _say(line: str) -> None:
    print(line, flush=True)
