"""How a figure reads in docs/benchmarks.md: milliseconds, ratios, configuration labels,
verdicts, garbage-collection cells, and the markdown table around them."""

from __future__ import annotations

from bench.servers import CONFIGS


def ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" if value < 10 else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def ratio(value: float | None, floor: float | None) -> float | None:
    return value / floor if value is not None and floor else None


def label(key: str) -> str:
    return CONFIGS[key].label if key in CONFIGS else key


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else "**met**" if ok else "**missed**"


def gc_cell(runs: list[dict]) -> str:
    """Full collections over all runs and processes, and the longest pause."""
    pauses = [p for run in runs for p in run.values()]
    if not pauses:
        return "–"
    count = sum(p["count"] for p in pauses)
    longest = max(p["max"] for p in pauses)
    return f"{count} ({ms(longest)})" if count else "0"
