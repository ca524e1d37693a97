"""``python -m bench.sync`` (``make sync``): are captions drawn when each viewer's picture
reaches their words? Writes docs/sync.md.

ffmpeg makes a live HLS stream in real time (``bench.live_hls``): a test picture with its frame
number drawn on it, speech at known moments, an ``EXT-X-PROGRAM-DATE-TIME`` on every 1 s
segment. The real site runs under Daphne (its own SQLite file, a private Redis for the channel
layer) and Chromium opens the player page as viewers do. For every phrase in the stream, a final
caption whose ``spoken_at`` is the stream's own program date-time of the phrase's first word is
stored and then sent to the stream's group through the site's channel layer, as a caption
session does, ``--delay`` after that moment (about Deepgram's phrase latency).

For every caption a page draws (``window.__captionsTiming``), two readings of the picture at that
moment:

- what was on screen: the frame number the page read from the frame the video was showing,
  turned into that frame's UTC time with the playlist's dates (independent of the player);
- what the page's own picture clock said (``shown_at_picture_utc``: hls.js's ``playingDate``,
  the IVS SDK's ``getSyncTime()``).

and ``display - spoken_at`` for each: negative is early (the caption before its words are on
screen), positive late. Measured with hls.js, with the IVS Web Player SDK (the stream as ffmpeg
wrote it, and with the ID3 segment metadata IVS's own transcoder adds), and beside each, the old
behaviour: captions shown as soon as they arrive (the page's "Show captions as soon as they
arrive" setting).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.live_hls import FRAME_READER_JS, Event, LiveStream, serve, speech_track
from tests.live_site import SITE_ENV, LiveSite, free_port, start_daphne

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "sync.md"
TARGET_MS = 300

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]

# Every 200 ms: the page's own picture clock and latency, to compare with the frame on screen.
CLOCK_SAMPLER_JS = """async () => {
  const clock = await import('/static/js/picture-clock.js');
  window.__clock = [];
  setInterval(() => {
    window.__clock.push([Date.now(), clock.pictureUtc(), clock.liveLatencyMs()]);
  }, 200);
  return clock.sourceName();
}"""


@dataclass(frozen=True)
class Viewer:
    key: str
    player: str  # "hls.js" or "ivs" (document.body.dataset.playerEngine)
    immediate: bool  # "Show captions as soon as they arrive"

    @property
    def mode(self) -> str:
        return "as soon as they arrive (old)" if self.immediate else "in step with the picture"


@dataclass(frozen=True)
class Phase:
    key: str
    label: str
    stream: str  # "plain" (/live/, as ffmpeg wrote it) or "ivs" (/ivs/, with IVS's ID3 tags)
    viewers: tuple[Viewer, ...]


PHASES = (
    Phase(
        "hls",
        "hls.js",
        "plain",
        (Viewer("hls-step", "hls.js", False), Viewer("hls-arrival", "hls.js", True)),
    ),
    Phase(
        "ivs-metadata",
        "IVS SDK, segments with IVS's ID3 metadata",
        "ivs",
        (Viewer("ivs-step", "ivs", False), Viewer("ivs-arrival", "ivs", True)),
    ),
    Phase(
        "ivs-plain",
        "IVS SDK, the stream as ffmpeg wrote it",
        "plain",
        (Viewer("ivs-plain-step", "ivs", False),),
    ),
)


@dataclass
class Sent:
    seq: int
    event: int
    spoken_at: int
    sent_at: float


@dataclass
class Result:
    phase: Phase
    viewer: Viewer
    sent: list[Sent]
    timings: list[dict]
    frames: list[list]
    clock: list[list]
    source: str | None
    problems: list[str] = field(default_factory=list)


# --- Servers ---------------------------------------------------------------------------------


class PrivateRedis:
    def __init__(self, directory: Path) -> None:
        server = shutil.which("redis-server")
        if not server:
            raise SystemExit("redis-server is needed for the site's channel layer")
        self.port = free_port()
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [server, "--port", str(self.port), *options, "--dir", str(directory)],
            stdout=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=0.5).ping():
                    return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


def start_site(directory: Path, redis_url: str) -> LiveSite:
    env = {
        **os.environ,
        **SITE_ENV,
        "DATABASE_URL": f"sqlite:///{directory / 'db.sqlite3'}",
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
    }
    LiveSite("", env, directory, directory / "none.log", None).manage(  # type: ignore[arg-type]
        "migrate", "--noinput", "-v", "0"
    )
    return start_daphne(env, directory)


# --- Captions, stored and then sent through the channel layer --------------------------------


def use_site_database(site: LiveSite) -> None:
    """Set Django up in this process on the site's database and channel layer."""
    os.environ.update(site.env)
    import django

    django.setup()


def send_captions(
    slug: str, stream: LiveStream, events: list[Event], delay_ms: int, sent: list[Sent]
) -> None:
    """Each event's final, ``delay_ms`` after its words' moment: stored, then broadcast."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.db import connection
    from django.utils import timezone

    from captions.events import broadcast_event, status_message
    from captions.models import Caption
    from livestream.models import Stream

    try:
        target = Stream.objects.get(slug=slug)
        layer = get_channel_layer()
        send = async_to_sync(layer.group_send)
        send(target.group_name, broadcast_event(status_message(captioning=True, engine="deepgram")))
        began = timezone.now()
        for event in events:
            spoken_at = round(stream.utc_of(event.at))
            pause = (spoken_at + delay_ms) / 1000 - time.time()
            if pause > 0:
                time.sleep(pause)
            caption = Caption.store(
                target,
                text=event.text,
                start=event.at,
                end=event.at + event.duration,
                session_started_at=began,
                key=uuid.uuid4(),
                spoken_at=spoken_at,
                spoken_until=spoken_at + round(event.duration * 1000),
            )
            origin = Caption.objects.timeline_origin(target.pk)
            send(target.group_name, broadcast_event(caption.as_message(origin)))
            sent.append(Sent(caption.seq, event.index, spoken_at, time.time() * 1000))
    finally:
        connection.close()


# --- Viewers -----------------------------------------------------------------------------------


def open_viewer(browser: Any, site: LiveSite, code: str, viewer: Viewer) -> Any:
    context = browser.new_context(viewport={"width": 960, "height": 540})
    context.set_default_timeout(30_000)
    context.add_init_script(FRAME_READER_JS)
    settings = json.dumps({"immediate": viewer.immediate})
    context.add_init_script(
        f"try {{ localStorage.setItem('captions.settings', {json.dumps(settings)}); }} catch {{}}"
    )
    page = context.new_page()
    if viewer.player == "hls.js":
        # The SDK cannot load: the page falls back to hls.js, as for a browser without it.
        page.route("**/static/ivs/**", lambda route: route.abort())
    page.goto(f"{site.url}/enter/")
    page.get_by_label("Access code").fill(code)
    with page.expect_navigation():
        page.get_by_role("button", name="Enter").click()
    page.wait_for_function("() => document.body.dataset.playerState === 'playing'")
    engine = page.evaluate("document.body.dataset.playerEngine")
    if engine != viewer.player:
        raise RuntimeError(f"{viewer.key}: the page plays with {engine}, not {viewer.player}")
    return page


def collect(page: Any) -> tuple[list, list, list]:
    return (
        page.evaluate("window.__captionsTiming"),
        page.evaluate("window.__frames.slice()"),
        page.evaluate("window.__clock || []"),
    )


def run_phase(
    phase: Phase,
    browser: Any,
    site: LiveSite,
    code: str,
    slug: str,
    stream: LiveStream,
    events: list[Event],
    captions: int,
    delay_ms: int,
) -> list[Result]:
    print(f"-- {phase.label}", flush=True)
    pages = [open_viewer(browser, site, code, viewer) for viewer in phase.viewers]
    sources = [page.evaluate(CLOCK_SAMPLER_JS) for page in pages]
    time.sleep(5)  # let the players settle at their distance from live
    ahead = stream.stream_time_now() + 1.5
    chosen = [event for event in events if event.at >= ahead][:captions]
    if len(chosen) < captions:
        raise RuntimeError("the stream ends too soon for this phase: raise --seconds")
    sent: list[Sent] = []
    sender = threading.Thread(
        target=send_captions, args=(slug, stream, chosen, delay_ms, sent), name="captions"
    )
    sender.start()
    while sender.is_alive():
        sender.join(timeout=1)
        pages[0].wait_for_timeout(1)  # keep Playwright's connection serviced
    last = sent[-1].seq if sent else 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        drawn = [page.evaluate("window.__captionsTiming.map((t) => t.seq)") for page in pages]
        if all(last in seqs for seqs in drawn):
            break
        pages[0].wait_for_timeout(500)
    pages[0].wait_for_timeout(500)
    results = []
    for viewer, page, source in zip(phase.viewers, pages, sources, strict=True):
        timings, frames, clock = collect(page)
        results.append(Result(phase, viewer, sent, timings, frames, clock, source))
        page.context.close()
    return results


# --- Analysis --------------------------------------------------------------------------------


def frame_on_screen(frames: list[list], wall: float) -> int | None:
    """The number of the frame on screen at ``wall``: the last one presented by then."""
    found = None
    for shown_at, number in frames:
        if shown_at > wall:
            break
        if number is not None:
            found = number
    return found


def summary(errors: list[float]) -> dict[str, float] | None:
    if not errors:
        return None
    ordered = sorted(errors)
    absolute = sorted(abs(e) for e in errors)

    def rank(values: list[float], p: float) -> float:
        return values[max(0, math.ceil(p / 100 * len(values)) - 1)]  # nearest rank

    return {
        "n": len(errors),
        "median": statistics.median(ordered),
        "p95": rank(ordered, 95),
        "p5": rank(ordered, 5),
        "min": ordered[0],
        "max": ordered[-1],
        "abs_p95": rank(absolute, 95),
    }


def measure(result: Result, stream: LiveStream) -> dict[str, Any]:
    """One viewer's raw figures in one round: every error in ms."""
    frames = sorted(result.frames, key=lambda f: f[0])
    sent = {s.seq: s for s in result.sent}
    truth, own = [], []
    for timing in result.timings:
        if timing["seq"] not in sent:
            continue
        spoken_at = sent[timing["seq"]].spoken_at
        number = frame_on_screen(frames, timing["shown_at_wall"])
        picture = stream.utc_of_frame(number) if number is not None else None
        if picture is not None:
            truth.append(picture - spoken_at)
        if timing["shown_at_picture_utc"] is not None:
            own.append(timing["shown_at_picture_utc"] - spoken_at)
    clock, behind, latency = [], [], []
    for wall, picture, reported in result.clock:
        number = frame_on_screen(frames, wall)
        on_screen = stream.utc_of_frame(number) if number is not None else None
        if on_screen is None:
            continue
        behind.append(wall - on_screen)
        if picture is not None:
            clock.append(picture - on_screen)
        if reported is not None:
            latency.append(reported)
    return {
        "truth": truth,
        "own": own,
        "own_missing": sum(1 for t in result.timings if t["shown_at_picture_utc"] is None),
        "clock": clock,
        "behind": behind,
        "latency": latency,
        "sent": len(result.sent),
        "drawn": len({t["seq"] for t in result.timings} & set(sent)),
        "frames": len(frames),
        "frames_read": sum(1 for f in frames if f[1] is not None),
    }


def analyse(results: list[tuple[Result, LiveStream]]) -> list[dict[str, Any]]:
    """Each viewer's figures over every round."""
    merged: dict[str, dict[str, Any]] = {}
    for result, stream in results:
        figures = measure(result, stream)
        row = merged.setdefault(
            result.viewer.key,
            {
                "phase": result.phase.key,
                "viewer": result.viewer.key,
                "player": result.viewer.player,
                "mode": result.viewer.mode,
                "source": result.source,
            },
        )
        for name, value in figures.items():
            row[name] = row.get(name, [] if isinstance(value, list) else 0) + value
    rows = []
    for row in merged.values():
        rows.append(
            {
                **{k: v for k, v in row.items() if not isinstance(v, list)},
                "truth": summary(row["truth"]),
                "own": summary(row["own"]),
                "own_clock_missing": row["own_missing"],
                "clock_error": summary(row["clock"]),
                "behind_live": statistics.median(row["behind"]) if row["behind"] else None,
                "reported_latency": statistics.median(row["latency"]) if row["latency"] else None,
                "frames_read": f"{row['frames_read']} of {row['frames']}",
            }
        )
    return rows


# --- The report --------------------------------------------------------------------------------


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sync", description=__doc__)
    parser.add_argument("--captions", type=int, default=30, help="captions per phase (30)")
    parser.add_argument("--interval", type=float, default=2.5, help="seconds between phrases")
    parser.add_argument(
        "--delay", type=int, default=800, help="ms from the words to the caption's broadcast"
    )
    parser.add_argument("--phases", default=",".join(p.key for p in PHASES))
    parser.add_argument(
        "--rounds", type=int, default=2, help="each with a new stream (2; about 4 min each)"
    )
    parser.add_argument("--no-write", action="store_true", help="print, leave docs/sync.md")
    args = parser.parse_args(argv)
    phases = [p for p in PHASES if p.key in args.phases.split(",")]
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not chromium:
        raise SystemExit("Debian's chromium is needed (apt-get install chromium)")
    if not (ROOT / "static" / "ivs" / "amazon-ivs-player.js").exists():
        raise SystemExit("the IVS SDK is not built: run `make ivs-sdk`")
    seconds = 40 + len(phases) * (args.captions * args.interval + 45)
    workdir = Path(tempfile.mkdtemp(prefix="sync-bench-"))
    started = time.monotonic()
    load_before = os.getloadavg()
    audio, events = speech_track(workdir, seconds, args.interval, lead=0.3)
    results: list[tuple[Result, LiveStream]] = []
    rounds: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        redis_server = PrivateRedis(workdir)
        stack.callback(redis_server.stop)
        site = start_site(workdir, redis_server.url)
        stack.callback(site.stop)
        use_site_database(site)
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        browser_version = browser.version
        for number in range(1, args.rounds + 1):
            # A new stream each round: its dates fall at another fraction of a second.
            stream = LiveStream(workdir / f"round{number}", audio, seconds)
            base, http = serve(stream)
            codes = {}
            for name, path in (("plain", "live"), ("ivs", "ivs")):
                created = site.create_stream(
                    f"{base}/{path}/index.m3u8",
                    slug=f"sync-{name}-{number}",
                    title=f"Sync ({name}, round {number})",
                )
                codes[name] = (created.slug, created.viewer_code)
            try:
                for phase in phases:
                    slug, code = codes[phase.stream]
                    measured = run_phase(
                        phase, browser, site, code, slug, stream, events, args.captions, args.delay
                    )
                    results += [(result, stream) for result in measured]
            finally:
                http.shutdown()
                stream.stop()
            rounds.append({**stream.timing_report(), "fraction": round(stream.origin % 1000)})
    rows = analyse(results)
    shutil.rmtree(workdir, ignore_errors=True)  # kept when a run fails: the servers' logs
    raw = Path(tempfile.gettempdir(), "sync-bench.json")
    raw.write_text(
        json.dumps(
            {"rows": rows, "rounds": rounds, "results": [r.__dict__ for r, _ in results]},
            default=lambda o: o.__dict__,
        )
    )
    load_after = os.getloadavg()
    sdk = json.loads((ROOT / "tools" / "ivs-sdk" / "package.json").read_text())
    notes = notes_text(args, browser_version, sdk, rounds, load_before, load_after, raw)
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "minutes": (time.monotonic() - started) / 60,
        "viewers": rows,
        "verdict": verdict(rows),
        "notes": notes,
    }
    command = " ".join(["python -m bench.sync", *(argv or [])]).strip()
    if args.no_write:
        print(json.dumps(rows, indent=2))
        return
    write(report, command)
    print(OUT.read_text())


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


if __name__ == "__main__":
    main()
