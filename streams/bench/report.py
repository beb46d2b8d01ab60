"""The benchmark report: machine, parameters, per-mode results, sections and ratios."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

#: The modes every run has, in the order they run and are shown (peers come after).
MODES = ("pipeline", "faust_passthrough", "aiokafka_loop")
#: Throughput ratios reported when both modes ran, as (numerator, denominator) modes.
RATIO_PAIRS = (
    ("pipeline", "faust_passthrough"),
    ("pipeline", "quix_core"),
    ("pipeline", "aiokafka_loop"),
    ("faust_passthrough", "aiokafka_loop"),
)
#: Version of the report's layout; bump it when a field changes meaning.
#: 2: CPU per event per mode, ``quix_core``, ``scale``, ``latency``, ``final_state``;
#: ``failed`` maps each failed mode or part to its error.
REPORT_VERSION = 2


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


def ratio(top: Any, bottom: Any) -> float | None:
    """Return ``top / bottom`` rounded, or ``None`` unless both are numbers and bottom > 0."""
    if isinstance(top, int | float) and isinstance(bottom, int | float) and bottom > 0:
        return round(top / bottom, 4)
    return None


def ratios(
    results: dict[str, dict[str, Any]], scale: dict[str, Any] | None = None
) -> dict[str, float | None]:
    """Return same-run ratios ``"a / b"`` of events per second; above 1, ``a`` is faster.

    A pair is left out when either mode did not run; it is ``None`` when one failed.
    ``scale`` adds ``"2 workers / 1 worker"``.
    """
    out: dict[str, float | None] = {}
    for numerator, denominator in RATIO_PAIRS:
        if numerator in results and denominator in results:
            out[f"{numerator} / {denominator}"] = ratio(
                results[numerator].get("events_per_second"),
                results[denominator].get("events_per_second"),
            )
    if scale is not None and "ratio" in scale:
        out["2 workers / 1 worker"] = scale["ratio"]
    return out


def build_report(
    *,
    parameters: dict[str, Any],
    results: dict[str, dict[str, Any]],
    sections: dict[str, Any],
    machine: dict[str, Any],
    started_at: str,
) -> dict[str, Any]:
    """Assemble the JSON report.

    Args:
        parameters: Events, users, partitions, seed, workload mix, topic prefix.
        results: Mode -> its result line, or ``{"error": ...}`` if it failed.
        sections: ``preload``, ``peers``, ``final_state``, ``scale``, ``latency``: what
            the parts that ran measured (each may hold an ``error``).
        machine: ``machine_info()``.
        started_at: ISO time the run started.
    """
    failed = {mode: str(result["error"]) for mode, result in results.items() if "error" in result}
    for name in ("scale", "latency", "final_state"):
        if isinstance(sections.get(name), dict) and "error" in sections[name]:
            failed[name] = str(sections[name]["error"])
    return {
        "report_version": REPORT_VERSION,
        "started_at": started_at,
        "machine": machine,
        "parameters": parameters,
        **{name: sections[name] for name in ("preload", "peers") if name in sections},
        "results": {mode: results[mode] for mode in sorted(results, key=_shown_order)},
        "ratios": ratios(results, sections.get("scale")),
        **{
            name: sections[name] for name in ("final_state", "scale", "latency") if name in sections
        },
        "failed": failed,
    }


def _shown_order(mode: str) -> tuple[int, str]:
    """Sort key: the modes in ``MODES`` order, then peers by name."""
    return (MODES.index(mode), "") if mode in MODES else (len(MODES), mode)


def format_table(report: dict[str, Any]) -> str:
    """Return a short human summary of the report."""
    header = (
        f"{'mode':<18} {'events':>8} {'seconds':>8} {'events/s':>10} {'CPU us/ev':>9} "
        f"{'startup s':>9} {'RSS MiB':>8}"
    )
    lines = [header, "-" * len(header)]
    for mode, result in report["results"].items():
        if "error" in result:
            lines.append(f"{mode:<18} FAILED: {result['error']}")
            continue
        lines.append(
            f"{mode:<18} {result['events']:>8} {result['seconds']:>8.2f} "
            f"{result['events_per_second']:>10,.0f} {result['cpu_us_per_event'] or 0:>9.1f} "
            f"{result['startup_seconds']:>9.1f} {result['peak_rss_mib']:>8.0f}"
        )
    lines += ["", *_summary_lines(report)]
    for name, value in report["ratios"].items():
        lines.append(f"{name:<38} {'n/a' if value is None else f'{value:.3f}':>8}")
    return "\n".join(lines)


def _summary_lines(report: dict[str, Any]) -> list[str]:
    """Return one line each for the final state, the scale runs and the latency run."""
    lines = []
    state = report.get("final_state")
    if state and "error" not in state:
        lines.append(
            f"final state: {state['users']} users, digest {state['digest'][:16]}, "
            f"matches the sequential reference: {state['matches_reference']}"
        )
    for run in (report.get("scale") or {}).get("runs", []):
        if "error" not in run:
            lines.append(
                f"scale, {run['workers']} worker(s): {run['events_per_second']:,.0f} events/s, "
                f"{run['cpu_us_per_event']:.1f} CPU us/event"
            )
    latency = report.get("latency") or {}
    if "latency_ms" in latency:
        ms, histogram = latency["latency_ms"], latency.get("histogram", {})
        lines.append(
            f"latency at {latency['rate']}/s: p50 {ms['p50']} ms, p99 {ms['p99']} ms, "
            f"max {ms['max']} ms ({latency['commands_matched']} commands); "
            f"histogram p99 ~{histogram.get('p99_estimate_ms')} ms"
        )
    return lines


def write_report_section(out: Path, name: str, section: dict[str, Any]) -> None:
    """Put ``section`` under ``name`` in the report at ``out``, keeping everything else.

    The parts that run on their own (``sink``, ``models``) add to the main run's report.
    """
    report: dict[str, Any] = {}
    if out.exists():
        loaded = orjson.loads(out.read_bytes())
        report = loaded if isinstance(loaded, dict) else {}
    report[name] = section
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
