"""``python -m deepgram_standin``, as make run, the browser tests and the benchmarks use it."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from deepgram_standin import silence, speech
from tests.deepgram_standin.wire import KEY, SITE_QUERY, finals, transcribe

ROOT = Path(__file__).resolve().parents[2]


async def run(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deepgram_standin",
        "--port=0",
        f"--key={KEY}",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(10):
        line = (await process.stdout.readline()).decode()
    assert line.startswith("READY ws://127.0.0.1:")
    return process, line.split()[1]


async def stop(process: asyncio.subprocess.Process) -> str:
    process.terminate()
    _, stderr = await process.communicate()
    assert process.returncode == 0
    return stderr.decode()


async def test_it_serves_the_phrases_it_is_given_and_logs_each_final(tmp_path):
    log = tmp_path / "finals.jsonl"
    process, url = await run("--phrases=Hello from the stand-in|unused", f"--finals-log={log}")
    try:
        assert url.endswith("/v1/listen")
        messages = await transcribe(url, speech(1.0, seed=10) + silence(0.5), SITE_QUERY)
    finally:
        said = await stop(process)

    texts = [m["channel"]["alternatives"][0]["transcript"] for m in finals(messages)]
    assert texts[0] == "Hello from the stand-in"
    logged = [json.loads(row) for row in log.read_text().splitlines()]
    assert logged[0]["text"] == "Hello from the stand-in"
    assert logged[0]["sent_time"] <= time.time()
    assert "realistic timing" in said  # it says which timing it uses


async def test_without_phrases_it_says_a_demo_text_not_filler():
    process, url = await run("--fast")  # fast: a final per second of sound
    try:
        messages = await transcribe(url, speech(5.0, seed=11), SITE_QUERY)
    finally:
        said = await stop(process)

    from deepgram_standin.cli import DEMO_PHRASES

    texts = [m["channel"]["alternatives"][0]["transcript"] for m in finals(messages)]
    assert texts == [*DEMO_PHRASES, DEMO_PHRASES[0]]  # then from the start again
    assert "fast timing" in said
