"""Daphne's sockets written directly (captions/frames.py): a viewer that stops reading fills its
socket, the rest is queued, and every caption still arrives whole and in order."""

from __future__ import annotations

import asyncio
import json
import socket

from websockets.asyncio.client import connect

from tests.live_site import session_for
from tests.multiprocess.clients import Viewer, headers, wait_until, ws_url
from tests.multiprocess.conftest import PUBSUB

COUNT = 1500
TEXT_SIZE = 4000  # 1,500 of 4 kB: more than a loopback socket's largest send buffer (4 MiB)

BROADCAST = """
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from captions.events import broadcast_event

layer = get_channel_layer()

async def send_all():
    for seq in range(1, params["count"] + 1):
        text = f"{seq:06d} " + "x" * params["size"]
        caption = {"type": "caption", "seq": seq, "text": text, "is_final": True,
                   "start": seq, "end": seq + 0.5}
        await layer.group_send(params["group"], broadcast_event(caption))

async_to_sync(send_all)()
result = params["count"]
"""


def tiny_receive_buffer(port: int) -> socket.socket:
    """A client socket that holds a few kB: once its reader stops, the server's side fills."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    return sock


async def test_a_viewer_that_stops_reading_catches_up_with_every_caption_in_order(cluster):
    (site,) = cluster(PUBSUB, processes=1)
    stream = cluster.stream
    session = session_for(site.url, stream.viewer_code)
    reader = Viewer(site.url, stream.slug, session)
    reader.start()
    await asyncio.wait_for(reader.connected.wait(), 10)
    port = int(site.url.rsplit(":", 1)[1])
    stalled = await connect(
        ws_url(site.url, f"/ws/watch/{stream.slug}/captions/"),
        sock=tiny_receive_buffer(port),
        additional_headers=headers(site.url, session),
        max_queue=1,  # the client library stops reading from the socket at once
        open_timeout=5,
    )
    assert [json.loads(await stalled.recv())["type"] for _ in range(2)] == ["history", "status"]

    group = site.django("result = __import__('livestream.models').models.Stream.objects"
                        f".get(slug='{stream.slug}').group_name")  # fmt: skip
    sent = await asyncio.to_thread(site.django, BROADCAST, group=group, count=COUNT, size=TEXT_SIZE)
    assert sent == COUNT

    await wait_until(lambda: len(reader.finals) >= COUNT, within=60)  # nobody was held up
    assert reader.order == list(range(1, COUNT + 1))

    received = []
    for _ in range(COUNT):
        received.append(json.loads(await asyncio.wait_for(stalled.recv(), 30)))
    await stalled.close()
    await reader.stop()
    assert [m["seq"] for m in received] == list(range(1, COUNT + 1))
    assert all(m["text"] == f"{m['seq']:06d} " + "x" * TEXT_SIZE for m in received)
    assert "captions are written to Daphne's sockets directly" in site.log()
