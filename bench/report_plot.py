"""docs/fanout-latency.png: fan-out latency against viewers, each configuration beside the
floor."""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.report_format import label
from bench.servers import CONFIGS


def plot(results: dict, path: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        print(f"matplotlib is missing (pip install -r requirements-bench.txt): no {path.name}")
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fan = results.get("fanout", [])
    if not fan:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for axis, figure in zip(axes, ("median", "p99"), strict=True):
        floors: dict[int, list[float]] = {}
        for key in CONFIGS:
            points = sorted(
                (f["viewers"], f["fanout"][figure])
                for f in fan
                if f["config"] == key and f["fanout"]
            )
            for f in fan:
                if f["config"] == key and f["floor"]:
                    floors.setdefault(f["viewers"], []).append(f["floor"][figure])
            if points:
                xs, ys = zip(*points, strict=True)
                axis.plot(xs, ys, marker="o", label=label(key))
        if floors:
            xs = sorted(floors)
            axis.plot(
                xs,
                [statistics.median(floors[x]) for x in xs],
                "k--",
                marker="s",
                label="floor: bare websockets broadcast()",
            )
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("viewers")
        axis.set_title(f"fan-out latency, {figure}")
        axis.grid(True, which="both", alpha=0.3)
        axis.set_xticks(sorted({f["viewers"] for f in fan}))
        axis.get_xaxis().set_major_formatter(matplotlib.ticker.FuncFormatter(_thousands))
    axes[0].set_ylabel("ms, final leaves the speech service → viewer")
    axes[1].legend(fontsize=8)
    machine = results["machine"]
    fig.suptitle(
        f"{machine['cores']} cores, {machine['CPU']}, Python {machine['Python']}, "
        f"{results['started']}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _thousands(x: float, _pos: int) -> str:
    return f"{x:,.0f}"
