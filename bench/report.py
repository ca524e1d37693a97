"""docs/benchmarks.md and docs/fanout-latency.png from the results of a run."""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.servers import CONFIGS
from bench.stats import FIGURES

TARGET_RATIO = 1.5
TARGET_BRIDGE_P99_MS = 5.0
TARGET_IDLE_VIEWER_KIB = 100.0


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


# --- Sections ----------------------------------------------------------------------------------


def standin_timing(options: dict) -> str:
    """Which timing the Deepgram stand-in had: its fast timing, not Deepgram's, so these
    figures are the site's own share and not what a viewer waits for with the real service."""
    said = options.get("standin_timing")
    if said is None:  # a run from before the stand-in had Deepgram's timing
        said = (
            "fast timing: a final every "
            f"{options['segment']} s of audio, no interim results, no processing delay, audio "
            "read as fast as it comes (the stand-in's only timing when this ran)"
        )
    return (
        f"{said}; not Deepgram's realistic timing (finals at pauses, 0.6 s processing "
        "delay, audio read at up to 1.25× real time), so these figures are the site's own share"
    )


def header(results: dict) -> list[str]:
    machine, options = results["machine"], results["options"]
    facts = ", ".join(f"{k} {v}" for k, v in machine.items())
    extra = options.get("env") or []
    lines = [
        "# Benchmarks",
        "",
        "Written by `python -m bench` (`make bench`); do not edit by hand, run it again. "
        "`python -m bench --quick` is a smoke run of a few minutes; `--help` lists the knobs "
        "(viewer counts, configurations, runs, soak length, `--profile`). Raw results, every "
        "server's log and any profiles go to `bench/results/<time>/` (git-ignored); "
        "`python -m bench --from-json bench/results/<time>/results.json` rewrites this page "
        "from them.",
        "",
        f"**Run** {results['started']} → {results.get('finished', '(unfinished)')}"
        f"{' (quick)' if options.get('quick') else ''}: "
        f"{options['runs']} run(s) of each measurement, figures are the **median of the runs**; "
        f"{options['finals']} finals per fan-out run, one every {options['segment']} s.",
        "",
        f"**Machine** {facts}.",
        "",
        "**Set-up** Daphne started as in production (`python -m daphne -b 127.0.0.1 -p PORT "
        "livestream.asgi:application`) with `DEBUG=false`, PostgreSQL, Redis database 14 for "
        "the cache and the channel layer (none for the in-memory layer), "
        "`SECURE_SSL_REDIRECT=false`, `SECURE_HSTS_SECONDS=0`, the gate's rate "
        "limits lifted, and the local Deepgram stand-in (`bench/deepgram_server.py` around "
        "`deepgram_standin/`, unchanged) answering at once, one final per "
        f"{options['segment']} s of audio, no interim results"
        f"{'; extra settings: ' + ', '.join(f'`{e}`' for e in extra) if extra else ''}. "
        "Clients run in the bench's own process (one asyncio loop, the `websockets` library), "
        "so a figure includes the client's time to read the message, as the floor's does. "
        "Between runs the bench waits until the rest of the machine is idle.",
        "",
        f"**Deepgram stand-in timing** {standin_timing(options)}.",
        "",
    ]
    if results.get("settings"):
        resolved = ", ".join(f"{k} `{v}`" for k, v in results["settings"].items())
        lines += [f"**Settings as Django resolved them** {resolved}.", ""]
    checkouts = sorted(
        {
            entry["checkout"]
            for part in ("bridge", "fanout")
            for entry in results.get(part, [])
            if "checkout" in entry
        }
        | {results[p]["checkout"] for p in ("gate", "soak") if "checkout" in results.get(p, {})}
    )
    if len(checkouts) > 1:
        lines += [
            "**The code changed during the run**; measurements were taken at: "
            + "; ".join(f"`{c}`" for c in checkouts)
            + ".",
            "",
        ]
    if results.get("errors"):
        lines += ["**Errors during the run:** " + "; ".join(results["errors"]), ""]
    return lines


def targets(results: dict) -> list[str]:
    rows = []
    fan = {(f["config"], f["viewers"]): f for f in results.get("fanout", [])}

    for keys, n, what in (
        (["memory", "core", "pubsub"], 1000, "1,000 viewers, one process"),
        (["core-2", "pubsub-2"], 5000, "5,000 viewers, two processes with Redis"),
    ):
        for key in keys:
            f = fan.get((key, n))
            if not f or not f["floor"]:
                continue
            target = f"fan-out p99 ≤ {TARGET_RATIO}× the floor ({what})"
            if not f["fanout"]:
                rows.append([target, f"{label(key)}: no caption reached a viewer", verdict(False)])
                continue
            r = ratio(f["fanout"]["p99"], f["floor"]["p99"])
            measured = f"{ms(f['fanout']['p99'])} ms vs floor {ms(f['floor']['p99'])} ms"
            ok = verdict(r <= TARGET_RATIO)
            rows.append([target, f"{label(key)}: {measured} = **{r:.1f}×**", ok])
    if fan:
        lost = sum(f["fanout_lost"] for f in fan.values())
        expected = sum(f["fanout_expected"] for f in fan.values())
        soak = results.get("soak")
        if soak:
            lost, expected = lost + soak["lost"], expected + soak["expected"]
        rows.append(
            [
                "no delivery lost",
                f"{lost:,} of {expected:,} (final, viewer) deliveries missing",
                verdict(lost == 0),
            ]
        )
    for b in results.get("bridge", []):
        if b["audio"]:
            p99 = b["audio"]["p99"]
            rows.append(
                [
                    f"bridge overhead p99 < {TARGET_BRIDGE_P99_MS:.0f} ms (audio frame → speech "
                    "service)",
                    f"{label(b['config'])}: {ms(p99)} ms",
                    verdict(p99 < TARGET_BRIDGE_P99_MS),
                ]
            )
    for f in fan.values():
        if f["viewers"] == 1000 and CONFIGS[f["config"]].processes == 1:
            kib = f["rss_per_viewer"] / 1024
            rows.append(
                [
                    f"< {TARGET_IDLE_VIEWER_KIB:.0f} KiB per idle viewer",
                    f"{label(f['config'])}: {kib:.0f} KiB",
                    verdict(kib < TARGET_IDLE_VIEWER_KIB),
                ]
            )
    if not rows:
        return []
    return [
        "## Targets",
        "",
        "Each figure is the median over the runs (each run's p99 is in the fan-out section).",
        "",
        *table(["target", "measured", ""], rows),
        "",
    ]


def fanout(results: dict, plot_name: str) -> list[str]:
    runs = results.get("fanout", [])
    if not runs:
        return []
    lines = [
        "## Fan-out latency",
        "",
        "From a final leaving the speech double (its wall-clock send time) to its arrival at "
        "each viewer, over every (final, viewer) pair of a run. Each cell: the site's figure "
        "and, in brackets, its ratio to the **floor** measured beside it in the same run: a "
        "bare `websockets` server `broadcast()`ing the same kind of message to the same number "
        "of clients of the same client process (`bench/floor_server.py`). Two processes: the "
        "captioner on process A, viewers split evenly across A and B. *Lost*: (final, viewer) "
        "deliveries that never arrived, over all runs. *First / last viewer*: median over "
        "finals of the time to the first and to the last viewer.",
        "",
        f"![Fan-out latency against viewers]({plot_name})",
        "",
    ]
    rows = []
    for f in sorted(runs, key=lambda f: (list(CONFIGS).index(f["config"]), f["viewers"])):
        site, floor = f["fanout"], f["floor"]
        if not site:
            cells = ["nothing arrived", "–", "–", "–"]
        else:
            cells = [
                f"{ms(site[k])} ({ratio(site[k], floor[k]):.1f}×)" if floor else ms(site[k])
                for k in FIGURES
            ]
        first = _median_of(f, "fanout", "first_viewer")
        last = _median_of(f, "fanout", "last_viewer")
        rows.append(
            [
                label(f["config"]),
                f"{f['viewers']:,}",
                *cells,
                " / ".join(ms(floor[k]) for k in FIGURES) if floor else "–",
                f"{ms(first)} / {ms(last)}",
                f"{f['fanout_lost']:,} of {f['fanout_expected']:,}",
            ]
        )
    header_row = ["configuration", "viewers", "median ms", "p95 ms", "p99 ms", "max ms"]
    lines += table(
        [*header_row, "floor median / p95 / p99 / max ms", "first / last viewer ms", "lost"],
        rows,
    )
    lines += ["", *caveats(runs), *connect_table(runs), ""]
    return lines


def caveats(runs: list[dict]) -> list[str]:
    """What the machine does to the figures, read from the run's own CPU figures."""
    notes = [
        "The machine has two cores for everything: the client, one or two Daphne processes, "
        "Redis, PostgreSQL and the speech double. Two processes therefore show the cost of the "
        "channel layer and of splitting the viewers, not how the site scales on dedicated cores."
    ]
    for n in sorted({f["viewers"] for f in runs}):
        loads = [r["floor"]["cpu"]["client"] for f in runs if f["viewers"] == n for r in f["runs"]]
        busy = statistics.median(loads) if loads else 0
        if busy >= 75:
            notes.append(
                f"At {n:,} viewers the client used {busy:.0f}% of a core just reading the "
                "floor's messages: there the floor measures the client more than a server, and "
                "a ratio understates what the site adds."
            )
    return [" ".join(notes), ""]


def _median_of(f: dict, part: str, key: str) -> float | None:
    values = [r[part][key]["median"] for r in f["runs"] if r[part].get(key)]
    return statistics.median(values) if values else None


def connect_table(runs: list[dict]) -> list[str]:
    rows = []
    for f in sorted(runs, key=lambda f: (list(CONFIGS).index(f["config"]), f["viewers"])):
        cpu = [r["fanout"]["cpu"] for r in f["runs"]]
        floor_cpu = [r["floor"]["cpu"] for r in f["runs"]]

        def med(samples: list[dict], key: str) -> str:
            values = [s[key] for s in samples if key in s]
            return f"{statistics.median(values):.0f}" if values else "–"

        daphne = " + ".join(med(cpu, name) for name in "AB" if name in cpu[0]) if cpu else "–"
        rows.append(
            [
                label(f["config"]),
                f"{f['viewers']:,}",
                f"{f['connect_seconds']} s ({f['viewers'] / max(f['connect_seconds'], 0.1):.0f}/s)",
                str(f.get("dropped", "–")),
                " / ".join(ms((r["fanout"]["latency"] or {}).get("p99")) for r in f["runs"]),
                gc_cell([r["fanout"].get("gc", {}) for r in f["runs"]]),
                " / ".join(
                    gc_cell([{"client": r[part]["client_gc"]} for r in f["runs"]])
                    if "client_gc" in f["runs"][0][part]
                    else "–"
                    for part in ("fanout", "floor")
                ),
                daphne,
                med(cpu, "client"),
                med(floor_cpu, "floor"),
                med(floor_cpu, "client"),
                f"{med(cpu, 'machine')} / {med(floor_cpu, 'machine')}",
            ]
        )
    return [
        "Per configuration: how long the viewers took to connect (with `--concurrency` "
        "handshakes at a time); viewers the server closed during the runs; each run's p99; "
        "Daphne's full (generation 2) garbage collections during the runs (how many, longest "
        "pause: the event loop stands still meanwhile); and CPU use during the runs in % of one "
        "core (*machine* counts everything, Redis and PostgreSQL included).",
        "",
        *table(
            [
                "configuration",
                "viewers",
                "connect",
                "dropped",
                "p99 of each run ms",
                "full GCs (longest ms)",
                "client's full GCs (site / floor)",
                "Daphne CPU %",
                "client CPU %",
                "floor server CPU %",
                "client CPU % (floor)",
                "machine CPU % (site / floor)",
            ],
            rows,
        ),
    ]


def gc_cell(runs: list[dict]) -> str:
    """Full collections over all runs and processes, and the longest pause."""
    pauses = [p for run in runs for p in run.values()]
    if not pauses:
        return "–"
    count = sum(p["count"] for p in pauses)
    longest = max(p["max"] for p in pauses)
    return f"{count} ({ms(longest)})" if count else "0"


def bridge(results: dict) -> list[str]:
    runs = results.get("bridge", [])
    if not runs:
        return []
    rows = []
    for b in runs:
        audio, result = b["audio"], b["result"]
        rows.append(
            [
                label(b["config"]),
                *(ms(audio[k]) if audio else "–" for k in FIGURES),
                f"{b['audio_lost']}",
                *(ms(result[k]) if result else "–" for k in FIGURES),
                gc_cell([{"A": r["gc"]} for r in b["runs"] if "gc" in r]),
            ]
        )
    direct = results.get("bridge_direct", {}).get("audio")
    if direct:
        rows.append(
            ["baseline: captioner → double directly", *(ms(direct[k]) for k in FIGURES), "–"]
            + ["–"] * 5
        )
    seconds = results["options"]["bridge_seconds"]
    return [
        "## Bridge overhead",
        "",
        f"One captioner streaming {seconds:.0f} s of audio in real time (100 ms frames of 16 kHz "
        "16-bit PCM, each stamped with an id) per run, and one viewer. **Audio frame**: from "
        "the captioner sending a frame to the speech double reading it (the double logs receive "
        "times, `bench/deepgram_server.py`): two websocket hops and the site in between. The "
        "baseline row is the same frames sent straight to the double (one hop, no site). "
        "**Result**: from a final leaving the double to its arrival at the one viewer (the "
        "engine parses it, the caption is stored in PostgreSQL, sent through the channel layer "
        "and relayed). These run the stand-in fast (no processing delay); with Deepgram's own "
        "timing, the time from the end of a spoken phrase to its final at a viewer is in "
        "[phrase-latency.md](phrase-latency.md) (`make bench-phrases`).",
        "",
        *table(
            [
                "configuration",
                "frame median ms",
                "p95",
                "p99",
                "max",
                "frames lost",
                "result median ms",
                "p95",
                "p99",
                "max",
                "full GCs (longest ms)",
            ],
            rows,
        ),
        "",
    ]


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


def server_logs(results: dict) -> list[str]:
    """Warnings and errors the Daphne processes logged, per measurement."""
    rows = []
    for what, entries in (
        ("bridge", results.get("bridge", [])),
        ("fan-out", results.get("fanout", [])),
        ("soak", [results["soak"]] if results.get("soak") else []),
        ("gate", [results["gate"]] if results.get("gate") else []),
    ):
        for entry in entries:
            viewers = f", {entry['viewers']:,} viewers" if "viewers" in entry else ""
            for message, count in sorted((entry.get("log") or {}).items(), key=lambda i: -i[1]):
                rows.append([f"{what}: {label(entry['config'])}{viewers}", str(count), message])
    if not rows:
        return ["No warnings or errors in the Daphne logs.", ""]
    return [
        "## Warnings and errors in the server logs",
        "",
        "Counted over each measurement's Daphne processes (numbers shown as N).",
        "",
        *table(["measurement", "lines", "message"], [[a, b, f"`{c}`"] for a, b, c in rows]),
        "",
    ]


def profiles(results: dict) -> list[str]:
    profiled = [f for f in results.get("fanout", []) if f.get("profile")]
    if not profiled:
        return []
    lines = [
        "## Where the time goes",
        "",
        "py-spy (`--profile`, non-blocking, 200 Hz) on process A during the fan-out runs (its "
        "sampling takes CPU from the 2 cores, so these runs' figures are a little worse). Share "
        "of the samples in which the process was busy with the function on top of the stack "
        "(*self*); a full garbage collection counts against the function whose allocation "
        "triggered it. The folded stacks are in the results folder (open them in "
        "speedscope.app).",
        "",
    ]
    for f in profiled:
        p = f["profile"]
        own = [[f"`{frame}`", f"{share}"] for frame, share in p["self"]]
        lines += [
            f"**{label(f['config'])}, {f['viewers']:,} viewers** ({p['samples']:,} samples)",
            "",
            *table(["self", "%"], own),
            "",
        ]
    return lines


# --- The plot ----------------------------------------------------------------------------------


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


def write(results: dict, output: Path, plot_path: Path) -> None:
    plot(results, plot_path)
    lines = [
        *header(results),
        *targets(results),
        *fanout(results, plot_path.name),
        *bridge(results),
        *memory(results),
        *gate(results),
        *server_logs(results),
        *profiles(results),
    ]
    output.write_text("\n".join(lines).rstrip() + "\n")
