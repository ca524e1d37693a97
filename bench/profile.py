"""Sampling a Daphne process with py-spy while a measurement runs (``python -m bench
--profile``), and the frames where its time went."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

PY_SPY = Path(sys.executable).parent / "py-spy"
LINE_NUMBER = re.compile(r":\d+\)$")


class Profiler:
    """``py-spy record`` on ``pid`` (non-blocking, so the process is never paused) until
    :meth:`stop`, into ``<stem>.txt`` as folded stacks (speedscope.app opens them as a flame
    graph)."""

    def __init__(self, pid: int, stem: Path) -> None:
        self.folded = stem.with_suffix(".txt")
        self.process = subprocess.Popen(
            [str(PY_SPY), "record", "--pid", str(pid), "--rate", "200", "--nonblocking",
             "--format", "raw", "--output", str(self.folded)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def stop(self) -> dict:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(60)
        return {"folded": str(self.folded), **top_frames(self.folded)}


def top_frames(folded: Path, count: int = 15) -> dict:
    """The functions most often on top of the stack (self) and anywhere in it (total), in % of
    the samples where the process was busy."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    if not folded.exists():
        return {"samples": 0, "self": [], "total": []}
    for line in folded.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = [LINE_NUMBER.sub(")", f) for f in stack.split(";") if f]
        if not frames or not n.isdigit():
            continue
        hits = int(n)
        samples += hits
        own[frames[-1]] += hits
        for frame in set(frames):
            total[frame] += hits

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        top = counter.most_common(count)
        return [(frame, round(100 * hits / samples, 1)) for frame, hits in top]

    return {"samples": samples, "self": share(own), "total": share(total)}
