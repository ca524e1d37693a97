"""A live HLS stream from a recorded one: its segments on an endless loop, on the clock.

The playlist is a sliding window of the last few segments, as a live channel's is; the
recording restarts after its last segment with ``#EXT-X-DISCONTINUITY`` (its timestamps start
over). Nothing is encoded while serving: ffmpeg made the recording once.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

WINDOW = 4  # segments in each playlist


@dataclass(frozen=True)
class Recording:
    segments: list[tuple[float, str]]  # (duration, file name)
    target: int

    @classmethod
    def read(cls, directory: Path) -> Recording:
        text = (directory / "index.m3u8").read_text()
        segments = [
            (float(duration), name)
            for duration, name in re.findall(r"#EXTINF:([\d.]+),[^\n]*\n([^#\n][^\n]*)", text)
        ]
        if not segments:
            raise ValueError(f"no segments in {directory / 'index.m3u8'}")
        return cls(segments, math.ceil(max(duration for duration, _ in segments)))


class LiveLoop:
    def __init__(self, directory: Path, started: float | None = None) -> None:
        self.directory = directory
        self.recording = Recording.read(directory)
        # As if the broadcast began a window ago: a player joining at once has segments.
        self.started = (started or time.monotonic()) - WINDOW * self.recording.target

    def _count(self) -> int:
        """How many segments have been completed since the broadcast began."""
        return int((time.monotonic() - self.started) // self.recording.target)

    def playlist(self, segment_url: str = "{n}.ts") -> str:
        n = len(self.recording.segments)
        last = self._count() - 1
        first = max(0, last - WINDOW + 1)
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{self.recording.target}",
            f"#EXT-X-MEDIA-SEQUENCE:{first}",
            f"#EXT-X-DISCONTINUITY-SEQUENCE:{first // n}",
        ]
        for sequence in range(first, last + 1):
            if sequence % n == 0 and sequence != first:
                lines.append("#EXT-X-DISCONTINUITY")
            duration, _ = self.recording.segments[sequence % n]
            lines += [f"#EXTINF:{duration:.3f},", segment_url.format(n=sequence)]
        return "\n".join(lines) + "\n"

    def segment(self, sequence: int) -> bytes | None:
        if not 0 <= sequence <= self._count():
            return None
        _, name = self.recording.segments[sequence % len(self.recording.segments)]
        return (self.directory / name).read_bytes()
