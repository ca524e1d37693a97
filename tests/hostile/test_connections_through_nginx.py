"""Connection exhaustion (issue 8, item 3) with the shipped nginx config in front, through real
processes and real sockets.

With deploy/nginx/livestream.conf, run as it ships (see tests/hostile/nginx.py), in front of two
Daphne processes: half-open handshakes are dropped at its header timeout while real viewers
connect, one address cannot hold more websockets than its cap or open them faster than its
rate (429), and the site sees each client's address through ``X-Forwarded-For``.
tests/hostile/test_connections_daphne_alone.py has the site's own limits without nginx.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.hostile.many_sockets import CAPTIONS, OTHER_ADDRESS, close_all, open_captions
from tests.hostile.nginx import SHIPPED_CONFIG, Nginx, start_nginx
from tests.live_site import LiveSite, session_for
from tests.multiprocess.clients import headers, speak, ws_url
from tests.multiprocess.conftest import PHRASES, PUBSUB

pytestmark = pytest.mark.usefixtures("many_descriptors")


# The shipped client_header_timeout is 10 s; this leaves room for a slow machine, and fails
# nginx's default of 60 s.
HALF_OPEN_DROPPED_WITHIN_S = 40
# Two Daphne processes (the cluster's default) behind nginx, on a Redis of the test's own.
BEHIND_NGINX = {"TRUSTED_PROXY_COUNT": "1"}


def shipped(pattern: str, what: str) -> int:
    """A number in the shipped config: the tests hold nginx to the values it ships with."""
    found = re.search(pattern, SHIPPED_CONFIG.read_text(), re.M)
    assert found, f"the shipped nginx config has no {what}"
    return int(found.group(1))


def websockets_per_address() -> int:
    return shipped(r"^\s*limit_conn livestream_ws_conn (\d+);", "websocket cap per address")


def handshake_burst() -> int:
    return shipped(r"^\s*limit_req zone=livestream_ws_req burst=(\d+)", "handshake rate")


@pytest.fixture
def front(tmp_path) -> Iterator[Callable[..., Nginx]]:
    """``front(sites)``: the shipped nginx config in front of these Daphne processes."""
    started: list[Nginx] = []

    def start(sites: list[LiveSite]) -> Nginx:
        upstreams = [site.url.removeprefix("http://") for site in sites]
        nginx = start_nginx(tmp_path / f"nginx-{len(started)}", upstreams)
        started.append(nginx)
        return nginx

    yield start
    for nginx in started:
        nginx.stop()
        notable = [line for line in nginx.error_log().splitlines() if "[info]" not in line]
        print(f"--- nginx {nginx.url}\n" + "\n".join(notable[-100:]))  # noqa: T201


# --- Clients ------------------------------------------------------------------------------------


async def open_many(
    base_url: str, session: str, count: int, at_once: int = 50
) -> list[tuple[int, ClientConnection | None]]:
    limit = asyncio.Semaphore(at_once)

    async def one() -> tuple[int, ClientConnection | None]:
        async with limit:
            return await open_captions(base_url, session)

    return await asyncio.gather(*(one() for _ in range(count)))


async def first_message(base_url: str, session: str, source: str = "127.0.0.1") -> dict:
    """What a viewer's page gets first on its captions socket (the history)."""
    status, ws = await open_captions(base_url, session, source)
    assert status == 101, f"a viewer from {source} was refused ({status})"
    try:
        return json.loads(await asyncio.wait_for(ws.recv(), 10))
    finally:
        await ws.close()


async def open_captioner_from(base_url: str, session: str, source: str) -> ClientConnection:
    """The captioner's audio socket from ``source``, once captions are live."""
    ws = await connect(
        ws_url(base_url, "/ws/watch/talk/audio/"),
        additional_headers=headers(base_url, session),
        open_timeout=20,
        local_addr=(source, 0),
    )
    async with asyncio.timeout(20):
        while json.loads(await ws.recv()).get("state") != "live":
            pass
    return ws


async def first_final(viewer: ClientConnection) -> str:
    """The text of the first final caption a viewer's socket receives."""
    async with asyncio.timeout(20):
        while True:
            message = json.loads(await viewer.recv())
            if message["type"] == "caption" and message["is_final"]:
                return message["text"]


async def raw_handshake(port: int, source: str = "127.0.0.1") -> int:
    """A bare websocket handshake (no session, no Origin): the HTTP status it is answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        writer.write(
            f"GET {CAPTIONS} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        status_line = await asyncio.wait_for(reader.readline(), 30)
        return int(status_line.split()[1])
    finally:
        writer.close()


class HalfOpen:
    """Connections that start a request and never finish its headers, as a slowloris client
    holds them: some send part of a websocket handshake, some nothing at all, and some go on
    sending one more header byte every second. Each waits until the server drops it."""

    PARTIAL = (
        b"GET /ws/watch/talk/captions/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nX-Padding: "
    )

    def __init__(self, port: int) -> None:
        self.port = port
        self.tasks: list[asyncio.Task] = []

    async def open(self, count: int, *, silent: int, trickling: int) -> None:
        limit = asyncio.Semaphore(200)

        async def connect_one(first_bytes: bytes, trickle: bool) -> None:
            async with limit:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.write(first_bytes)
                await writer.drain()
            self.tasks.append(asyncio.create_task(self._held(reader, writer, trickle)))

        kinds = [(b"", False)] * silent + [(self.PARTIAL, True)] * trickling
        kinds += [(self.PARTIAL, False)] * (count - len(kinds))
        await asyncio.gather(*(connect_one(*kind) for kind in kinds))

    @staticmethod
    async def _held(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, trickle: bool):
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(1024), 1 if trickle else None)
                except TimeoutError:
                    writer.write(b"x")
                    await writer.drain()
                    continue
                if not data:
                    return
        except ConnectionError:
            return
        finally:
            writer.close()

    @property
    def held(self) -> int:
        return sum(not task.done() for task in self.tasks)

    async def all_dropped(self, within: float) -> None:
        _, pending = await asyncio.wait(self.tasks, timeout=within)
        assert not pending, f"{len(pending)} half-open connections still held after {within} s"

    def abandon(self) -> None:
        for task in self.tasks:
            task.cancel()


# --- Through nginx ------------------------------------------------------------------------------


async def test_captions_reach_viewers_through_nginx_which_tells_the_site_their_address(
    cluster, private_redis, front
):
    # The site's own cap is set low here to show whose address it counts: every connection
    # reaches Daphne from nginx's 127.0.0.1, so only X-Forwarded-For tells the clients apart.
    sites = cluster(PUBSUB, redis_url=private_redis.url, WS_MAX_PER_IP="2", **BEHIND_NGINX)
    nginx = front(sites)
    stream = cluster.stream
    session = await asyncio.to_thread(session_for, nginx.url, stream.viewer_code)

    opened = [await open_captions(nginx.url, session) for _ in range(6)]
    viewers = [ws for _, ws in opened if ws is not None]
    # Two processes, two each: the rest refused by the site (403), not by nginx (429).
    assert Counter(status for status, _ in opened) == {101: 4, 403: 2}
    other, ws = await open_captions(nginx.url, session, OTHER_ADDRESS)
    assert other == 101, "a second address was counted as the first one"
    viewers.append(ws)
    for site in sites:
        assert "WSCONNECT /ws/watch/talk/captions/" in site.log(), "one process got nothing"

    captioner_session = await asyncio.to_thread(session_for, nginx.url, stream.captioner_code)
    captioner = await open_captioner_from(nginx.url, captioner_session, "127.0.0.3")
    try:
        await speak(captioner, 3, seed=1)
        finals = await asyncio.gather(*(first_final(viewer) for viewer in viewers))
        assert finals == [PHRASES[0]] * len(viewers)
    finally:
        await close_all([captioner, *viewers])


async def test_half_open_handshakes_are_dropped_while_viewers_connect(
    cluster, private_redis, front
):
    sites = cluster(PUBSUB, redis_url=private_redis.url, **BEHIND_NGINX)
    nginx = front(sites)
    half_open = HalfOpen(nginx.port)
    try:
        await half_open.open(2000, silent=100, trickling=100)
        # Meanwhile, someone arrives: enters the code and opens captions; others watching.
        session = await asyncio.to_thread(session_for, nginx.url, cluster.stream.viewer_code)
        arrivals = await asyncio.gather(*(first_message(nginx.url, session) for _ in range(20)))
        assert [message["type"] for message in arrivals] == ["history"] * 20
        assert half_open.held == 2000, "the half-open handshakes were not all held meanwhile"
        # Not one of them reaches Daphne: nginx waits for the headers and then gives up.
        await half_open.all_dropped(within=HALF_OPEN_DROPPED_WITHIN_S)
    finally:
        half_open.abandon()
    assert (await first_message(nginx.url, session))["type"] == "history"


async def test_one_address_cannot_hold_more_websockets_than_the_cap(cluster, private_redis, front):
    sites = cluster(PUBSUB, redis_url=private_redis.url, **BEHIND_NGINX)
    nginx = front(sites)
    session = await asyncio.to_thread(session_for, nginx.url, cluster.stream.viewer_code)
    cap = websockets_per_address()
    opened = await open_many(nginx.url, session, cap)
    try:
        assert Counter(status for status, _ in opened) == {101: cap}
        # Give the handshake rate a moment to refill, so the cap, not the rate, answers.
        await asyncio.sleep(1)
        over = [await open_captions(nginx.url, session) for _ in range(3)]
        assert [status for status, _ in over] == [429] * 3
        assert 'limiting connections by zone "livestream_ws_conn"' in nginx.error_log()
        other, ws = await open_captions(nginx.url, session, OTHER_ADDRESS)
        assert other == 101, "another address was refused too"
        await ws.close()
        # The cap counts open sockets: close some, and as many can open again.
        await close_all([ws for _, ws in opened[:5]])
        again = [await open_captions(nginx.url, session) for _ in range(5)]
        assert [status for status, _ in again] == [101] * 5
        await close_all([ws for _, ws in again])
    finally:
        await close_all([ws for _, ws in opened])


async def test_a_burst_of_handshakes_beyond_the_rate_gets_429(cluster, private_redis, front):
    sites = cluster(PUBSUB, redis_url=private_redis.url, **BEHIND_NGINX)
    nginx = front(sites)
    session = await asyncio.to_thread(session_for, nginx.url, cluster.stream.viewer_code)
    attempts = handshake_burst() + 300
    burst = await asyncio.gather(*(raw_handshake(nginx.port) for _ in range(attempts)))
    answers = Counter(burst)
    # Those let through reach the site, which refuses a handshake without Origin (403).
    assert answers[429] >= 200, answers
    assert set(answers) == {403, 429}, answers
    assert "limiting requests, excess: " in nginx.error_log()
    assert 'by zone "livestream_ws_req"' in nginx.error_log()
    assert (await first_message(nginx.url, session, OTHER_ADDRESS))["type"] == "history"
