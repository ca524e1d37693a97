"""docs/sync.md from the figures of ``bench.sync``: the result against the target, what each
player's own clock said, and how it was measured."""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path
from typing import Any

from bench.sync_page import PHASES

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "sync.md"
TARGET_MS = 300


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:+.0f} ms"


def plain_ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def write(report: dict[str, Any], command: str) -> None:
    rows = report["viewers"]
    labels = {phase.key: phase.label for phase in PHASES}
    lines = [
        "# Captions in step with the picture, measured",
        "",
        f"Written by `{command}` on {report['date']} (about {report['minutes']:.0f} minutes).",
        "",
        "For every caption a viewer's page drew: the picture on that viewer's screen at that "
        "moment minus the moment its words were spoken (`display − spoken_at`). Negative: the "
        "caption came up before its words were on screen; positive: after. Target: p95 of the "
        f"absolute error under {TARGET_MS} ms with either player, captions in step.",
        "",
        "## Result",
        "",
        "| player | captions shown | drawn | median | p95 | max | min | p95 of abs. error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        t = row["truth"] or {}
        lines.append(
            f"| {labels[row['phase']]} | {row['mode']} | {row['drawn']} of {row['sent']} | "
            f"{ms(t.get('median'))} | {ms(t.get('p95'))} | {ms(t.get('max'))} | "
            f"{ms(t.get('min'))} | {plain_ms(t.get('abs_p95'))} |"
        )
    lines += ["", *report["verdict"], ""]
    lines += [
        "The picture here is what was on screen: each frame carries its own number, which the "
        "page read from the frame the video presented (`requestVideoFrameCallback`), and the "
        "playlist's `EXT-X-PROGRAM-DATE-TIME` gives that frame's UTC time. It does not depend on "
        "what any player says about itself.",
        "",
        "## What each player's own clock said",
        "",
        "The same captions, with the picture time the page itself used "
        "(`shown_at_picture_utc` in `window.__captionsTiming`), and how far that clock was from "
        "the frame on screen, sampled every 200 ms through the phase. How far behind live each "
        "player ran (the wall clock minus the UTC time of the frame on screen), and the live "
        "latency the player reported.",
        "",
        "| player | captions shown | page's own `display − spoken_at` median / p95 / max "
        "| page clock − frame on screen, median / p5 / p95 | behind live | reported latency |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        own = row["own"]
        own_text = (
            f"{ms(own['median'])} / {ms(own['p95'])} / {ms(own['max'])}"
            if own
            else f"no picture time ({row['own_clock_missing']} captions)"
        )
        clock = row["clock_error"]
        clock_text = (
            f"{ms(clock['median'])} / {ms(clock['p5'])} / {ms(clock['p95'])}"
            if clock
            else "no picture time"
        )
        lines.append(
            f"| {labels[row['phase']]} | {row['mode']} | {own_text} | {clock_text} | "
            f"{plain_ms(row['behind_live'])} | {plain_ms(row['reported_latency'])} |"
        )
    lines += ["", *report["notes"], ""]
    OUT.write_text("\n".join(lines))


def verdict(rows: list[dict]) -> list[str]:
    lines = []
    for player, label in (("hls.js", "hls.js"), ("ivs", "the IVS SDK")):
        in_step = [
            r for r in rows if r["player"] == player and "in step" in r["mode"] and r["truth"]
        ]
        if player == "ivs":
            in_step = [r for r in in_step if r["phase"] == "ivs-metadata"]
        for row in in_step:
            p95 = row["truth"]["abs_p95"]
            met = "**met**" if p95 < TARGET_MS else "**not met**"
            lines.append(
                f"- With {label} (captions in step): p95 of the absolute error "
                f"{p95:.0f} ms: target {met}."
            )
    return lines


def notes_text(
    args: argparse.Namespace,
    browser_version: str,
    sdk: dict,
    rounds: list[dict],
    load_before: tuple,
    load_after: tuple,
    raw: Path,
) -> list[str]:
    hls_version = next(
        line.split(":=")[1].strip()
        for line in (ROOT / "Makefile").read_text().splitlines()
        if line.startswith("HLS_VERSION")
    )
    return [
        "## How it was measured",
        "",
        f"- **The stream**: ffmpeg in real time (`-re`), H.264 426×240 at 25 fps with a keyframe "
        "every second, 1 s MPEG-TS segments, a sliding playlist of 10, "
        "`EXT-X-PROGRAM-DATE-TIME` on every segment (ffmpeg's wall clock when the segment "
        f"began). {len(rounds)} rounds, each with a new stream, so the dates fall at another "
        "fraction of a second: "
        + "; ".join(
            f"round {n}: dates at .{r['fraction']:03d} s, {r['segments']} segments of "
            f"{', '.join(f'{d:g}' for d in r['durations'])} s, each date within "
            f"{r['max_date_stray_ms']:.0f} ms of the first plus the durations before it"
            for n, r in enumerate(rounds, 1)
        )
        + f". Its sound: an espeak-ng phrase starting every {args.interval} s.",
        f"- **The captions**: one final per phrase, `spoken_at` = the program date-time of the "
        f"phrase's first word, stored (`Caption.store`) and then sent to the stream's group "
        f"through the site's channel layer (Redis), {args.delay} ms after that moment (about "
        "Deepgram's phrase latency, docs/phrase-latency.md). "
        f"{args.captions} captions per player and round.",
        "- **The site**: one Daphne process, SQLite, a private Redis; the player page exactly "
        "as viewers get it. Chromium "
        f"{browser_version} (headless, Debian's), hls.js {hls_version} (vendored), IVS Web "
        f"Player SDK {sdk['dependencies']['amazon-ivs-player']} (npm build). For hls.js the "
        "page is kept from loading the SDK, so it falls back as a browser without the SDK does. "
        "The two viewers of a player watched at the same time and got the same captions.",
        "- **The IVS SDK and ffmpeg's stream.** The SDK does not read "
        "`EXT-X-PROGRAM-DATE-TIME`: on ffmpeg's stream as is, `getSyncTime()` and "
        "`getLiveLatency()` stay 0, the page has neither a picture time nor a latency, and "
        "shows captions as they arrive (the last row of the first table). The SDK takes both "
        "from the ID3 tag IVS's transcoder puts at the start of every segment (a `TXXX` frame "
        'described `segmentmetadata`, JSON `{"cmd": "ld_lat_data", "transc_r": <UTC ms>, …}`): '
        "with one, the sync time follows `transc_r` and the latency is now minus `transc_r` "
        "(found by trying; without `cmd` or `transc_r` both stay 0). ffmpeg's HLS muxer cannot "
        "write that tag itself, so for the IVS rows the benchmark's HTTP server adds it to each "
        "segment as it serves it (`bench/ts_id3.py`: an ID3 PID in the PMT, a PES packet timed "
        "at the segment's first frame), with `transc_r` = the segment's program date-time. Real "
        "IVS sets `transc_r` from its own clock when its transcoder receives the video, which "
        "this cannot reproduce: on IVS the picture clock is IVS's ingest time, some tens to "
        "hundreds of milliseconds after the camera.",
        "- **The page's IVS clock** (`static/js/picture-clock.js`). Against the frame on "
        "screen, the SDK steps into each new second anywhere from ~140 ms after to ~230 ms "
        "before that second's frame is shown, and as a segment's metadata arrives it may step "
        "back a second and forth again at once (when the dates fall late in their second). The "
        "page takes the median of its readings (`getSyncTime()` minus the position) at the last "
        "9 steps into a new second. The rule before 2026-11-28, the largest reading at any "
        "moment, put captions 200–300 ms early here (p95 of the absolute error 300 ms); the "
        "lowest reading at a change, tried next, put them 1.2 s late in a round whose dates "
        "fell at .993 s, through the step back. The clock columns cover each whole phase, the "
        "players' first seconds included; captions were sent from about 7 s after the pages "
        "played.",
        "- **Not a timed test**: nothing here passes or fails the suite; the figures vary from "
        "run to run with the machine's load (1-minute load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after, on {os.cpu_count()} cores "
        f"shared with other work; {platform.machine()}). Raw data of the last run: `{raw}`.",
    ]
