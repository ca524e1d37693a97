"""The latency sections of docs/benchmarks.md: fan-out (with the floor, connection times, CPU
and garbage collections) and bridge overhead."""

from __future__ import annotations

import statistics

from bench.report_format import gc_cell, label, ms, ratio, table
from bench.servers import CONFIGS
from bench.stats import FIGURES


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
        "Captions made from the stream's own audio (`manage.py caption_worker` following a live "
        "HLS playlist) come later: a word waits for its segment to be finished and listed, for "
        "the worker's next look at the playlist, and the worker hands the audio to the engine "
        "at real time. From a word in the stream to its final at a viewer, with 2 s segments as "
        "IVS serves them, for the local engine and for the Deepgram stand-in at Deepgram's "
        "timing: [stream-latency.md](stream-latency.md) (`make bench-stream`).",
        "",
    ]
