"""``python -m deepgram_standin``: the stand-in as a process, for ``make run``, browser and
multi-process tests, and the benchmarks. Prints ``READY ws://HOST:PORT/v1/listen`` once
listening and serves until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from typing import TextIO

from deepgram_standin.records import SentFinal
from deepgram_standin.server import DeepgramStandin
from deepgram_standin.timing import FAST, REALISTIC

# What it says when started without --phrases (said in turn, then again from the start).
DEMO_PHRASES = [
    "This is the local Deepgram stand-in.",
    "It does not recognise speech.",
    "Each pause in what you say ends a caption.",
    "Set DEEPGRAM_API_KEY to caption with Deepgram itself.",
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m deepgram_standin",
        description="A local stand-in for Deepgram's live speech-to-text API. It does not "
        "recognise speech: each final says the next phrase, and once they are used up it "
        "says them again from the start.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--key", default="test-key", help="the API key it accepts")
    parser.add_argument(
        "--phrases", default=None, help='what finals say, "a|b|c" (default: a short demo text)'
    )
    parser.add_argument(
        "--no-phrases",
        action="store_true",
        help="say words derived from the audio bytes instead (what the tests check)",
    )
    parser.add_argument("--idle-timeout", type=float, default=10.0)
    parser.add_argument(
        "--fast",
        action="store_true",
        help=f"fast timing, for benchmarks of the site alone ({FAST.describe()})",
    )
    defaults = REALISTIC
    parser.add_argument(
        "--segment",
        type=float,
        help=f"seconds of continuous speech per final (default {defaults.segment:g})",
    )
    parser.add_argument(
        "--interim-every",
        type=float,
        help=f"seconds of audio per interim (default {defaults.interim_every:g})",
    )
    parser.add_argument(
        "--delay", type=float, help=f"processing delay in seconds (default {defaults.delay:g})"
    )
    parser.add_argument(
        "--intake-ratio",
        type=float,
        help=f"read audio at most this × real time, 0: no cap (default {defaults.intake_ratio:g})",
    )
    parser.add_argument("--silence-rms", type=float, default=200.0)
    parser.add_argument("--extras", action="store_true", help="also send an unknown type")
    parser.add_argument("--finals-log", help="append one JSON line per final sent to this file")
    parser.add_argument(
        "--stdin-phrases", action="store_true", help="announce each line read on stdin"
    )
    return parser.parse_args(argv)


def phrases_from(args: argparse.Namespace) -> list[str]:
    if args.no_phrases:
        return []
    if args.phrases is None:
        return [] if args.stdin_phrases else DEMO_PHRASES
    return [p.strip() for p in args.phrases.split("|") if p.strip()]


async def serve(args: argparse.Namespace, log_file: TextIO | None) -> None:
    def log_final(final: SentFinal) -> None:
        if log_file is not None:
            row = {"text": final.text, "start": final.start, "end": final.end,
                   "connection": final.connection, "sent_time": final.sent_time,
                   "sent_monotonic": final.sent_monotonic}  # fmt: skip
            log_file.write(json.dumps(row) + "\n")
            log_file.flush()

    standin = DeepgramStandin(
        args.key,
        host=args.host,
        port=args.port,
        phrases=phrases_from(args),
        idle_timeout=args.idle_timeout,
        timing=FAST if args.fast else REALISTIC,
        segment=args.segment,
        interim_every=args.interim_every,
        delay=args.delay,
        intake_ratio=args.intake_ratio,
        silence_rms=args.silence_rms,
        extras=args.extras,
        on_final=log_final,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with standin:
        sys.stdout.write(f"READY {standin.url}\n")
        sys.stdout.flush()
        sys.stderr.write(f"Deepgram stand-in: {standin.timing.describe()}\n")
        reader = asyncio.create_task(_read_phrases(standin)) if args.stdin_phrases else None
        await stop.wait()
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def _read_phrases(standin: DeepgramStandin) -> None:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if text := line.decode().strip():
            standin.announce(text)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.finals_log:
        with open(args.finals_log, "a", encoding="utf-8") as log_file:
            asyncio.run(serve(args, log_file))
    else:
        asyncio.run(serve(args, None))
