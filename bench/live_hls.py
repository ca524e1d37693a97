"""A live HLS stream made in real time by ffmpeg, for the sync benchmark (``bench.sync``).

- The picture is ffmpeg's test pattern with the frame's number drawn along its top edge as 20
  black/white blocks (two marker blocks, 16 bits, two check blocks), so whoever can read a
  pixel of the frame on screen knows exactly which frame it is (``FRAME_READER_JS`` reads it in
  the page, on every frame the video presents).
- The sound is speech: a phrase (espeak-ng) at the start of every slot, so the stream has words
  at known moments (``Event``).
- The playlist has an ``EXT-X-PROGRAM-DATE-TIME`` on every 1 s segment: the wall-clock time the
  segment's first frame was made. ``LiveStream`` reads the playlist as it grows and keeps every
  segment's date, so any frame number or stream time maps to the UTC time of its picture.
- ``serve`` serves the stream over HTTP twice: ``/live/index.m3u8`` as ffmpeg wrote it, and
  ``/ivs/index.m3u8``, the same segments each with the ID3 ``segmentmetadata`` tag Amazon IVS's
  transcoder adds (``bench.ts_id3``), carrying the segment's program date-time as ``transc_r``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import shutil
import subprocess
import threading
import time
import wave
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench import ts_id3

FPS = 25
SEGMENT_SECONDS = 1
CODE_BLOCKS = 20  # marker (white, black), 16 bits of the frame number, bit 1, not bit 0
CODE_X, CODE_Y, CODE_BLOCK_W, CODE_H = 3, 3, 21, 14
SIZE = "426x240"

# geq over a 20x1 strip: block X is white when its bit is set; then scaled up to blocks.
_BITS = (
    "if(lt(X,2),if(eq(X,0),235,16),"
    "if(lt(X,18),if(mod(floor(N/pow(2,X-2)),2),235,16),"
    "if(eq(X,18),if(mod(floor(N/2),2),235,16),if(mod(N,2),16,235))))"
)

PHRASES = [
    "Good evening and welcome.",
    "Tonight we look at the budget.",
    "The schedule comes first.",
    "Then the people who will help.",
    "Questions are welcome at the end.",
    "Let us begin with last year.",
    "Sales grew in every region.",
    "Costs grew a little faster.",
    "So we made three changes.",
    "Here is the first of them.",
]


@dataclass(frozen=True)
class Event:
    """Words in the stream: ``text`` spoken from ``at`` (seconds of stream time) for
    ``duration`` seconds."""

    index: int
    at: float
    duration: float
    text: str


def speech_track(
    directory: Path, seconds: float, slot: float, lead: float
) -> tuple[Path, list[Event]]:
    """A WAV of ``seconds`` with a phrase starting ``lead`` s into every ``slot`` s, and the
    list of those phrases' moments."""
    espeak = shutil.which("espeak-ng")
    if not espeak:
        raise SystemExit("espeak-ng is needed for the stream's speech (apt-get install espeak-ng)")
    clips: list[tuple[bytes, float]] = []
    rate = None
    for n, text in enumerate(PHRASES):
        path = directory / f"phrase{n}.wav"
        subprocess.run([espeak, "-s", "170", "-w", str(path), text], check=True)
        with wave.open(str(path)) as clip:
            rate = rate or clip.getframerate()
            if clip.getframerate() != rate or clip.getsampwidth() != 2 or clip.getnchannels() != 1:
                raise SystemExit(f"espeak-ng wrote an unexpected format: {path}")
            frames = clip.readframes(clip.getnframes())
        clips.append((frames, len(frames) / 2 / rate))
    assert rate is not None
    if max(duration for _, duration in clips) > slot - lead:
        raise SystemExit(f"a phrase is longer than its slot ({slot} s): use a longer --interval")
    total = int(seconds * rate)
    audio = bytearray(total * 2)
    events = []
    index = 0
    while (start := index * slot + lead) + slot < seconds:
        frames, duration = clips[index % len(clips)]
        offset = int(start * rate) * 2
        audio[offset : offset + len(frames)] = frames
        events.append(Event(index, start, duration, PHRASES[index % len(PHRASES)]))
        index += 1
    track = directory / "speech.wav"
    with wave.open(str(track), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(audio))
    return track, events


def _parse_pdt(text: str) -> float:
    """``2026-01-02T03:04:05.678+0000`` (ffmpeg's form) to UTC milliseconds."""
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000


class LiveStream:
    """ffmpeg making the stream in real time into ``directory / "live"``, and what its playlist
    said about every segment so far."""

    def __init__(self, directory: Path, audio: Path, seconds: float) -> None:
        self.directory = directory / "live"
        self.directory.mkdir(parents=True)
        self.playlist = self.directory / "index.m3u8"
        self.segments: dict[int, tuple[float, float]] = {}  # sequence -> (PDT ms, duration s)
        self._stop = threading.Event()
        command = [
            "ffmpeg",
            *("-hide_banner", "-loglevel", "error", "-re"),
            *("-f", "lavfi", "-i", f"testsrc2=size={SIZE}:rate={FPS}"),
            *(
                "-re",
                "-f",
                "lavfi",
                "-i",
                f"color=black:size={CODE_BLOCKS}x1:rate={FPS},format=gray",
            ),
            *("-re", "-i", str(audio)),
            "-filter_complex",
            f"[1:v]geq=lum='{_BITS}',scale={CODE_BLOCKS * CODE_BLOCK_W}:{CODE_H}:flags=neighbor,"
            f"format=yuv420p[code];[0:v][code]overlay={CODE_X}:{CODE_Y}:shortest=1[v]",
            *("-map", "[v]", "-map", "2:a", "-t", str(seconds)),
            *("-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency"),
            *("-profile:v", "main", "-pix_fmt", "yuv420p"),
            *("-g", str(FPS * SEGMENT_SECONDS), "-keyint_min", str(FPS * SEGMENT_SECONDS)),
            *("-sc_threshold", "0", "-b:v", "400k"),
            *("-c:a", "aac", "-b:a", "64k", "-ar", "48000", "-ac", "2"),
            *("-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_list_size", "10"),
            *("-hls_flags", "program_date_time+delete_segments+independent_segments"),
            *("-hls_segment_filename", str(self.directory / "live%06d.ts")),
            str(self.playlist),
        ]
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._follow, name="playlist", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 30
        while len(self.segments) < 3:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"ffmpeg made no live stream:\n{self.process.stderr.read()}")
            time.sleep(0.1)

    def _follow(self) -> None:
        while not self._stop.is_set():
            self.read_playlist()
            time.sleep(0.2)

    def read_playlist(self) -> None:
        try:
            text = self.playlist.read_text()
        except OSError:
            return
        sequence = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)
        if not sequence:
            return
        number = int(sequence.group(1))
        for duration, date, _name in re.findall(
            r"#EXTINF:([\d.]+),\s*#EXT-X-PROGRAM-DATE-TIME:(\S+)\s*(\S+\.ts)", text
        ):
            self.segments.setdefault(number, (_parse_pdt(date), float(duration)))
            number += 1

    def pdt_of(self, name: str) -> float | None:
        """The program date-time (UTC ms) of segment file ``name`` (``live000123.ts``)."""
        match = re.search(r"(\d+)\.ts$", name)
        if not match:
            return None
        number = int(match.group(1))
        if number not in self.segments:
            self.read_playlist()
        found = self.segments.get(number)
        return found[0] if found else None

    @property
    def origin(self) -> float:
        """UTC ms of stream time 0 (frame 0), from the earliest segment seen: segment ``k``
        begins at stream time ``k`` s (a keyframe every second, 1 s segments)."""
        first = min(self.segments)
        return self.segments[first][0] - first * SEGMENT_SECONDS * 1000

    def utc_of_frame(self, frame: int) -> float | None:
        """UTC ms of frame number ``frame``: its segment's program date-time plus its place in
        the segment."""
        segment = self.segments.get(frame // (FPS * SEGMENT_SECONDS))
        if segment is None:
            return None
        return segment[0] + (frame % (FPS * SEGMENT_SECONDS)) * 1000 / FPS

    def utc_of(self, stream_seconds: float) -> float:
        return self.origin + stream_seconds * 1000

    def stream_time_now(self) -> float:
        """Stream time (seconds) of the frame ffmpeg is making now."""
        return (time.time() * 1000 - self.origin) / 1000

    def timing_report(self) -> dict[str, Any]:
        """How regular the segments were: their durations and how far each date strays from
        the first date plus the durations before it."""
        numbers = sorted(self.segments)
        durations = [self.segments[n][1] for n in numbers]
        strays = []
        expected = self.segments[numbers[0]][0]
        for n in numbers:
            strays.append(abs(self.segments[n][0] - expected))
            expected += self.segments[n][1] * 1000
        return {
            "segments": len(numbers),
            "durations": sorted(set(durations)),
            "max_date_stray_ms": max(strays),
        }

    def stop(self) -> None:
        self._stop.set()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class _Handler(SimpleHTTPRequestHandler):
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".m3u8": "application/vnd.apple.mpegurl",
        ".ts": "video/mp2t",
    }
    stream: LiveStream

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if not self.path.startswith("/ivs/"):
            super().do_GET()
            return
        name = self.path.split("?", 1)[0].rsplit("/", 1)[1]
        try:
            data = (self.stream.directory / name).read_bytes()
        except OSError:
            self.send_error(404)
            return
        if name.endswith(".ts"):
            pdt = self.stream.pdt_of(name)
            if pdt is not None:
                number = int(re.search(r"(\d+)\.ts$", name).group(1))
                metadata = {"cmd": "ld_lat_data", "transc_r": round(pdt)}
                data = ts_id3.inject(data, json.dumps(metadata), continuity=number)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(name))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # players drop connections mid-segment when they seek or stop


def serve(stream: LiveStream) -> tuple[str, ThreadingHTTPServer]:
    """Serve ``stream`` on 127.0.0.1 from a background thread; returns its base URL."""
    handler = type("Handler", (_Handler,), {"stream": stream})
    server = _QuietServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(stream.directory.parent))
    )
    threading.Thread(target=server.serve_forever, name="hls", daemon=True).start()
    host, port = server.server_address[:2]
    return f"http://{host}:{port}", server


# Runs in the player page before its own scripts (Playwright's init script, outside the page's
# CSP): on every frame the video presents, read the frame number drawn on it and note when the
# frame was due on screen (wall-clock ms). window.__frames: [[display_wall_ms, frame|null], ...]
FRAME_READER_JS = f"""
(() => {{
  const frames = [];
  window.__frames = frames;
  const width = {CODE_BLOCKS * CODE_BLOCK_W}, height = {CODE_H};
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d", {{ willReadFrequently: true }});
  function read(video) {{
    context.drawImage(video, {CODE_X}, {CODE_Y}, width, height, 0, 0, width, height);
    const row = context.getImageData(0, height >> 1, width, 1).data;
    const bit = (k) => (row[({CODE_BLOCK_W} * k + ({CODE_BLOCK_W} >> 1)) * 4] > 128 ? 1 : 0);
    if (bit(0) !== 1 || bit(1) !== 0) return null;
    let n = 0;
    for (let k = 0; k < 16; k += 1) n |= bit(2 + k) << k;
    if (bit(18) !== ((n >> 1) & 1) || bit(19) !== 1 - (n & 1)) return null;
    return n;
  }}
  function watch(video) {{
    const step = (now, meta) => {{
      let n = null;
      try {{ n = read(video); }} catch (error) {{ n = null; }}
      frames.push([performance.timeOrigin + meta.expectedDisplayTime, n]);
      if (frames.length > 30000) frames.splice(0, 10000);
      video.requestVideoFrameCallback(step);
    }};
    video.requestVideoFrameCallback(step);
  }}
  document.addEventListener("DOMContentLoaded", () => {{
    const video = document.getElementById("video");
    if (video) watch(video);
  }});
}})();
"""
