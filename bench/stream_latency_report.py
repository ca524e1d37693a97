"""docs/stream-latency.md from the figures of ``bench.stream_latency``."""

from __future__ import annotations

import argparse
import statistics
import time

from bench.machine import describe
from bench.stats import summarize
from bench.stream_latency_match import TOLERANCE_MS
from deepgram_standin.timing import REALISTIC

ENGINES = {
    "local": "Local engine (PocketSphinx, in the worker process)",
    "deepgram": "Deepgram stand-in at Deepgram's timing",
}
SHARES = [
    ("total", "word in the stream → final caption at the viewer"),
    ("hls", "of which HLS segmenting: word → its segment listed in the playlist"),
    ("after", "of which worker + engine + site: segment listed → final at the viewer"),
    ("site", "of which the site alone: the stand-in's final sent → at the viewer"),
]


def _ms(value: float) -> str:
    return f"{value:,.0f} ms"


def _table(rows: list[dict]) -> list[str]:
    lines = ["| share | p50 | p95 | max | phrases |", "|---|---|---|---|---|"]
    for key, label in SHARES:
        figures = summarize(r[key] / 1000 for r in rows if r.get(key) is not None)
        if figures:
            p50, p95, top = (_ms(figures[k]) for k in ("median", "p95", "max"))
            lines.append(f"| {label} | {p50} | {p95} | {top} | {figures['n']} |")
    return lines


def _engine(result: dict) -> list[str]:
    rows = result["rows"]
    missing = [r for r in rows if r["total"] is None]
    timing = result["timing"]
    lines = [
        f"## {ENGINES.get(result['engine'], result['engine'])}",
        "",
        *_table(rows),
        "",
        f"{len(rows) - len(missing)} of {len(rows)} phrases got a final caption holding their "
        f"last word; {len(missing)} got none. Segments: {result['segment']} s "
        f"({timing['segments']} seen, durations {timing['durations']} s).",
    ]
    offsets = [r["word_time"] for r in rows if r["word_time"] is not None]
    if offsets:
        lines[-1] += (
            " Where the captions put the words: their `spoken_until` is "
            f"{statistics.median(offsets):+,.0f} ms from the word's end (median; "
            f"{min(offsets):+,.0f} to {max(offsets):+,.0f}), on the stream's own clock."
        )
    if result["engine"] == "deepgram":
        lines += [
            "",
            f"The stand-in's own share, what Deepgram itself would take: {REALISTIC.describe()}; "
            "the site asks for 300 ms endpointing, so a final leaves the stand-in about "
            f"0.3 s (pause heard) + {REALISTIC.delay:g} s (processing delay) after the last "
            "word's audio reached it. It does not recognise speech: each final says "
            '"Final number N.", and is matched to its phrase by time, as every caption is.',
        ]
    if result["worker_problems"]:
        lines += ["", "Warnings in the worker's log: " + "; ".join(result["worker_problems"])]
    lines += [
        "",
        "| phrase | its end, s into its segment | HLS ms | after ms | total ms | caption |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [f"{r[k]:,.0f}" if r[k] is not None else "–" for k in ("hls", "after", "total")]
        caption = (r["caption"] or "(none)").replace("|", "/")
        lines.append(f"| {r['phrase']} | {r['offset']:.2f} | {' | '.join(cells)} | {caption} |")
    return [*lines, ""]


def write(results: list[dict], load: dict, args: argparse.Namespace, command: str) -> str:
    lags = [lag for result in results for lag in result["listing_lag"]]
    lag = (
        f"{statistics.median(lags):,.0f} ms (median; {min(lags):,.0f} to {max(lags):,.0f})"
        if lags
        else "not measured"
    )
    when = "%Y-%m-%d %H:%M:%S"
    pause = min(result["pause"] for result in results)
    poll = max(0.25, args.segment / 2)  # captions.worker.follow: half the target duration
    facts = describe()
    machine = ", ".join(f"{key} {value}" for key, value in facts.items())
    before, after = load["before"], load["after"]
    lines = [
        "# From a word in the stream to its caption at a viewer (captions from the stream's audio)",
        "",
        f"Written by `{command}` (`make bench-stream`), "
        f"{time.strftime(when, time.gmtime(load['started']))} → "
        f"{time.strftime(when, time.gmtime(load['ended']))} UTC. The microphone path is measured "
        "in [phrase-latency.md](phrase-latency.md).",
        "",
        "**Set-up.** ffmpeg makes a live HLS stream in real time (`bench/live_hls.py`: a test "
        f"picture and AAC audio) in **{args.segment} s segments**, as Amazon IVS serves them, "
        "each with its `EXT-X-PROGRAM-DATE-TIME`. Its sound is one espeak-ng phrase at the start "
        f"of every {args.slot:g} s slot, so a pause of at least {pause:.1f} s follows each. "
        "The site runs "
        "as in production: one Daphne process, RedisPubSubChannelLayer, PostgreSQL, and a "
        "`manage.py caption_worker` process that follows the playlist, decodes each new "
        "segment's audio with PyAV and feeds a caption session at real time. One viewer reads "
        f"the captions websocket. Counted: the first {args.phrases} phrases that start after the "
        "viewer is told captions are on, per engine.",
        "",
        "**Moments**, all on this machine's wall clock (ffmpeg dates segments by the same clock):",
        "",
        "- *word in the stream*: the UTC moment the phrase's last word ends, by the program "
        "date-time: its segment's date plus where the last loud 10 ms of the phrase lies in "
        "the segment (the bench made the audio, so it knows).",
        "- *segment listed*: when the segment holding that moment first appeared in the media "
        "playlist (read every 20 ms): a worker can only read a finished segment. Segments were "
        f"listed {lag} after the moment their last frame is dated: ffmpeg's own delay; that it "
        "stays near zero shows ffmpeg's dates and the wall clock agree.",
        "- *caption at the viewer*: when the viewer socket received the first final `caption` "
        "whose words hold that moment (`spoken_at` no later, `spoken_until` at most "
        f"{TOLERANCE_MS} ms earlier).",
        "",
    ]
    for result in results:
        lines += _engine(result)
    lines += [
        "## Where the time goes",
        "",
        "A word waits for the end of its segment (0 to one segment), then for the worker's next "
        f"look at the playlist (every half target duration: {poll:g} s) and the "
        "fetch and decoding. The worker then hands the segment's audio to the engine at real "
        "time, as a microphone would, so a word near the segment's end reaches the engine "
        "about that much later: together about one segment length plus the polling wait, "
        "wherever the word falls, before the engine's own share (the pause it waits for, "
        "decoding or Deepgram's processing) and the site's (storing, fan-out, the socket).",
        "",
        f"The worker's looks at the playlist (every {poll:g} s) keep the same phase to the "
        f"segments (every {args.segment} s) for a whole run, so the wait between a segment "
        "being listed and being fetched is about the same for every phrase of a run and "
        "differs from run to run: the "
        f"spread within one run understates the spread between runs, by up to {poll:g} s.",
        "",
        "## Caveats",
        "",
        f"- **Shared machine**: {facts['cores']} cores, shared with other engineers' work while "
        f"this ran: load average {before[0]:.2f} / {before[1]:.2f} / {before[2]:.2f} before, "
        f"{after[0]:.2f} / {after[1]:.2f} / {after[2]:.2f} after; the machine's CPUs were "
        f"{load['busy']:.0%} busy over the run. Not re-measured on an idle machine.",
        "- Few phrases: with fewer than 20 a p95 by nearest rank is the largest value.",
        "- Synthetic speech (espeak-ng), no noise or music; real speakers change the local "
        "engine's finals. The stand-in's timing is Deepgram's documented one, not Deepgram.",
        "- Everything on 127.0.0.1: no CDN, no network between IVS, the worker and viewers; "
        "IVS's own delay from the broadcaster to a listed segment is not in these figures.",
        "- `bench/live_hls.py` has no segment-length parameter: the bench sets its module's "
        "`SEGMENT_SECONDS` before making the stream.",
        "",
        f"**Machine** {machine}.",
        "",
        f"Run it again: `make bench-stream` (`.venv/bin/{command}`); raw figures go to "
        "`$TMPDIR/stream-latency.json`.",
        "",
    ]
    return "\n".join(lines)
