"""A live HLS stream for the worker's tests: ffmpeg encodes, in real time, a tiny test picture
and a speech clip on a loop (utterances at known offsets), with ``EXT-X-PROGRAM-DATE-TIME`` on
every segment, served over HTTP on 127.0.0.1 by a server the test can make misbehave.

The truth the tests compare captions with: the utterance at offset ``t`` of the clip's loop
is at the stream's time ``first_date + t``, where ``first_date`` is the program-date-time of
the first segment of an ffmpeg run (read from the playlist as soon as it appears), as the
server gives it (``Faults.date_offset_ms`` off the wall clock).
"""

from __future__ import annotations

import array
import functools
import math
import re
import shutil
import subprocess
import threading
import time
import wave
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from captions.speech.local_measure import espeak
from captions.worker.playlist import parse_media

RATE = 16000
PHRASES = ["Good morning everyone.", "Welcome to the meeting.", "Let us begin now."]
LEAD = 1.2  # seconds of silence before each phrase
TAIL = 0.6  # and after it


@dataclass(frozen=True)
class Clip:
    path: Path
    seconds: float  # one loop
    utterances: list[tuple[float, float, str]]  # (onset, end, phrase) in seconds into a loop


def _onset(pcm: bytes, threshold: float = 300.0) -> tuple[float, float]:
    """Where sound starts and ends in ``pcm`` (10 ms frames louder than ``threshold``)."""
    samples = array.array("h", pcm)
    frame = RATE // 100
    loud = [
        n
        for n in range(len(samples) // frame)
        if math.sqrt(sum(s * s for s in samples[n * frame : (n + 1) * frame]) / frame) > threshold
    ]
    return loud[0] * frame / RATE, (loud[-1] + 1) * frame / RATE


def make_clip(directory: Path) -> Clip:
    pcm = bytearray()
    utterances = []
    for phrase in PHRASES:
        spoken = espeak(phrase)
        begin, end = _onset(spoken)
        pcm += bytes(round(LEAD * RATE) * 2)
        at = len(pcm) / 2 / RATE
        utterances.append((at + begin, at + end, phrase))
        pcm += spoken + bytes(round(TAIL * RATE) * 2)
    path = directory / "speech.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(pcm))
    return Clip(path, len(pcm) / 2 / RATE, utterances)


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        faults: Faults = self.server.faults  # type: ignore[attr-defined]
        faults.requests.append(self.path)
        if faults.offline:
            self.send_error(404)
            return
        if self.path.endswith(".ts") and faults.take_segment_failure():
            self.send_error(500)
            return
        path = self.path.split("?")[0]
        if not path.endswith(".m3u8"):
            super().do_GET()
            return
        playlist = faults.frozen.get(path)
        if playlist is None:
            try:
                playlist = Path(self.translate_path(path)).read_bytes()
            except OSError:
                self.send_error(404)
                return
        playlist = _DATE.sub(lambda m: faults.shift(m), playlist)
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.apple.mpegurl")
        self.send_header("Content-Length", str(len(playlist)))
        self.end_headers()
        self.wfile.write(playlist)


_DATE = re.compile(rb"(?<=#EXT-X-PROGRAM-DATE-TIME:)(\S+)")


@dataclass
class Faults:
    # The encoder's clock is not this machine's: the dates in playlists are this far off the
    # wall clock ffmpeg wrote them by (so a worker that timed captions by when it fetched
    # segments, not by their dates, would be caught).
    date_offset_ms: int = -2500
    offline: bool = False  # every request 404s
    failing_segments: int = 0  # the next this many segment requests get 500
    frozen: dict[str, bytes] = field(default_factory=dict)  # path -> a playlist served as is
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def shift(self, match: re.Match) -> bytes:
        date = datetime.fromisoformat(match[1].decode())
        return (date + timedelta(milliseconds=self.date_offset_ms)).isoformat().encode()

    def take_segment_failure(self) -> bool:
        with self.lock:
            if self.failing_segments > 0:
                self.failing_segments -= 1
                return True
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass


class LiveStream:
    """``start()`` an ffmpeg run (again after ``stop()``: a new broadcast, sequence numbers from
    0, or with ``append=True`` one playlist continued after an ``EXT-X-DISCONTINUITY``)."""

    def __init__(
        self, clip: Clip, directory: Path, *, list_size: int = 10, segment_seconds: int = 1
    ) -> None:
        self.clip = clip
        self.segment_seconds = segment_seconds
        self.directory = directory
        self.list_size = list_size
        self.faults = Faults()
        handler = functools.partial(_Handler, directory=str(directory))
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.faults = self.faults  # type: ignore[attr-defined]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.runs: list[tuple[int, float]] = []  # (first_date, monotonic start) per ffmpeg run
        self._process: subprocess.Popen | None = None

    @property
    def master_url(self) -> str:
        return f"{self.base_url}/master.m3u8"

    @property
    def media_path(self) -> str:
        return "/index.m3u8"

    def start(self, *, append: bool = False) -> None:
        flags = "program_date_time+delete_segments+independent_segments+omit_endlist"
        if append:
            flags += "+append_list+discont_start"
        seen = self._listed_dates() if append else set()
        command = [
            shutil.which("ffmpeg"),
            *("-hide_banner", "-loglevel", "error", "-y"),
            *("-re", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10"),
            *("-re", "-stream_loop", "-1", "-i", str(self.clip.path)),
            *("-map", "0:v", "-map", "1:a"),
            *("-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency"),
            *("-g", str(10 * self.segment_seconds), "-keyint_min", str(10 * self.segment_seconds)),
            *("-sc_threshold", "0", "-b:v", "60k"),
            *("-c:a", "aac", "-b:a", "48k", "-ar", "48000", "-ac", "1"),
            *("-f", "hls", "-hls_time", str(self.segment_seconds)),
            *("-hls_list_size", str(self.list_size)),
            *("-hls_flags", flags, "-master_pl_name", "master.m3u8"),
            *("-hls_segment_filename", str(self.directory / f"r{len(self.runs)}-%05d.ts")),
            str(self.directory / "index.m3u8"),
        ]
        self._process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self._process.poll() is None:
            first = self._first_new_date(seen)
            if first is not None:
                self.runs.append((first, time.monotonic()))
                return
            time.sleep(0.05)
        self._process.kill()
        raise RuntimeError(f"ffmpeg made no live stream:\n{self._process.communicate()[1]}")

    def _listed_dates(self) -> set[int]:
        try:
            text = (self.directory / "index.m3u8").read_text()
            return {s.program_date_time for s in parse_media(text, self.base_url).segments}
        except (OSError, ValueError):
            return set()

    def _first_new_date(self, seen: set[int]) -> int | None:
        dates = sorted(self._listed_dates() - seen)
        return dates[0] if dates else None

    def stop(self, *, clear: bool = True) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            self._process = None
        if clear:
            for path in self.directory.iterdir():
                path.unlink()

    def close(self) -> None:
        self.stop(clear=False)
        self._server.shutdown()
        self._server.server_close()

    def utterances(self, run: int = -1, *, until: int | None = None) -> list[tuple[int, int, str]]:
        """(onset, end, phrase) on the stream's clock (UTC ms) of every utterance of a run so
        far (or until ``until``)."""
        first, started = self.runs[run]
        first += self.faults.date_offset_ms  # as the playlists say
        until = until or first + round((time.monotonic() - started) * 1000)
        found = []
        for loop in range(int((until - first) / 1000 / self.clip.seconds) + 1):
            for onset, end, phrase in self.clip.utterances:
                at = first + round((loop * self.clip.seconds + onset) * 1000)
                if at < until:
                    found.append(
                        (at, first + round((loop * self.clip.seconds + end) * 1000), phrase)
                    )
        return found
