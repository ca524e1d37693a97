"""``python -m bench.stream_latency`` (``make bench-stream``): how long after a word is in a live
HLS stream its caption reaches a viewer, on the stream-audio path (``manage.py
caption_worker``), with the local engine and with the Deepgram stand-in at Deepgram's timing.

ffmpeg makes a live stream in real time (``bench.live_hls``) with a phrase at a known moment of
every slot and an ``EXT-X-PROGRAM-DATE-TIME`` on every segment. The site runs as in production:
Daphne, a caption worker process following the stream's playlist, Redis between them,
PostgreSQL. One viewer listens on the captions socket. For each phrase: the UTC moment its last
word ends in the stream (its segment's program date-time plus its offset), the moment the
segment holding it appeared in the playlist, and the moment the viewer received the final
caption holding that word, all on this machine's wall clock. Writes docs/stream-latency.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import subprocess
import tempfile
import threading
import time
import wave
from pathlib import Path

import psycopg
import redis
from websockets.asyncio.client import connect

from bench import live_hls
from bench.servers import (
    CONFIGS,
    DEEPGRAM_KEY,
    POSTGRES_ADMIN_URL,
    PYTHON,
    ROOT,
    Daphne,
    Site,
    machine_jiffies,
    stop_process,
)
from bench.stream_latency_match import Final, caption_of, sound_end
from bench.stream_latency_report import write
from bench.web import session_for
from deepgram_standin import DeepgramStandin
from deepgram_standin.timing import REALISTIC

OUT = ROOT / "docs" / "stream-latency.md"
CONFIG = CONFIGS["pubsub"]  # the production default; the worker needs a shared layer
DATABASE = "livestream_stream_latency"  # its own, so it can run beside `make bench`
REDIS_URL = "redis://127.0.0.1:6379/13"
LEAD = 0.5  # seconds of silence at the start of each slot, before its phrase
SLUG = "stream-latency"


class StreamSite(Site):
    """The bench's site on a database and a Redis database of its own."""

    def __init__(self, workdir: Path, deepgram_url: str) -> None:
        super().__init__(workdir, deepgram_url, {"REDIS_URL": REDIS_URL})
        self.database_url = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"

    def prepare(self) -> None:
        self.drop_database()
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as db:
            db.execute(f"CREATE DATABASE {DATABASE}")
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")
        redis.Redis.from_url(REDIS_URL).flushdb()
        # Redis pub/sub channels are shared by all its databases: a stream numbered as nobody
        # else's keeps other benchmarks' and tests' captions (stream 1's) off this viewer.
        with psycopg.connect(self.database_url) as db:
            first = random.randint(10**6, 10**9)
            db.execute(f"ALTER TABLE livestream_stream ALTER COLUMN id RESTART WITH {first}")

    def drop_database(self) -> None:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as db:
            db.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def watch_publication(stream: live_hls.LiveStream, stop: threading.Event) -> dict[int, float]:
    """Segment number -> wall-clock second it was first listed in the playlist (read every
    20 ms, in a thread, until ``stop``); segments listed before the watch began are left out."""
    published: dict[int, float] = {}
    stream.read_playlist()
    before = set(stream.segments)

    def poll() -> None:
        while not stop.is_set():
            stream.read_playlist()
            now = time.time()
            for number in set(stream.segments) - before:
                published.setdefault(number, now)
            time.sleep(0.02)

    threading.Thread(target=poll, name="publication", daemon=True).start()
    return published


def start_worker(site: Site, workdir: Path) -> subprocess.Popen:
    """``manage.py caption_worker`` as in production, logging to ``workdir/worker.log``."""
    with (workdir / "worker.log").open("w") as log:
        return subprocess.Popen(
            [PYTHON, "manage.py", "caption_worker"],
            cwd=ROOT,
            env=site.env(CONFIG) | {"LOG_LEVEL": "INFO"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def phrase_ends(track: Path, events: list[live_hls.Event]) -> list[float]:
    """Stream seconds at which each phrase's last word ends (its last loud 10 ms)."""
    with wave.open(str(track)) as audio:
        rate, pcm = audio.getframerate(), audio.readframes(audio.getnframes())
    return [sound_end(pcm, rate, e.at, e.duration) or e.at + e.duration for e in events]


async def run(engine: str, args: argparse.Namespace) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"stream-latency-{engine}-"))
    print(f"{engine}: working in {workdir} (the worker's and Daphne's logs)", flush=True)
    seconds = 90 + (args.phrases + 2) * args.slot  # start-up allowance, then the phrases
    track, events = live_hls.speech_track(workdir, seconds, args.slot, LEAD)
    ends = phrase_ends(track, events)
    sent: dict[str, tuple[float, float]] = {}  # stand-in final text -> (wall, monotonic) sent
    async with DeepgramStandin(
        DEEPGRAM_KEY,
        phrases=[f"Final number {n}." for n in range(1, 1000)],
        timing=REALISTIC,
        idle_timeout=30.0,
        on_final=lambda f: sent.setdefault(f.text, (f.sent_time, f.sent_monotonic)),
    ) as standin:
        site = StreamSite(workdir, standin.url)
        await asyncio.to_thread(site.prepare)
        codes = await asyncio.to_thread(site.create_stream, SLUG)
        live_hls.SEGMENT_SECONDS = args.segment  # LiveStream reads the module's segment length
        stream = await asyncio.to_thread(live_hls.LiveStream, workdir, track, seconds)
        base, http = live_hls.serve(stream)
        stop = threading.Event()
        published = watch_publication(stream, stop)
        update = (
            "from livestream.models import Stream; Stream.objects.filter(slug=%r).update("
            "caption_source='stream', caption_engine=%r, playback_url=%r)"
        )
        playlist = f"{base}/live/index.m3u8"
        await asyncio.to_thread(site.manage, "shell", "-c", update % (SLUG, engine, playlist))
        daphne = worker = None
        try:
            daphne = await asyncio.to_thread(Daphne, site, CONFIG, engine)
            worker = await asyncio.to_thread(start_worker, site, workdir)
            got = await listen(daphne.url, codes["viewer_code"], stream, events, ends, args)
        finally:
            stop.set()
            for process in (worker, daphne and daphne.process):
                if process is not None:
                    await asyncio.to_thread(stop_process, process)
            http.shutdown()
            stream.stop()
            await asyncio.to_thread(site.drop_database)
    return measure(engine, stream, events, ends, published, sent, got, workdir, args)


async def listen(url, code, stream, events, ends, args) -> dict:
    """A viewer on the captions socket until every measured phrase is captioned, or
    ``args.drain`` s after the last one ended: every message with its arrival times."""
    cookie = await session_for(url, code)
    headers = {"Origin": url, "Cookie": f"sessionid={cookie}"}
    socket_url = f"{url.replace('http://', 'ws://')}/ws/watch/{SLUG}/captions/"
    messages: list[tuple[float, float, dict]] = []  # (wall, monotonic, message)
    async with connect(socket_url, additional_headers=headers) as viewer:

        async def receive() -> None:
            async for raw in viewer:
                messages.append((time.time(), time.monotonic(), json.loads(raw)))

        receiving = asyncio.create_task(receive())
        deadline = time.monotonic() + 90
        while not any(m["type"] == "status" and m["captioning"] for _, _, m in messages):
            if time.monotonic() > deadline:
                raise RuntimeError("the caption worker did not start captioning in 90 s")
            await asyncio.sleep(0.1)
        ready = time.time()
        measured = [e.index for e in events if stream.utc_of(e.at) / 1000 > ready]
        measured = measured[: args.phrases]
        until = stream.utc_of(ends[measured[-1]]) / 1000 + args.drain
        while time.time() < until:
            finals = finals_of(messages)
            if all(caption_of(round(stream.utc_of(ends[i])), finals) for i in measured):
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(1)  # a final or two more, in case one arrives out of order
        receiving.cancel()
    return {"ready": ready, "measured": measured, "messages": messages}


def finals_of(messages: list[tuple[float, float, dict]]) -> list[Final]:
    return [
        Final(wall, m["spoken_at"], m["spoken_until"], m["text"])
        for wall, _, m in messages
        if m["type"] == "caption" and m.get("is_final") and m.get("spoken_at") is not None
    ]


def measure(engine, stream, events, ends, published, sent, got, workdir, args) -> dict:
    """Per measured phrase: the three moments and the shares between them (ms)."""
    finals = finals_of(got["messages"])
    arrived_monotonic = {
        m["text"]: mono
        for _, mono, m in got["messages"]
        if m["type"] == "caption" and m.get("is_final")
    }
    rows = []
    for index in got["measured"]:
        end = stream.utc_of(ends[index])  # UTC ms: the last word ends in the stream
        number = int(ends[index] // args.segment)  # the segment holding it
        listed = published.get(number)
        caption = caption_of(round(end), finals)
        row = {
            "phrase": events[index].text,
            "offset": ends[index] - number * args.segment,
            "hls": listed and listed * 1000 - end,
            "caption": caption and caption.text,
            "total": caption and caption.received * 1000 - end,
            "after": caption and listed and (caption.received - listed) * 1000,
            "word_time": caption and caption.spoken_until - end,
        }
        if caption and caption.text in sent and caption.text in arrived_monotonic:
            row["site"] = (arrived_monotonic[caption.text] - sent[caption.text][1]) * 1000
        rows.append(row)
    lags = [  # a segment listed after its last moment, by its program date-time
        published[n] * 1000 - (date + duration * 1000)
        for n, (date, duration) in stream.segments.items()
        if n in published
    ]
    problems = [
        line
        for line in (workdir / "worker.log").read_text(errors="replace").splitlines()
        if " WARNING " in line or " ERROR " in line
    ]
    return {
        "engine": engine,
        "rows": rows,
        "pause": min(b.at - end for b, end in zip(events[1:], ends, strict=False)),
        "segment": args.segment,
        "listing_lag": lags,
        "timing": stream.timing_report(),
        "worker_problems": problems[:5],
        "finals": [dataclasses.astuple(f) for f in finals],
        "workdir": str(workdir),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stream_latency", description=__doc__)
    parser.add_argument("--phrases", type=int, default=12, help="measured per engine")
    parser.add_argument("--segment", type=int, default=2, help="HLS segment seconds (IVS: 2)")
    parser.add_argument("--slot", type=float, default=4.5, help="seconds from phrase to phrase")
    parser.add_argument("--drain", type=float, default=15.0, help="wait for late captions")
    parser.add_argument("--engines", default="local,deepgram")
    args = parser.parse_args(argv)
    load = {"before": os.getloadavg()}
    busy, total = machine_jiffies()
    started = time.time()
    results = [asyncio.run(run(engine, args)) for engine in args.engines.split(",")]
    busy_after, total_after = machine_jiffies()
    load |= {
        "after": os.getloadavg(),
        "busy": (busy_after - busy) / max(1, total_after - total),
        "started": started,
        "ended": time.time(),
    }
    Path(tempfile.gettempdir(), "stream-latency.json").write_text(
        json.dumps({"results": results, "load": load})
    )
    command = " ".join(["python -m bench.stream_latency", *(argv or [])])
    OUT.write_text(write(results, load, args, command))
    print(OUT.read_text())


if __name__ == "__main__":
    main()
