"""HLS streams for the browser tests, made by ffmpeg and served over HTTP from 127.0.0.1: a VOD
stream encoded into a directory (``make_hls``), a live one made in real time
(``start_live_hls``), and a threaded server for a directory (``serve_directory``) with the
content types and CORS headers players need."""

from __future__ import annotations

import functools
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.conftest import require_program


def make_hls(
    directory: Path,
    *,
    seconds: float = 20,
    audio: Path | None = None,
    segment_seconds: int = 2,
) -> Path:
    """Encode an H.264 + AAC HLS stream (VOD playlist) into ``directory``; return the playlist."""
    ffmpeg = require_program("ffmpeg")
    directory.mkdir(parents=True, exist_ok=True)
    fps = 30
    sound = ["-i", str(audio)] if audio else ["-f", "lavfi", "-i", "sine=frequency=440:r=48000"]
    playlist = directory / "index.m3u8"
    command = [
        ffmpeg,
        *("-hide_banner", "-loglevel", "error", "-y"),
        *("-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={fps}"),
        *sound,
        *("-t", str(seconds)),
        *("-map", "0:v", "-map", "1:a"),
        *("-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p"),
        *("-g", str(fps * segment_seconds), "-keyint_min", str(fps * segment_seconds)),
        *("-sc_threshold", "0", "-b:v", "800k"),
        # Shorter audio is padded with silence: the stream lasts `seconds` either way.
        *("-af", "apad", "-c:a", "aac", "-b:a", "96k", "-ar", "48000", "-ac", "2"),
        *("-f", "hls", "-hls_time", str(segment_seconds), "-hls_playlist_type", "vod"),
        *("-hls_segment_filename", str(directory / "segment%03d.ts")),
        str(playlist),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    if completed.returncode != 0 or not playlist.exists():
        raise RuntimeError(f"ffmpeg failed ({completed.returncode}):\n{completed.stderr}")
    return playlist


class _HlsHandler(SimpleHTTPRequestHandler):
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".m3u8": "application/vnd.apple.mpegurl",
        ".ts": "video/mp2t",
        ".m4s": "video/iso.segment",
        ".mp4": "video/mp4",
        ".aac": "audio/aac",
        ".vtt": "text/vtt",
    }

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Players drop connections mid-segment when they seek or stop: not an error here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class HlsServer:
    directory: Path
    base_url: str
    requests: list[str]
    _server: ThreadingHTTPServer

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    @property
    def missing_url(self) -> str:
        return self.url("missing/index.m3u8")

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve_directory(directory: Path, port: int = 0) -> HlsServer:
    """Serve ``directory`` over HTTP on 127.0.0.1 (``port``, or a free one) from a background
    thread."""
    handler = functools.partial(_HlsHandler, directory=str(directory))
    server = _QuietServer(("127.0.0.1", port), handler)
    server.requests = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, name="hls-server", daemon=True).start()
    host, port = server.server_address[:2]
    return HlsServer(directory, f"http://{host}:{port}", server.requests, server)  # type: ignore[attr-defined]


LIVE_SEGMENTS_READY = 3


def start_live_hls(directory: Path) -> subprocess.Popen:
    """Start ffmpeg making a live stream into ``directory`` in real time; return it once its
    playlist lists ``LIVE_SEGMENTS_READY`` segments."""
    ffmpeg = require_program("ffmpeg")
    directory.mkdir()
    playlist = directory / "index.m3u8"
    command = [
        ffmpeg,
        *("-hide_banner", "-loglevel", "error", "-re"),
        *("-f", "lavfi", "-i", "testsrc2=size=426x240:rate=25"),
        *("-f", "lavfi", "-i", "sine=frequency=440:r=48000"),
        *("-map", "0:v", "-map", "1:a"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency"),
        *("-profile:v", "main", "-pix_fmt", "yuv420p", "-g", "25", "-keyint_min", "25"),
        *("-sc_threshold", "0", "-b:v", "400k"),
        *("-c:a", "aac", "-b:a", "64k", "-ar", "48000", "-ac", "2"),
        *("-f", "hls", "-hls_time", "1", "-hls_list_size", "10"),
        *("-hls_flags", "program_date_time+delete_segments+independent_segments"),
        *("-hls_segment_filename", str(directory / "live%06d.ts")),
        str(playlist),
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if playlist.exists() and playlist.read_text().count("#EXTINF") >= LIVE_SEGMENTS_READY:
            break
        time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError(f"ffmpeg made no live stream:\n{process.communicate()[1]}")
    return process


def stop_live_hls(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
