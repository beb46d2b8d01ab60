"""The benchmark report: machine, parameters, per-mode results and same-run ratios."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

#: The modes, in the order they run and are shown.
MODES = ("pipeline", "faust_passthrough", "aiokafka_loop")
#: Throughput ratios reported, as (numerator, denominator) modes.
RATIO_PAIRS = (
    ("pipeline", "faust_passthrough"),
    ("pipeline", "aiokafka_loop"),
    ("faust_passthrough", "aiokafka_loop"),
)
#: Version of the report's layout; bump it when a field changes meaning.
REPORT_VERSION = 1


def machine_info() -> dict[str, Any]:
    """Return what the figures depend on: CPUs, Python, platform, library versions."""
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "faust_streaming": metadata.version("faust-streaming"),
        "aiokafka": metadata.version("aiokafka"),
    }


def ratios(results: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """Return throughput ratios ``"a / b"``: events per second of ``a`` over ``b``.

    Above 1 means ``a`` is faster. A ratio is ``None`` when either mode has no throughput
    (it failed).
    """
    ratio: dict[str, float | None] = {}
    for numerator, denominator in RATIO_PAIRS:
        top = results.get(numerator, {}).get("events_per_second")
        bottom = results.get(denominator, {}).get("events_per_second")
        value = None
        if isinstance(top, int | float) and isinstance(bottom, int | float) and bottom > 0:
            value = round(top / bottom, 4)
        ratio[f"{numerator} / {denominator}"] = value
    return ratio


def build_report(
    *,
    parameters: dict[str, Any],
    preload: dict[str, Any],
    results: dict[str, dict[str, Any]],
    machine: dict[str, Any],
    started_at: str,
) -> dict[str, Any]:
    """Assemble the JSON report.

    Args:
        parameters: Events, users, partitions, seed, workload mix, topic prefix.
        preload: The pre-load's figures (seconds, events per second, bytes).
        results: Mode -> its result line, or ``{"error": ...}`` if it failed.
        machine: ``machine_info()``.
        started_at: ISO time the run started.
    """
    return {
        "report_version": REPORT_VERSION,
        "started_at": started_at,
        "machine": machine,
        "parameters": parameters,
        "preload": preload,
        "results": {mode: results[mode] for mode in MODES if mode in results},
        "ratios": ratios(results),
        "failed": sorted(mode for mode, result in results.items() if "error" in result),
    }


def format_table(report: dict[str, Any]) -> str:
    """Return a short human table of the report's results and ratios."""
    header = (
        f"{'mode':<18} {'events':>8} {'seconds':>8} {'events/s':>10} "
        f"{'startup s':>9} {'RSS MiB':>8}"
    )
    lines = [header, "-" * len(header)]
    for mode, result in report["results"].items():
        if "error" in result:
            lines.append(f"{mode:<18} FAILED: {result['error']}")
            continue
        lines.append(
            f"{mode:<18} {result['events']:>8} {result['seconds']:>8.2f} "
            f"{result['events_per_second']:>10,.0f} {result['startup_seconds']:>9.1f} "
            f"{result['peak_rss_mib']:>8.0f}"
        )
    lines.append("")
    for name, value in report["ratios"].items():
        lines.append(f"{name:<38} {'n/a' if value is None else f'{value:.3f}':>8}")
    return "\n".join(lines)
