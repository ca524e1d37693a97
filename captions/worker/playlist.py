"""Reading HLS playlists (RFC 8216): which media playlist carries the audio, and its segments.

Only what following a live stream's audio needs: variants and audio renditions of a
multivariant playlist; a media playlist's sequence numbers, durations, discontinuities,
``EXT-X-PROGRAM-DATE-TIME`` (carried forward to later segments until a discontinuity, as the
RFC allows), initialization sections (``EXT-X-MAP``) and ``EXT-X-ENDLIST``. Low-latency parts
(``EXT-X-PART``) are ignored: whole segments are enough for captions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin

_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')
AUDIO_CODECS = ("mp4a", "ac-3", "ec-3", "opus", "mp3", "flac")


class NotAPlaylist(ValueError):
    """The body is not an HLS playlist (an error page, a captive portal)."""


def attributes(text: str) -> dict[str, str]:
    return {name: value.strip('"') for name, value in _ATTRIBUTE.findall(text)}


def _lines(text: str) -> list[str]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != "#EXTM3U":
        raise NotAPlaylist("no #EXTM3U header")
    return lines


def is_multivariant(text: str) -> bool:
    return "#EXT-X-STREAM-INF:" in text


def audio_playlist_url(text: str, base_url: str) -> str:
    """The media playlist to follow for audio: the smallest variant that has sound (IVS lists
    an audio-only one), or its audio rendition when the audio comes separately."""
    lines = _lines(text)
    renditions: dict[str, list[dict[str, str]]] = {}
    variants: list[tuple[dict[str, str], str]] = []
    for number, line in enumerate(lines):
        if line.startswith("#EXT-X-MEDIA:"):
            media = attributes(line.split(":", 1)[1])
            if media.get("TYPE") == "AUDIO":
                renditions.setdefault(media.get("GROUP-ID", ""), []).append(media)
        elif line.startswith("#EXT-X-STREAM-INF:") and number + 1 < len(lines):
            uri = lines[number + 1]
            if not uri.startswith("#"):
                variants.append((attributes(line.split(":", 1)[1]), uri))
    with_sound = [
        (info, uri)
        for info, uri in variants
        if "CODECS" not in info
        or "AUDIO" in info
        or any(codec in info["CODECS"] for codec in AUDIO_CODECS)
    ]
    if not with_sound:
        raise NotAPlaylist("no variant with audio")
    info, uri = min(with_sound, key=lambda variant: int(variant[0].get("BANDWIDTH") or 0))
    group = renditions.get(info.get("AUDIO", ""), [])
    separate = [media for media in group if media.get("URI")]
    if separate:
        chosen = next((m for m in separate if m.get("DEFAULT") == "YES"), separate[0])
        return urljoin(base_url, chosen["URI"])
    return urljoin(base_url, uri)


@dataclass(frozen=True)
class Segment:
    seq: int  # media sequence number
    url: str
    duration: float  # seconds (EXTINF)
    program_date_time: int | None  # UTC ms of the segment's first sample, when known
    discontinuity: bool  # EXT-X-DISCONTINUITY before it: timestamps and codec may change
    init_url: str | None = None  # EXT-X-MAP: the initialization section to decode it with


@dataclass(frozen=True)
class MediaPlaylist:
    target_duration: float
    segments: list[Segment] = field(default_factory=list)
    ended: bool = False  # EXT-X-ENDLIST: no segment will be added

    @property
    def last_seq(self) -> int | None:
        return self.segments[-1].seq if self.segments else None


def _date_ms(value: str) -> int | None:
    try:
        return round(datetime.fromisoformat(value).timestamp() * 1000)
    except ValueError:
        return None


def parse_media(text: str, base_url: str) -> MediaPlaylist:
    lines = _lines(text)
    target, seq, ended = 0.0, 0, False
    segments: list[Segment] = []
    duration: float | None = None
    date: int | None = None
    discontinuity = gap = dated = False
    init_url: str | None = None
    for line in lines[1:]:
        tag, _, value = line.partition(":")
        if tag == "#EXT-X-TARGETDURATION":
            target = float(value)
        elif tag == "#EXT-X-MEDIA-SEQUENCE":
            seq = int(value)
        elif tag == "#EXT-X-DISCONTINUITY":
            discontinuity = True
            if not dated:  # a date carried from before the discontinuity says nothing here
                date = None
        elif tag == "#EXT-X-PROGRAM-DATE-TIME":
            date, dated = _date_ms(value), True
        elif tag == "#EXT-X-MAP":
            uri = attributes(value).get("URI")
            init_url = urljoin(base_url, uri) if uri else None
        elif tag == "#EXT-X-GAP":
            gap = True
        elif tag == "#EXT-X-ENDLIST":
            ended = True
        elif tag == "#EXTINF":
            duration = float(value.split(",", 1)[0])
        elif not line.startswith("#") and duration is not None:
            if not gap:
                url = urljoin(base_url, line)
                segments.append(Segment(seq, url, duration, date, discontinuity, init_url))
            seq += 1
            if date is not None:
                date += round(duration * 1000)
            duration, discontinuity, gap, dated = None, False, False, False
    return MediaPlaylist(target or 6.0, segments, ended)
