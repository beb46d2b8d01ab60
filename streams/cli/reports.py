"""``nudge report ...``: reports read from PostgreSQL.

Most reports are over a window of 7, 30 or 90 days (``--days``). Four are not:
``experiments`` (over every exposure, judged with the experiments' definitions in force,
read from the definitions topic), ``funnel ID``, ``cohorts`` and ``recommendations``
(over every alert recommendation stored).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

from schemas.settings import Settings

if TYPE_CHECKING:
    from schemas.experiments import ExperimentDefinition

#: How long ``nudge report experiments`` waits for the definitions topic before it judges
#: the experiments with the defaults, in seconds.
DEFINITIONS_TIMEOUT_SECONDS = 15.0


def register(subcommands: Any) -> None:
    """Add ``report`` to the ``nudge`` subcommands."""
    report = subcommands.add_parser("report", help="reports from the database")
    actions = report.add_subparsers(dest="action", required=True)
    for name, text in (
        ("effectiveness", "per trigger, template and channel: sends, engagement, conversion"),
        ("interventions", "per intervention type: responses and prevented defaults"),
        ("behavior", "behaviour changes per activity and direction: changes, users, size"),
        ("segments", "per segment: members now, joins and leaves (per UTC day too)"),
        ("users", "active users per pattern and per score band, from their latest snapshot"),
        ("personalization", "per personalization rule: users matched, sent, engaged, converted"),
    ):
        one = actions.add_parser(name, help=text)
        one.add_argument("--days", type=int, choices=(7, 30, 90), default=30, help="window")
        one.add_argument("--json", action="store_true", help="print JSON, not tables")
        if name == "users":
            one.add_argument(
                "--pattern",
                metavar="P",
                help="only users with pattern P (none: without one), and list up to 10",
            )
        one.set_defaults(run=run)
    _register_unwindowed(actions)


def _register_unwindowed(actions: Any) -> None:
    experiments = actions.add_parser(
        "experiments", help="per experiment and metric: arms, lifts, p-values, sample checks"
    )
    experiments.add_argument("--experiment", metavar="ID", help="only this experiment")
    experiments.add_argument(
        "--sequential",
        action="store_true",
        help="always-valid p-values and intervals (safe to look at every day)",
    )
    funnel = actions.add_parser(
        "funnel", help="per step of a funnel: reached, conversion, drop-off, time between steps"
    )
    funnel.add_argument("funnel_id", metavar="ID", help="the funnel's id")
    cohorts = actions.add_parser(
        "cohorts", help="weekly cohorts: size, retention per week, converted share, LTV per user"
    )
    cohorts.add_argument(
        "--weeks", type=_weeks, default=8, metavar="N", help="retention weeks 0 to N (default 8)"
    )
    recommendations = actions.add_parser(
        "recommendations",
        help="per alert type and model version: users recommended, accepted, acceptance",
    )
    forecasts = actions.add_parser(
        "forecasts",
        help="per user: next week's spending forecast, overspend by payday, goal probability",
    )
    forecasts.add_argument("--user", metavar="ID", help="only this user")
    for parser in (experiments, funnel, cohorts, recommendations, forecasts):
        parser.add_argument("--json", action="store_true", help="print JSON, not tables")
        parser.set_defaults(run=run)


def _weeks(text: str) -> int:
    from sinks.reports.cohorts import MAX_WEEKS

    weeks = int(text)
    if not 0 <= weeks <= MAX_WEEKS:
        msg = f"0 to {MAX_WEEKS}"
        raise argparse.ArgumentTypeError(msg)
    return weeks


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Print the report, or say why it cannot be made."""
    from sinks.reports import build as report
    from sinks.reports.funnels import UnknownFunnel

    try:
        made = _build(settings, args)
    except (report.ReportError, UnknownFunnel) as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    print(report.render_json(made) if args.json else report.render_text(made))
    return 0


def _build(settings: Settings, args: argparse.Namespace) -> Any:
    from sinks.reports import build as report
    from sinks.reports.cohorts import build_cohorts
    from sinks.reports.experiments import build_experiments
    from sinks.reports.forecasts import build_forecasts
    from sinks.reports.funnels import build_funnel
    from sinks.reports.recommendations import build_recommendations

    if args.action == "experiments":
        return build_experiments(
            settings,
            experiment=args.experiment,
            sequential=args.sequential,
            definitions=experiment_definitions(settings),
        )
    if args.action == "funnel":
        return build_funnel(settings, args.funnel_id)
    if args.action == "cohorts":
        return build_cohorts(settings, args.weeks)
    if args.action == "recommendations":
        return build_recommendations(settings)
    if args.action == "forecasts":
        return build_forecasts(settings, args.user)
    return report.build(settings, args.action, args.days, getattr(args, "pattern", None))


def experiment_definitions(settings: Settings) -> list[ExperimentDefinition]:
    """Return the experiments in force, as workers read them from the definitions topic.

    Those applied with ``nudge experiments apply`` (stopped ones too), and the global
    control group when ``NUDGE_GLOBAL_CONTROL_PERCENT`` turns it on. If the broker cannot
    be read within ``DEFINITIONS_TIMEOUT_SECONDS``, says so and returns none: the report
    then judges every experiment with the defaults, and says that too.
    """
    from aiokafka.errors import KafkaError

    from streams.cli.analytics import in_force

    async def read() -> list[ExperimentDefinition]:
        applied, _ = await asyncio.wait_for(in_force(settings), DEFINITIONS_TIMEOUT_SECONDS)
        return list(applied.analytics.experiments.definitions.values())

    try:
        return asyncio.run(read())
    except (TimeoutError, KafkaError, OSError) as exc:
        print(
            f"report: experiment definitions not read ({type(exc).__name__}); "
            "judging every experiment with the defaults",
            file=sys.stderr,
        )
        return []
