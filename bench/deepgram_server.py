"""The Deepgram double (``deepgram_standin``) as the bench runs it, with two additions.

- Every non-silent final says a new phrase (``bench <nonce> <n>``), topped up through the
  double's public ``announce()``, so a caption a viewer receives can be matched to the final
  that left the double. Each final's wall-clock send time (``SentFinal.sent_time``) is logged
  to ``--finals-log``, one JSON line each, as the double's own CLI does.
- The receive time of every audio frame is logged to ``--audio-log``: the frame's first
  8 bytes (the bench's captioner stamps a frame id there) and ``time.time()`` when the double
  read it. The double has no hook for this, so a subclass wraps ``_on_audio``; what the double
  does with the audio is unchanged.

    python -m bench.deepgram_server --port P --key K --segment 0.3 --interim-every 60 \\
        --finals-log finals.jsonl --audio-log audio.jsonl

prints ``READY ws://127.0.0.1:<port>/v1/listen`` and serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import secrets
import signal
import sys
import time
from typing import TextIO

from deepgram_standin import DeepgramDouble, SentFinal

PHRASE_STOCK = 2000


class BenchDouble(DeepgramDouble):
    def __init__(self, *args, audio_log: TextIO | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.audio_log = audio_log

    def _on_audio(self, stream, data: bytes):
        if self.audio_log is not None and data:
            received = time.time()
            self.audio_log.write(f'{{"id":"{data[:8].hex()}","t":{received!r}}}\n')
            self.audio_log.flush()
        return super()._on_audio(stream, data)


async def keep_phrases_stocked(double: DeepgramDouble) -> None:
    nonce = secrets.token_hex(3)
    numbers = itertools.count(1)
    while True:
        missing = PHRASE_STOCK - len(double.phrases)
        if missing > 0:
            double.announce(*(f"bench {nonce} {next(numbers)}" for _ in range(missing)))
        await asyncio.sleep(0.5)


async def serve(args: argparse.Namespace, finals: TextIO, audio: TextIO) -> None:
    def log_final(final: SentFinal) -> None:
        if final.text:
            finals.write(json.dumps({"text": final.text, "sent_time": final.sent_time}) + "\n")
            finals.flush()

    double = BenchDouble(
        args.key,
        port=args.port,
        segment=args.segment,
        interim_every=args.interim_every,
        idle_timeout=args.idle_timeout,
        on_final=log_final,
        audio_log=audio,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stocker = asyncio.create_task(keep_phrases_stocked(double))
    async with double:
        print(f"READY {double.url}", flush=True)
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
