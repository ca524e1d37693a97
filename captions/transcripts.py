"""Transcripts of a stream's final captions: WebVTT, SRT and plain text.

Cue times are placed on one timeline for the whole stream: each caption's time within its
caption session, plus when that session began relative to the stream's first one. Cues follow
common subtitle guidance: at most 42 characters per line and 2 lines per cue; a longer
caption becomes several cues sharing its time in proportion to their length.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from captions.models import Caption

MAX_LINE = 42
MAX_LINES = 2
MIN_CUE_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Cue:
    start: float
    end: float
    lines: list[str]


def cues(captions: Iterable[Caption]) -> Iterator[Cue]:
    origin = None
    for caption in captions:
        if origin is None:
            origin = caption.session_started_at
        if caption.removed:
            continue  # taken out by staff (it still anchors the timeline when first)
        offset = (caption.session_started_at - origin).total_seconds()
        start = max(0.0, offset + caption.start)
        end = max(start + MIN_CUE_SECONDS, offset + caption.end)
        yield from _split(caption.text, start, end)


def _split(text: str, start: float, end: float) -> Iterator[Cue]:
    lines = textwrap.wrap(
        " ".join(text.split()), MAX_LINE, break_long_words=True, break_on_hyphens=False
    ) or [""]
    groups = [lines[i : i + MAX_LINES] for i in range(0, len(lines), MAX_LINES)]
    total = sum(len(" ".join(group)) for group in groups) or 1
    at = start
    for index, group in enumerate(groups):
        share = (end - start) * len(" ".join(group)) / total
        until = end if index == len(groups) - 1 else at + share
        yield Cue(round(at, 3), round(until, 3), group)
        at = until


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _vtt_escape(line: str) -> str:
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webvtt(captions: Iterable[Caption]) -> str:
    parts = ["WEBVTT", ""]
    for number, cue in enumerate(cues(captions), start=1):
        parts += [
            str(number),
            f"{_timestamp(cue.start, '.')} --> {_timestamp(cue.end, '.')}",
            *(_vtt_escape(line) for line in cue.lines),
            "",
        ]
    return "\n".join(parts) + "\n"


def srt(captions: Iterable[Caption]) -> str:
    parts = []
    for number, cue in enumerate(cues(captions), start=1):
        parts += [
            str(number),
            f"{_timestamp(cue.start, ',')} --> {_timestamp(cue.end, ',')}",
            *cue.lines,
            "",
        ]
    return "\n".join(parts) + ("\n" if parts else "")


def plain_text(captions: Iterable[Caption]) -> str:
    return "".join(f"{caption.text}\n" for caption in captions if not caption.removed)


FORMATS = {
    "vtt": (webvtt, "text/vtt; charset=utf-8"),
    "srt": (srt, "application/x-subrip; charset=utf-8"),
    "txt": (plain_text, "text/plain; charset=utf-8"),
}
