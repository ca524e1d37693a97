"""``python -m bench.phrase_latency`` (``make bench-phrases``): how long after a phrase ends
its final caption reaches a viewer, with the Deepgram stand-in at Deepgram's own timing
(endpointing, processing delay, intake speed), and how much of that is the stand-in's.

A captioner speaks phrases in real time, each followed by a pause (the end of a phrase, for
Deepgram's endpointing); a viewer on the same site listens. For each phrase: when its last
audio byte was sent, when the stand-in sent its final, when the viewer received it. All three
times are taken on this machine's monotonic clock in one process, so no clocks are compared.
Writes docs/phrase-latency.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

from bench.servers import CONFIGS, ROOT, Daphne, Site
from bench.web import session_for
from deepgram_standin import DeepgramStandin, silence, speech
from deepgram_standin.timing import REALISTIC

FRAME = 3200  # 100 ms of 16 kHz 16-bit mono
OUT = ROOT / "docs" / "phrase-latency.md"


def percentile_pair(values: list[float]) -> tuple[float, float]:
    return percentile(values, 50), percentile(values, 95)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(phrases: int, speech_seconds: float, pause: float) -> dict:
    sent_at: dict[str, float] = {}  # final text -> stand-in send (monotonic)
    async with DeepgramStandin(
        "bench-key",
        phrases=[f"Phrase number {n}." for n in range(1, phrases + 1)],
        timing=REALISTIC,
        on_final=lambda final: sent_at.setdefault(final.text, final.sent_monotonic),
    ) as standin:
        workdir = Path(tempfile.mkdtemp(prefix="phrase-latency-"))
        site = Site(workdir, standin.url, {"DEEPGRAM_API_KEY": "bench-key"})
        await asyncio.to_thread(site.prepare)
        codes = await asyncio.to_thread(site.create_stream, "phrases")
        daphne = await asyncio.to_thread(Daphne, site, CONFIGS["memory"], "phrases")
        try:
            return await measure(daphne.url, codes, phrases, speech_seconds, pause, sent_at)
        finally:
            await asyncio.to_thread(daphne.stop)
            await asyncio.to_thread(site.drop_database)


async def measure(url, codes, phrases, speech_seconds, pause, sent_at) -> dict:
    ws_base = url.replace("http://", "ws://")
    viewer_cookie = await session_for(url, codes["viewer_code"])
    captioner_cookie = await session_for(url, codes["captioner_code"])
    received: dict[str, float] = {}

    async def listen(ws) -> None:
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "caption" and message["is_final"]:
                received.setdefault(message["text"], time.monotonic())

    def headers(cookie: str) -> dict[str, str]:
        return {"Origin": url, "Cookie": f"sessionid={cookie}"}

    async with (
        connect(
            f"{ws_base}/ws/watch/phrases/captions/", additional_headers=headers(viewer_cookie)
        ) as viewer,
        connect(
            f"{ws_base}/ws/watch/phrases/audio/", additional_headers=headers(captioner_cookie)
        ) as captioner,
    ):
        listener = asyncio.create_task(listen(viewer))
        ended: list[float] = []  # when each phrase's last audio byte left, in order
        start = time.monotonic()
        sent = 0.0
        for n in range(phrases):
            for part, is_speech in (
                (speech(speech_seconds, seed=n), True),
                (silence(pause), False),
            ):
                for offset in range(0, len(part), FRAME):
                    await captioner.send(part[offset : offset + FRAME])
                    sent += len(part[offset : offset + FRAME]) / 32000
                    await asyncio.sleep(max(0.0, start + sent - time.monotonic()))  # real time
                if is_speech:
                    ended.append(time.monotonic())
        await captioner.send(json.dumps({"type": "stop"}))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(listener), timeout=15)  # until stop closes it
        listener.cancel()

    texts = [f"Phrase number {n}." for n in range(1, phrases + 1)]
    pairs = [(ended[i], sent_at.get(t), received.get(t)) for i, t in enumerate(texts)]
    complete = [(e, s, r) for e, s, r in pairs if s is not None and r is not None]
    return {
        "phrases": phrases,
        "finals_received": len(complete),
        "total": [r - e for e, _, r in complete],
        "standin": [s - e for e, s, _ in complete],
        "site": [r - s for _, s, r in complete],
        "speech_seconds": speech_seconds,
        "pause": pause,
    }


def write(result: dict, command: str) -> None:
    def row(label: str, values: list[float]) -> str:
        p50, p95 = percentile(values, 50), percentile(values, 95)
        return (
            f"| {label} | {p50 * 1000:.0f} ms | {p95 * 1000:.0f} ms | {max(values) * 1000:.0f} ms |"
        )

    lines = [
        "# From the end of a phrase to its caption at a viewer",
        "",
        f"Written by `{command}` on {time.strftime('%Y-%m-%d')}.",
        "",
        f"A captioner speaks {result['phrases']} phrases of {result['speech_seconds']} s in real "
        f"time, each followed by {result['pause']} s of silence; one viewer on the same site "
        "(one Daphne process, in-memory channel layer, PostgreSQL). The Deepgram stand-in runs "
        f"at Deepgram's own timing ({REALISTIC.name}): {REALISTIC.describe()}. "
        "Endpointing is what the site asks for (300 ms). "
        f"{result['finals_received']} of {result['phrases']} finals arrived.",
        "",
        "| share | p50 | p95 | max |",
        "|---|---|---|---|",
        row("phrase end → final at the viewer", result["total"]),
        row("of which the stand-in (endpointing + processing delay)", result["standin"]),
        row("of which the site (store, fan-out, socket)", result["site"]),
        "",
        "All times come from one monotonic clock in the measuring process. The stand-in's share "
        "is what Deepgram itself would take; the site's is what this project adds.",
        "",
    ]
    OUT.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.phrase_latency", description=__doc__)
    parser.add_argument("--phrases", type=int, default=30)
    parser.add_argument("--speech-seconds", type=float, default=1.5)
    parser.add_argument("--pause", type=float, default=0.8)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.phrases, args.speech_seconds, args.pause))
    Path(tempfile.gettempdir(), "phrase-latency.json").write_text(json.dumps(result))
    if not result["total"]:
        raise SystemExit("no final arrived; see the logs under /tmp/phrase-latency-*")
    write(result, " ".join(["python -m bench.phrase_latency", *(argv or [])]))
    print(OUT.read_text())


if __name__ == "__main__":
    main()
