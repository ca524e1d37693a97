"""Percentiles, and the median across repeated runs."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable

FIGURES = ("median", "p95", "p99", "max")


def summarize(seconds: Iterable[float]) -> dict[str, float] | None:
    """Median, p95, p99 and max in milliseconds (nearest rank), and the sample count."""
    values = sorted(seconds)
    if not values:
        return None

    def rank(p: float) -> float:
        return values[max(0, math.ceil(p * len(values)) - 1)] * 1000

    return {
        "n": len(values),
        "median": statistics.median(values) * 1000,
        "p95": rank(0.95),
        "p99": rank(0.99),
        "max": values[-1] * 1000,
    }


def median_of_runs(summaries: list[dict | None]) -> dict[str, float] | None:
    """Each figure's median across runs (the figures of one run are kept together only in
    the per-run data)."""
    present = [s for s in summaries if s]
    if not present:
        return None
    merged = {key: statistics.median(s[key] for s in present) for key in FIGURES}
    merged["n"] = sum(s["n"] for s in present)
    merged["runs"] = len(present)
    return merged
