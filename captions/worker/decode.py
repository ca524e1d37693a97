"""A segment's audio as the speech engines take it: 16 kHz mono signed 16-bit PCM, with PyAV.

One decoder and one resampler carry over from segment to segment, so the audio is continuous
across segment boundaries (a fresh AAC decoder per segment would put a click at every one);
:meth:`AudioDecoder.reset` starts afresh, for a discontinuity or a jump. Decoding is CPU work:
call :meth:`AudioDecoder.decode` from a thread.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av

SAMPLE_RATE = 16000


class Undecodable(Exception):
    """The segment could not be read or decoded (corrupt, truncated, an unknown codec)."""


@dataclass(frozen=True)
class Decoded:
    pcm: bytes  # 16 kHz mono s16le
    offset: float  # seconds from the segment's first sample (its program-date-time) to the audio


class AudioDecoder:
    def __init__(self) -> None:
        self._codec: av.CodecContext | None = None
        self._kind: tuple | None = None
        self._resampler: av.AudioResampler | None = None

    def reset(self) -> None:
        self._codec = self._kind = self._resampler = None

    def decode(self, data: bytes) -> Decoded:
        try:
            return self._decode(data)
        except (av.FFmpegError, ValueError, IndexError) as error:
            self.reset()  # whatever state it was left in is not worth continuing from
            raise Undecodable(str(error) or type(error).__name__) from None

    def _decode(self, data: bytes) -> Decoded:
        pcm = bytearray()
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise Undecodable("no audio in the segment")
            stream = container.streams.audio[0]
            self._prepare(stream)
            first: float | None = None
            for packet in container.demux(stream):
                if packet.size == 0:  # the demuxer's end-of-stream marker
                    continue
                if first is None and packet.pts is not None and packet.time_base is not None:
                    first = float(packet.pts * packet.time_base)
                for frame in self._codec.decode(packet):
                    for out in self._resample(frame):
                        pcm += bytes(out.planes[0])[: out.samples * 2]
            start = container.start_time  # microseconds: the earliest sample of any stream
        offset = 0.0 if first is None or start is None else max(0.0, first - start / 1e6)
        return Decoded(bytes(pcm), offset)

    def _prepare(self, stream: av.audio.stream.AudioStream) -> None:
        context = stream.codec_context
        kind = (context.name, context.sample_rate, context.channels, context.extradata)
        if kind == self._kind and self._codec is not None:
            return
        self.reset()
        codec = av.CodecContext.create(context.name, "r")
        if context.extradata:
            codec.extradata = context.extradata
        self._codec, self._kind = codec, kind

    def _resample(self, frame: av.AudioFrame) -> list[av.AudioFrame]:
        frame.pts = None  # times come from the playlist; the resampler need not check them
        if self._resampler is None:
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        try:
            return self._resampler.resample(frame)
        except ValueError:  # the audio's format changed mid-stream: start a new resampler
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            return self._resampler.resample(frame)
