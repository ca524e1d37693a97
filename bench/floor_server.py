"""The floor: a bare ``websockets`` server that ``broadcast()``s each caption to every client.

``broadcast()`` encodes the frame once and writes it to every socket, with nothing else going
on: no database, no channel layer, no framework. The bench drives it exactly like the site
(same clients, same message shape, same send time → arrival measure), so the ratio of a fan-out
figure to the floor beside it says what the site adds on this machine.

Viewers connect to ``/`` and get a ``history`` message first, as on the site. The bench sends
``{"count": K, "interval": S, "prefix": P}`` on ``/control``; the server broadcasts K captions S
seconds apart and answers ``{"sent": [[text, sent_time], ...]}``, ``sent_time`` being
``time.time()`` just before each ``broadcast()``.

    python -m bench.floor_server --port P    # prints READY ws://127.0.0.1:P/
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import signal
import time

from websockets.asyncio.server import ServerConnection, broadcast, serve

viewers: set[ServerConnection] = set()
seqs = itertools.count(1)


def encode(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


async def burst(count: int, interval: float, prefix: str) -> list[list]:
    loop = asyncio.get_running_loop()
    begin = loop.time()
    sent = []
    for i in range(count):
        await asyncio.sleep(max(0.0, begin + i * interval - loop.time()))
        seq = next(seqs)
        text = f"{prefix} {seq}"
        start = round(i * interval, 3)
        message = encode(
            {"type": "caption", "seq": seq, "text": text, "is_final": True,
             "start": start, "end": round(start + interval, 3)}
        )  # fmt: skip
        sent_time = time.time()
        broadcast(viewers, message)
        sent.append([text, sent_time])
    return sent


async def handle(ws: ServerConnection) -> None:
    if ws.request.path == "/control":
        async for command in ws:
            order = json.loads(command)
            sent = await burst(order["count"], order["interval"], order["prefix"])
            await ws.send(json.dumps({"sent": sent}))
        return
    await ws.send(encode({"type": "history", "captions": []}))
    viewers.add(ws)
    try:
        await ws.wait_closed()
    finally:
        viewers.discard(ws)


async def main(port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with serve(handle, "127.0.0.1", port, compression=None, backlog=1024) as server:
        bound = server.sockets[0].getsockname()[1]
        print(f"READY ws://127.0.0.1:{bound}/", flush=True)
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The floor for fan-out benchmarks.")
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(main(parser.parse_args().port))
