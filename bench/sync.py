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
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.live_hls import LiveStream, serve, speech_track
from bench.sync_analysis import analyse
from bench.sync_page import PHASES, Result, run_phase, use_site_database
from bench.sync_report import OUT, ROOT, notes_text, verdict, write
from tests.live_site import SITE_ENV, LiveSite, free_port, start_daphne

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


if __name__ == "__main__":
    main()
