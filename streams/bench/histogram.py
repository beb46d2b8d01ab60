"""Prometheus histograms read from a ``/metrics`` page, summed over their labels."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True, slots=True)
class Histogram:
    """A histogram's cumulative buckets (upper bound -> count), count and sum."""

    buckets: dict[float, float] = field(default_factory=dict)
    count: float = 0.0
    total: float = 0.0

    def __sub__(self, earlier: Histogram) -> Histogram:
        """Return what was observed between ``earlier`` and this scrape."""
        return Histogram(
            {le: n - earlier.buckets.get(le, 0.0) for le, n in self.buckets.items()},
            self.count - earlier.count,
            self.total - earlier.total,
        )

    def quantile(self, q: float) -> float | None:
        """Return the ``q`` quantile as Prometheus' ``histogram_quantile`` estimates it.

        Linear within the bucket it falls in; the bucket's upper bound when that is the
        highest finite one. ``None`` when nothing was observed.
        """
        if self.count <= 0:
            return None
        rank = q * self.count
        lower, below = 0.0, 0.0
        for le in sorted(self.buckets):
            cumulative = self.buckets[le]
            if cumulative >= rank:
                if math.isinf(le):
                    return lower
                inside = cumulative - below
                share = (rank - below) / inside if inside > 0 else 1.0
                return round(lower + (le - lower) * share, 6)
            lower, below = le, cumulative
        return lower

    def bucket_of(self, q: float) -> float | None:
        """Return the upper bound of the bucket the ``q`` quantile falls in."""
        if self.count <= 0:
            return None
        return next((le for le in sorted(self.buckets) if self.buckets[le] >= q * self.count), None)

    def share_within(self, bound: float) -> float | None:
        """Return the share of observations at or below ``bound`` (a bucket's bound)."""
        if self.count <= 0 or bound not in self.buckets:
            return None
        return round(self.buckets[bound] / self.count, 5)


def scrape_histogram(text: str, name: str) -> Histogram:
    """Return histogram ``name`` from a ``/metrics`` page, summed over its label values."""
    buckets: dict[float, float] = {}
    count = total = 0.0
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name == f"{name}_bucket":
                le = float(sample.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + sample.value
            elif sample.name == f"{name}_count":
                count += sample.value
            elif sample.name == f"{name}_sum":
                total += sample.value
    return Histogram(buckets, count, total)


def scrape_value(text: str, name: str) -> float:
    """Return the sum of a counter's or gauge's samples named ``name`` (0 if absent)."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )
