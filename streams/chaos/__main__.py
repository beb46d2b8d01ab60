"""``python -m streams.chaos``: the chaos session of ``make chaos``; writes its JSON report.

Exits 0 when every fault run matched the reference (nothing lost, nothing extra, nothing
changed, every user's final state the same), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson

from schemas.settings import Settings
from streams.chaos.faults import PLANS
from streams.chaos.options import ChaosOptions
from streams.chaos.session import run_chaos
from streams.runtime.logs import configure_logging


def parse(argv: Sequence[str] | None = None) -> ChaosOptions:
    """Return the options named on the command line (defaults: ``ChaosOptions``)."""
    default = ChaosOptions()
    parser = argparse.ArgumentParser(prog="python -m streams.chaos", description=__doc__)
    parser.add_argument("--users", type=int, default=default.users)
    parser.add_argument("--rate", type=float, default=default.rate, help="events/s, fault runs")
    parser.add_argument("--seed", type=int, default=default.seed)
    parser.add_argument("--history-days", type=int, default=default.history_days)
    parser.add_argument("--invalid-share", type=float, default=default.invalid_share)
    parser.add_argument("--runs", type=int, default=default.runs, help="fault runs")
    parser.add_argument("--plan", choices=sorted(PLANS), default=default.plan)
    parser.add_argument("--store", choices=("memory://", "rocksdb://"), default=default.store)
    parser.add_argument(
        "--guarantee", choices=("at_least_once", "exactly_once"), default=default.guarantee
    )
    parser.add_argument("--partitions", type=int, default=default.partitions)
    parser.add_argument("--catch-up-seconds", type=float, default=default.catch_up_seconds)
    parser.add_argument("--work-dir", type=Path, default=default.work_dir)
    parser.add_argument("--out", type=Path, default=default.out)
    parser.add_argument("--keep-topics", action="store_true", help="to look into a loss")
    args = parser.parse_args(argv)
    return ChaosOptions(**{k: v for k, v in vars(args).items()})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the session, write the report, print one line per fault run."""
    options = parse(argv)
    configure_logging("WARNING")
    report = asyncio.run(run_chaos(options, Settings()))
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    clean = True
    for run in report["runs"]:
        totals = run["verdict"]
        clean &= not any(totals[k] for k in ("lost", "extra", "changed", "state_differs"))
        print(f"{run['name']}: " + ", ".join(f"{k} {v}" for k, v in totals.items()))
    print(f"report: {options.out} ({report['seconds']:.0f} s)")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
