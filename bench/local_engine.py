"""``python -m bench.local_engine`` (``make bench-local``): the local speech engine's word error
rate, real-time factor and final delays, on three clips; writes docs/local-engine.md.

- *test clip*: espeak-ng speech, the clip ``tests/captions/test_local_engine.py`` asserts on;
- *other clip*: espeak-ng speech, looked at while tuning, not asserted on;
- *recording*: a person reading a novel aloud (``bench/audio/``), used for nothing else: the
  one figure here that no choice in the engine was made to improve.

Each clip, with a second of silence either side, is decoded ``--runs`` times as fast as the
machine allows (real-time factor: decoding time over audio time, by the wall clock and by this
process's CPU time), then sent once more at real time, as a captioner's microphone or a stream
sends it, for the delay from a final's last word reaching the engine to the final.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from bench.machine import checkout, describe
from captions.speech.local import SAMPLE_RATE
from captions.speech.local_measure import (
    OTHER_CLIP,
    TEST_CLIP,
    espeak,
    final_delays,
    read_audio,
    transcribe,
    word_error_rate,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "local-engine.md"
RECORDING = ROOT / "bench" / "audio" / "sense-and-sensibility.flac"


@dataclass
class Figures:
    name: str
    audio_seconds: float = 0.0
    words: int = 0
    wer: list[float] = field(default_factory=list)
    rtf_wall: list[float] = field(default_factory=list)
    rtf_cpu: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    hypothesis: str = ""


def clips() -> list[tuple[str, bytes, str]]:
    reference = RECORDING.with_suffix(".txt").read_text().strip()
    return [
        ("test clip (espeak-ng)", espeak(TEST_CLIP), TEST_CLIP),
        ("other clip (espeak-ng)", espeak(OTHER_CLIP), OTHER_CLIP),
        ("recording (a person reading)", read_audio(RECORDING), reference),
    ]


async def measure(name: str, speech: bytes, reference: str, runs: int) -> Figures:
    pad = bytes(SAMPLE_RATE * 2)  # a second of silence each side
    pcm = pad + speech + pad
    figures = Figures(name, len(pcm) / (SAMPLE_RATE * 2), len(reference.split()))
    for run in range(runs):
        finals, seconds, cpu = await transcribe(pcm)
        figures.rtf_wall.append(seconds / figures.audio_seconds)
        figures.rtf_cpu.append(cpu / figures.audio_seconds)
        figures.load.append(os.getloadavg()[0])
        figures.hypothesis = " ".join(final.text for final in finals)
        figures.wer.append(word_error_rate(reference, figures.hypothesis))
        print(f"{name}, run {run + 1}: WER {figures.wer[-1]:.2f}, RTF {figures.rtf_wall[-1]:.2f}")
    figures.delays = await final_delays(pcm)
    return figures


def span(values: list[float], unit: str = "", digits: int = 2) -> str:
    low, high = min(values), max(values)
    if round(low, digits) == round(high, digits):
        return f"{low:.{digits}f}{unit}"
    return f"{low:.{digits}f}–{high:.{digits}f}{unit}"


def write(results: list[Figures], runs: int, command: str) -> None:
    facts = describe()
    header = "| | " + " | ".join(f.name for f in results) + " |"

    def row(label: str, cell) -> str:
        return f"| {label} | " + " | ".join(cell(f) for f in results) + " |"

    lines = [
        "# The local speech engine, measured",
        "",
        f"Written by `{command}` on {time.strftime('%Y-%m-%d')} at commit {checkout()}: "
        f"PocketSphinx {version('pocketsphinx')}, {facts['CPU']}, {facts['cores']} cores. "
        "How the engine works: `docs/speech-engine.md`.",
        "",
        header,
        "|---" * (len(results) + 1) + "|",
        row("audio (with 1 s of silence each side)", lambda f: f"{f.audio_seconds:.1f} s"),
        row("words said", lambda f: str(f.words)),
        row("word error rate", lambda f: span(f.wer)),
        row(f"real-time factor, wall clock ({runs} runs)", lambda f: span(f.rtf_wall)),
        row("real-time factor, CPU time", lambda f: span(f.rtf_cpu)),
        row(
            "final after its last word's audio arrived (real time): median",
            lambda f: f"{statistics.median(f.delays):.2f} s" if f.delays else "no final",
        ),
        row("… worst", lambda f: f"{max(f.delays):.2f} s" if f.delays else "no final"),
        row("machine load average meanwhile", lambda f: span(f.load, digits=1)),
        "",
        "Word error rate: `jiwer`, after lower-casing and removing punctuation; decoding is "
        "deterministic, so every run gives the same text. Real-time factor below 1 is faster than "
        "real time; the wall-clock figure grows with whatever else the machine runs (its load "
        "average is given), the CPU-time figure much less. The delays are a single real-time "
        "pass: a final needs about 0.3 s of pause to be heard as one (the endpointer's window), "
        "and a session's first final is decoded twice.",
        "",
        "The clips are where they say: the espeak-ng ones are made from the texts in "
        "`captions/speech/local_measure.py`; the recording and its provenance are in "
        "`bench/audio/` (a LibriVox reading, public domain). The test clip and the other clip "
        "were looked at when the engine's settings were chosen; the recording was added "
        "afterwards and changed nothing.",
        "",
        "What was recognised:",
        "",
        *(f"- {f.name}: “{f.hypothesis}”" for f in results),
        "",
    ]
    OUT.write_text("\n".join(lines))


async def run(runs: int) -> list[Figures]:
    return [await measure(name, pcm, text, runs) for name, pcm, text in clips()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.local_engine", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="decoding runs per clip")
    args = parser.parse_args(argv)
    results = asyncio.run(run(args.runs))
    write(
        results, runs=args.runs, command=" ".join(["python -m bench.local_engine", *(argv or [])])
    )
    print(OUT.read_text())


if __name__ == "__main__":
    main()
