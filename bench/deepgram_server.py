"""The Deepgram stand-in (``deepgram_standin``) as the bench runs it: in fast timing, since
the bench measures the site alone, with two additions through the stand-in's public hooks.

- Every non-silent final says a new phrase (``bench <nonce> <n>``), topped up through
  ``announce()``, so a caption a viewer receives can be matched to the final that left the
  stand-in. Each final's wall-clock send time (``SentFinal.sent_time``) is logged to
  ``--finals-log``, one JSON line each, as the stand-in's own command line does.
- The receive time of every audio frame is logged to ``--audio-log`` (the ``on_audio`` hook):
  the frame's first 8 bytes (the bench's captioner stamps a frame id there) and
  ``time.time()`` when the stand-in read it.

    python -m bench.deepgram_server --port P --key K --segment 0.3 --interim-every 60 \\
        --finals-log finals.jsonl --audio-log audio.jsonl

prints ``READY ws://127.0.0.1:<port>/v1/listen`` and serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import secrets
import signal
import sys
import time
from typing import TextIO

from deepgram_standin import FAST, DeepgramStandin, SentFinal, Timing

PHRASE_STOCK = 2000


def bench_timing(segment: float, interim_every: float = 60.0) -> Timing:
    """Fast timing (no processing delay, no intake cap) with a final per ``segment`` seconds
    of the bench's continuous audio and, with the default, no interim results."""
    return dataclasses.replace(FAST, segment=segment, interim_every=interim_every)


async def keep_phrases_stocked(standin: DeepgramStandin) -> None:
    nonce = secrets.token_hex(3)
    numbers = itertools.count(1)
    while True:
        missing = PHRASE_STOCK - len(standin.phrases)
        if missing > 0:
            standin.announce(*(f"bench {nonce} {next(numbers)}" for _ in range(missing)))
        await asyncio.sleep(0.5)


async def serve(args: argparse.Namespace, finals: TextIO, audio: TextIO) -> None:
    def log_final(final: SentFinal) -> None:
        if final.text:
            finals.write(json.dumps({"text": final.text, "sent_time": final.sent_time}) + "\n")
            finals.flush()

    def log_audio(connection: int, frame: bytes) -> None:
        if frame:
            received = time.time()
            audio.write(f'{{"id":"{frame[:8].hex()}","t":{received!r}}}\n')
            audio.flush()

    standin = DeepgramStandin(
        args.key,
        port=args.port,
        timing=bench_timing(args.segment, args.interim_every),
        idle_timeout=args.idle_timeout,
        on_final=log_final,
        on_audio=log_audio,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stocker = asyncio.create_task(keep_phrases_stocked(standin))
    async with standin:
        print(f"READY {standin.url}", flush=True)
        print(f"Deepgram stand-in: {standin.timing.describe()}", file=sys.stderr, flush=True)
        await stop.wait()
    stocker.cancel()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", default="bench-key")
    parser.add_argument("--segment", type=float, default=0.3)
    parser.add_argument("--interim-every", type=float, default=60.0)
    parser.add_argument("--idle-timeout", type=float, default=10.0)
    parser.add_argument("--finals-log", required=True)
    parser.add_argument("--audio-log", required=True)
    args = parser.parse_args(argv)
    with (
        open(args.finals_log, "a", encoding="utf-8") as finals,
        open(args.audio_log, "a", encoding="utf-8") as audio,
    ):
        asyncio.run(serve(args, finals, audio))
    sys.exit(0)


if __name__ == "__main__":
    main()
