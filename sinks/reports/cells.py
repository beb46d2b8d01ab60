"""How one value prints in a report's table (see ``sinks.reports.layout.Column.kind``)."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any

from sinks.reports.layout import Column, Kind

#: Smaller p-values print as ``<0.0001``: four decimals say all a reader acts on.
MIN_SHOWN_P_VALUE = 0.0001


def format_cell(column: Column, value: Any) -> str:  # noqa: PLR0911 - one kind a branch
    """Return one value as the table shows it (see ``Column.kind``)."""
    if value is None:
        return {"prevented": "pending", "text": "", "flag": ""}.get(column.kind, "-")
    if column.kind in ("points", "change", "pvalue", "flag", "seconds"):
        return format_statistic(column.kind, value)
    if column.kind in ("rate", "prevented"):
        return f"{float(value) * 100:.1f}%"
    if column.kind == "money":
        return f"{Decimal(value):.2f}"
    if column.kind == "score":
        return f"{float(value):.1f}"
    if column.kind == "time":
        return f"{value.astimezone(UTC):%Y-%m-%d %H:%M}"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def format_statistic(kind: Kind, value: Any) -> str:
    """Return a lift, an interval of one, a p-value, a flag or a duration as tables show it."""
    if isinstance(value, tuple | list):
        low, high = (format_statistic(kind, bound) for bound in value)
        return f"[{low}, {high}]"
    if kind == "points":
        return f"{float(value) * 100:+.1f} pts"
    if kind == "change":
        return f"{float(value) * 100:+.1f}%"
    if kind == "pvalue":
        return "<0.0001" if float(value) < MIN_SHOWN_P_VALUE else f"{float(value):.4f}"
    if kind == "flag":
        return "yes" if value else ""
    return format_duration(float(value))


def format_duration(seconds: float) -> str:
    """Return a duration in its two largest units: ``45s``, ``12m 05s``, ``3h 20m``, ``2d 04h``."""
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
