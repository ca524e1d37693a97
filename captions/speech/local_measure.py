"""Measure the local engine: word error rate and real-time factor, on speech from espeak-ng.

    .venv/bin/python -m captions.speech.local_measure                 # the clips below
    .venv/bin/python -m captions.speech.local_measure --wav talk.wav --text "what is said"
    .venv/bin/python -m captions.speech.local_measure --live          # and the final delays

``python -m bench.local_engine`` (``make bench-local``) measures these and a recording of a
person, and writes docs/local-engine.md.

Needs espeak-ng for the built-in clips and ``jiwer`` (requirements-dev.txt). The audio goes in
all at once for the real-time factor (how fast this machine decodes, not how fast audio
arrives); ``--live`` then sends it again at real time, as a captioner does.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import io
import math
import os
import subprocess
import sys
import time
import wave
from pathlib import Path

from captions.speech.base import Transcript
from captions.speech.local import SAMPLE_RATE, LocalEngine

# The clip tests/captions/test_local_engine.py asserts on, and one nothing was tuned on.
TEST_CLIP = (
    "Welcome to the live stream. Today we will talk about the weather and the news. "
    "Thank you for joining us this morning."
)
OTHER_CLIP = (
    "The meeting starts in five minutes. Please find a seat near the front. "
    "Our first speaker will explain the new project and answer your questions."
)
VOICE = "en-us"
WORDS_PER_MINUTE = 130


def espeak(text: str, *, voice: str = VOICE, speed: int = WORDS_PER_MINUTE) -> bytes:
    """``text`` spoken by espeak-ng, as 16 kHz mono 16-bit PCM."""
    wav = subprocess.run(  # noqa: S603 - our own arguments
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],  # noqa: S607
        capture_output=True,
        check=True,
    ).stdout
    # Writing to a pipe, espeak-ng puts a placeholder length in the header; reading stops at
    # the end of the data anyway.
    return _wav_to_pcm(wave.open(io.BytesIO(wav)))


def read_audio(path: Path) -> bytes:
    """Any audio file PyAV reads (WAV, FLAC, Ogg, …), as 16 kHz mono 16-bit PCM."""
    from captions.worker.decode import AudioDecoder

    return AudioDecoder().decode(path.read_bytes()).pcm


def _wav_to_pcm(wav: wave.Wave_read) -> bytes:
    if wav.getsampwidth() != 2:
        raise ValueError("need 16-bit PCM")
    samples = array.array("h", wav.readframes(wav.getnframes()))
    channels = wav.getnchannels()
    if channels > 1:  # downmix
        samples = array.array(
            "h",
            (sum(samples[i : i + channels]) // channels for i in range(0, len(samples), channels)),
        )
    return resample(samples, wav.getframerate()).tobytes()


def resample(samples: array.array, rate: int) -> array.array:
    """To 16 kHz by linear interpolation: crude, but the speech stays recognisable (espeak-ng
    speaks at 22,050 Hz and hardly above 5 kHz)."""
    if rate == SAMPLE_RATE:
        return samples
    count = len(samples) * SAMPLE_RATE // rate
    step = rate / SAMPLE_RATE
    last = len(samples) - 1
    out = array.array("h", bytes(2 * count))
    for i in range(count):
        position = i * step
        j = int(position)
        a, b = samples[j], samples[min(j + 1, last)]
        out[i] = round(a + (b - a) * (position - j))
    return out


async def transcribe(pcm: bytes, **tuning: float) -> tuple[list[Transcript], float, float]:
    """Every final for ``pcm`` (sent at once), the seconds decoding took, and the CPU seconds
    this process used meanwhile (which other work on the machine does not inflate)."""
    session = await LocalEngine(max_backlog=len(pcm) / 32000 + 1, **tuning).open(language="en")
    started, cpu = time.perf_counter(), time.process_time()
    await session.send(pcm)
    finals: list[Transcript] = []

    async def collect() -> None:
        async for event in session.results():
            if isinstance(event, Transcript) and event.is_final:
                finals.append(event)

    collector = asyncio.create_task(collect())
    await session.finish()
    await collector
    return finals, time.perf_counter() - started, time.process_time() - cpu


async def final_delays(pcm: bytes, frame: int = 3200) -> list[float]:
    """Send ``pcm`` in real time; for each final, the seconds from the end of its last word's
    audio reaching the engine to the final coming out."""
    session = await LocalEngine().open(language="en")
    loop = asyncio.get_running_loop()
    started = loop.time()
    delays: list[float] = []

    async def collect() -> None:
        async for event in session.results():
            if isinstance(event, Transcript) and event.is_final:
                # the frame holding the last word was sent at its end, rounded up to a frame
                sent = started + math.ceil(event.end * SAMPLE_RATE * 2 / frame) * frame / 32000
                delays.append(loop.time() - sent)

    collector = asyncio.create_task(collect())
    for n, i in enumerate(range(0, len(pcm), frame)):
        await asyncio.sleep(max(0.0, started + (n + 1) * frame / 32000 - loop.time()))
        await session.send(pcm[i : i + frame])
    await session.finish()
    await collector
    return delays


def word_error_rate(reference: str, hypothesis: str) -> float:
    import jiwer

    normalise = jiwer.Compose(
        [
            jiwer.ToLowerCase(),
            jiwer.RemovePunctuation(),
            jiwer.RemoveMultipleSpaces(),
            jiwer.Strip(),
            jiwer.ReduceToListOfListOfWords(),
        ]
    )
    return jiwer.wer(
        reference, hypothesis, reference_transform=normalise, hypothesis_transform=normalise
    )


async def measure(name: str, pcm: bytes, reference: str, *, live: bool = False) -> None:
    pcm = bytes(SAMPLE_RATE * 2) + pcm + bytes(SAMPLE_RATE * 2)  # a second of silence each side
    finals, seconds, cpu = await transcribe(pcm)
    audio = len(pcm) / (SAMPLE_RATE * 2)
    hypothesis = " ".join(f.text for f in finals)
    print(f"{name}: {audio:.1f} s of audio decoded in {seconds:.2f} s")  # noqa: T201
    print(  # noqa: T201
        f"  real-time factor {seconds / audio:.2f} (CPU time: {cpu / audio:.2f}), "
        f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"  word error rate {word_error_rate(reference, hypothesis):.2f}")  # noqa: T201
    for final in finals:
        print(f"  {final.start:6.2f}-{final.end:6.2f}  {final.text}")  # noqa: T201
    if live:
        delays = sorted(await final_delays(pcm))
        print(  # noqa: T201
            f"  sent in real time: finals {delays[len(delays) // 2]:.2f} s (median), "
            f"{delays[-1]:.2f} s (worst) after the last word's audio arrived"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--wav", type=Path, help="an audio file (WAV, FLAC, …) instead of espeak-ng"
    )
    parser.add_argument("--text", help="what the WAV file says")
    parser.add_argument(
        "--live", action="store_true", help="also send the audio in real time: final delays"
    )
    args = parser.parse_args(argv)
    if args.wav:
        if not args.text:
            parser.error("--wav needs --text")
        asyncio.run(measure(args.wav.name, read_audio(args.wav), args.text, live=args.live))
        return
    for name, text in (("test clip", TEST_CLIP), ("other clip", OTHER_CLIP)):
        asyncio.run(measure(name, espeak(text), text, live=args.live))


if __name__ == "__main__":
    sys.exit(main())
