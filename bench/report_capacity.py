"""The capacity sections of docs/benchmarks.md: memory (idle viewers and the soak) and gate
throughput."""

from __future__ import annotations

import statistics

from bench.report_format import gc_cell, label, ms, table
from bench.servers import CONFIGS
from bench.stats import FIGURES


def memory(results: dict) -> list[str]:
    fan = results.get("fanout", [])
    soak = results.get("soak")
    if not fan and not soak:
        return []
    lines = ["## Memory", ""]
    if fan:
        rows = [
            [
                label(f["config"]),
                f"{f['viewers']:,}",
                " + ".join(f"{r / 2**20:.0f}" for r in f["rss_before"]),
                " + ".join(f"{r / 2**20:.0f}" for r in f["rss_after"]),
                f"{f['rss_per_viewer'] / 1024:.1f}",
            ]
            for f in sorted(fan, key=lambda f: (list(CONFIGS).index(f["config"]), f["viewers"]))
            if f["viewers"] >= 1000
        ]
        lines += [
            "**Idle viewers**: Daphne's resident memory (`VmRSS`) before and 2 s after opening "
            "the viewer sockets (before any caption), the difference divided by the viewers.",
            "",
            *table(
                ["configuration", "viewers", "RSS before MiB", "RSS after MiB", "KiB per viewer"],
                rows,
            ),
            "",
        ]
    if soak:
        g = soak["growth"]
        window = soak["window"]
        lines += [
            f"**Soak**: {label(soak['config'])}, {soak['viewers']:,} viewers, a final every "
            f"{results['options']['segment']} s for {soak['seconds']:.0f} s "
            f"({soak['finals']:,} finals). RSS sampled throughout; *growth* is the least-squares "
            f"slope after the first {window:.0f} s.",
            "",
            *table(
                ["", ""],
                [
                    ["RSS idle (before viewers)", f"{soak['rss_idle'] / 2**20:.0f} MiB"],
                    ["RSS when captions started", f"{g['start'] / 2**20:.0f} MiB"],
                    [f"RSS after {window:.0f} s", f"{g['after_warmup'] / 2**20:.0f} MiB"],
                    ["RSS at the end", f"{g['end'] / 2**20:.0f} MiB"],
                    ["RSS max", f"{g['max'] / 2**20:.0f} MiB"],
                    ["growth", f"{g['slope_per_minute'] / 1024:+.0f} KiB per minute"],
                    ["lost", f"{soak['lost']:,} of {soak['expected']:,}"],
                    ["viewers dropped by the server", f"{soak['dropped']}"],
                    [
                        "latency median / p99 / max",
                        " / ".join(ms(soak["latency"][k]) for k in ("median", "p99", "max"))
                        + " ms",
                    ],
                    ["CPU % of one core", ", ".join(f"{k} {v}" for k, v in soak["cpu"].items())],
                    ["full GCs in Daphne (longest ms)", gc_cell([soak.get("gc", {})])],
                ],
            ),
            "",
            f"Latency and RSS per {window:.0f} s window; *other load*: CPU used meanwhile by "
            "everything but the bench's client, Daphne, double and floor processes (Redis and "
            "PostgreSQL included, and any other work on the machine), in cores:",
            "",
            *table(
                [
                    "window",
                    "finals·viewers",
                    "median ms",
                    "p99 ms",
                    "max ms",
                    "RSS MiB",
                    "other load",
                ],
                [
                    [
                        f"{i * window:.0f}–{(i + 1) * window:.0f} s",
                        f"{w['n']:,}" if w else "0",
                        *(ms(w[k]) if w else "–" for k in ("median", "p99", "max")),
                        _rss_at(soak["samples"], (i + 1) * window),
                        _other_load(soak["samples"], i * window, (i + 1) * window),
                    ]
                    for i, w in enumerate(soak["windows"])
                ],
            ),
            "",
        ]
    return lines


def _rss_at(samples: list, t: float) -> str:
    before = [sample[1] for sample in samples if sample[0] <= t]
    return f"{(before or [samples[0][1]])[-1] / 2**20:.0f}"


def _other_load(samples: list, begin: float, end: float) -> str:
    loads = [sample[2] for sample in samples if len(sample) > 2 and begin < sample[0] <= end]
    return f"{statistics.mean(loads):.2f}" if loads else "–"


def gate(results: dict) -> list[str]:
    g = results.get("gate")
    if not g:
        return []
    rows = []
    for key, what in (
        ("entries", "code entries (GET /enter/ + POST, accepted)"),
        ("pages", "player page (GET /watch/<slug>/ with a grant)"),
    ):
        part = g[key]
        lat = part["latency"] or {}
        rows.append(
            [
                what,
                f"{part['rate']:.0f}",
                *(ms(lat.get(k)) for k in FIGURES),
                str(part["errors"]),
                " / ".join(f"{r['rate']:.0f}" for r in part["runs"]),
            ]
        )
    checks = "; ".join(f"{k}: `{v}`" for k, v in g["checks"].items())
    return [
        "## Gate throughput",
        "",
        f"{label(g['config'])}, {g['clients']} concurrent keep-alive HTTP clients "
        f"(`bench/web.py`), {results['options']['http_seconds']:.0f} s per run. An entry is a "
        "fresh client fetching the form (CSRF cookie + token) and posting the viewer code; "
        "it counts when it is redirected to the player.",
        "",
        *table(["", "per second", "median ms", "p95", "p99", "max", "errors", "each run /s"], rows),
        "",
        f"Plain-http check with `DEBUG=false`: {checks}.",
        "",
    ]
