"""docs/benchmarks.md and docs/fanout-latency.png from the results of a run: the page's
header, targets, server logs and profiles here, the measurements' sections beside it."""

from __future__ import annotations

from pathlib import Path

from bench.report_capacity import gate, memory
from bench.report_format import label, ms, ratio, table, verdict
from bench.report_latency import bridge, fanout
from bench.report_plot import plot
from bench.servers import CONFIGS

TARGET_RATIO = 1.5
TARGET_BRIDGE_P99_MS = 5.0
TARGET_IDLE_VIEWER_KIB = 100.0


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
        "`SECURE_SSL_REDIRECT=false`, `SECURE_HSTS_SECONDS=0`, the gate's rate limits and the "
        "per-address websocket limits lifted (every client is 127.0.0.1), and the local "
        "Deepgram stand-in (`bench/deepgram_server.py` around "
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


COMPANIONS = [
    ("phrase-latency.md", "make bench-phrases", "from the end of a spoken phrase to its caption "
     "at a viewer, with the Deepgram stand-in at Deepgram's own timing"),
    ("stream-latency.md", "make bench-stream", "from a word in a live HLS stream to its caption "
     "at a viewer, captions made from the stream's own audio, with each speech engine"),
    ("local-engine.md", "make bench-local", "the local speech engine's word error rate, "
     "real-time factor and final delays, on synthetic speech and on a recording of a person"),
    ("sync.md", "make sync", "captions against each viewer's picture, with hls.js and the IVS "
     "SDK"),
]  # fmt: skip


def companions() -> list[str]:
    """The other measuring commands and their pages, which this command does not rewrite."""
    return [
        "## Other measurements",
        "",
        *(f"- [{page}]({page}) (`{command}`): {what}." for page, command, what in COMPANIONS),
        "",
    ]


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
        *companions(),
    ]
    output.write_text("\n".join(lines).rstrip() + "\n")
