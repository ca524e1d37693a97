"""A live stream made on this machine, for the offline demo (``make run``), in development only.

ffmpeg — the binary bundled in the ``imageio-ffmpeg`` wheel, so no system package is needed —
encodes in real time a test picture with a clock and ``demo/speech.ogg`` on a loop, as live
HLS with ``EXT-X-PROGRAM-DATE-TIME`` on every segment, into ``build/demo-live/``, which the site
serves at ``/demo-live/`` while ``DEBUG`` is on (:mod:`demo.views`). The clock is this
machine's time when the frame was made, the same time the segment's program-date-time says, so
a caption shown with its words shows beside the time they were spoken.
"""

from __future__ import annotations

import ctypes
import glob
import logging
import shutil
import signal
import subprocess
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

BASE_DIR = Path(__file__).resolve().parents[1]
SPEECH = Path(__file__).with_name("speech.ogg")
OUTPUT = BASE_DIR / "build" / "demo-live"
PLAYLIST = "master.m3u8"
SEGMENT_SECONDS = 2
PR_SET_PDEATHSIG = 1  # prctl(2)
FONT_GLOBS = [  # where a font for the clock usually is (fontconfig knows best, when present)
    "/usr/share/fonts/**/DejaVuSans.ttf",
    "/usr/share/fonts/**/*.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/System/Library/Fonts/*.ttc",
    "C:/Windows/Fonts/arial.ttf",
]


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def font() -> str | None:
    if shutil.which("fc-match"):
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", "sans"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if found and Path(found).is_file():
            return found
    for pattern in FONT_GLOBS:
        for path in sorted(glob.glob(pattern, recursive=True)):
            return path
    return None


def _picture_filters() -> list[str]:
    path = font()
    if path is None:  # no font on this machine: testsrc2's own counter is the clock
        logger.info("no font found for the demo's clock; the picture shows its seconds")
        return []
    escaped = path.replace("\\", "/").replace(":", "\\\\:")
    clock = (
        f"drawtext=fontfile='{escaped}':text='%{{localtime\\:%H\\\\\\:%M\\\\\\:%S}}'"
        ":x=w-tw-24:y=24:fontsize=48:fontcolor=white:box=1:boxcolor=black@0.6"
        ":boxborderw=12"
    )
    return ["-vf", clock]


def command(output: Path = OUTPUT) -> list[str]:
    gop = 25 * SEGMENT_SECONDS
    return [
        ffmpeg(),
        *("-hide_banner", "-loglevel", "error", "-nostdin"),
        *("-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"),
        *("-re", "-stream_loop", "-1", "-i", str(SPEECH)),
        *_picture_filters(),
        *("-map", "0:v", "-map", "1:a"),
        *("-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p"),
        *("-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", "-b:v", "600k"),
        *("-c:a", "aac", "-b:a", "96k", "-ar", "48000", "-ac", "2"),
        *("-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_list_size", "6"),
        "-hls_flags",
        "program_date_time+delete_segments+independent_segments+omit_endlist+temp_file",
        *("-master_pl_name", PLAYLIST),
        *("-hls_segment_filename", str(output / "seg%06d.ts")),
        str(output / "index.m3u8"),
    ]


def _die_with_parent() -> None:
    """On Linux, ffmpeg gets SIGTERM when the server dies, even when it is killed outright."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Broadcast:
    """The demo's encoder: ``start()`` it, ``stop()`` it (also when this process exits)."""

    def __init__(self, output: Path = OUTPUT) -> None:
        self.output = output
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        shutil.rmtree(self.output, ignore_errors=True)
        self.output.mkdir(parents=True)
        self.process = subprocess.Popen(  # noqa: S603 - our own arguments
            command(self.output), stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent
        )
        logger.info("demo broadcast: ffmpeg (pid %s) writes %s", self.process.pid, self.output)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
