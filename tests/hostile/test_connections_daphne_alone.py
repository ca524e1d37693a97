"""Connection exhaustion (issue 8, item 3) without nginx, through real processes and real
sockets: the site's own per-address cap and handshake rate (livestream/connection_limits.py)
refuse with 403, and a socket's place comes back however the socket ends.
tests/hostile/test_connections_through_nginx.py has the shipped nginx config in front.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.hostile.many_sockets import OTHER_ADDRESS, close_all, open_captions
from tests.live_site import session_for
from tests.multiprocess.clients import headers, ws_url

pytestmark = pytest.mark.usefixtures("many_descriptors")


# --- Daphne alone -------------------------------------------------------------------------------


async def test_daphne_alone_refuses_websockets_over_the_cap_until_one_ends(single_site):
    site = single_site(WS_MAX_PER_IP="5")
    stream = single_site.stream
    session = await asyncio.to_thread(session_for, site.url, stream.viewer_code)

    async def fill() -> list[ClientConnection]:
        """Open sockets until the cap refuses one; the refusal is HTTP 403."""
        sockets = []
        for _ in range(30):
            status, ws = await open_captions(site.url, session)
            if status != 101:
                assert status == 403
                return sockets
            sockets.append(ws)
        raise AssertionError("30 websockets from one address were accepted")

    async def until_open(count: int, source: str = "127.0.0.1") -> list[ClientConnection]:
        """Open ``count`` sockets, retrying refusals while the server notices sockets ended."""
        sockets = []
        for _ in range(100):
            status, ws = await open_captions(site.url, session, source)
            if status == 101:
                sockets.append(ws)
                if len(sockets) == count:
                    return sockets
            else:
                await asyncio.sleep(0.1)
        raise AssertionError(f"only {len(sockets)} of {count} sockets could open again")

    # The application fails (there is no route for the path: the server answers 4500 after
    # a status message): those keep no place.
    for _ in range(3):
        async with connect(
            ws_url(site.url, "/ws/no-such-socket/"),
            additional_headers=headers(site.url, session),
            open_timeout=10,
        ) as failing:
            await asyncio.wait_for(failing.wait_closed(), 10)
        assert failing.close_code == 4500

    sockets = await fill()
    assert len(sockets) == 5
    assert "refusing websocket handshakes from 127.0.0.1" in site.log()
    other, ws = await open_captions(site.url, session, OTHER_ADDRESS)
    assert other == 101
    await ws.close()

    # The client closes two: two places come back.
    await close_all(sockets[:2])
    sockets = sockets[2:] + await until_open(2)
    assert len(await fill()) == 0

    # Two vanish (the connection is cut, no close handshake): two places come back.
    for ws in sockets[:2]:
        ws.transport.abort()
    sockets = sockets[2:] + await until_open(2)
    assert len(await fill()) == 0

    # The server closes them all (their code is revoked): every place comes back.
    site.django(
        "from gate.models import AccessCode\n"
        "AccessCode.objects.filter(code=params['revoked']).update(is_active=False)",
        revoked=stream.viewer_code,
    )
    await asyncio.wait_for(asyncio.gather(*(ws.wait_closed() for ws in sockets)), 10)
    assert {ws.close_code for ws in sockets} == {4403}
    new_code = site.django(
        "from gate.models import AccessCode\n"
        "stream = AccessCode.objects.get(code=params['revoked']).stream\n"
        "result = AccessCode.objects.create(stream=stream, code='FRESH-CODE-9').code",
        revoked=stream.viewer_code,
    )
    session = await asyncio.to_thread(session_for, site.url, new_code)
    sockets = await until_open(5)
    await close_all(sockets)


async def test_daphne_alone_refuses_a_burst_of_handshakes_from_one_address(single_site):
    site = single_site(WS_HANDSHAKES_PER_SECOND="1", WS_HANDSHAKE_BURST="10")
    session = await asyncio.to_thread(session_for, site.url, single_site.stream.viewer_code)
    opened = await asyncio.gather(*(open_captions(site.url, session) for _ in range(40)))
    try:
        statuses = Counter(status for status, _ in opened)
        assert set(statuses) == {101, 403}, statuses
        assert statuses[403] >= 20, statuses  # ten at once, then one a second
        assert "refusing websocket handshakes from 127.0.0.1" in site.log()
        other, ws = await open_captions(site.url, session, OTHER_ADDRESS)
        assert other == 101, "another address was refused too"
        await ws.close()
    finally:
        await close_all([ws for _, ws in opened])


# --- The middleware alone -----------------------------------------------------------------------


class _Receive:
    """A websocket's incoming ASGI messages: the connect, then nothing more."""

    def __init__(self) -> None:
        self.connected = False

    async def __call__(self) -> dict:
        if not self.connected:
            self.connected = True
            return {"type": "websocket.connect"}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_socket_whose_application_raises_or_is_cancelled_gives_its_place_back():
    # Through the real site an application error is caught below this middleware and answered
    # with 4500 (livestream/socket_errors.py), and Daphne cancels an application only when it
    # outlives its socket by 10 s: so these two endings are driven here, directly.
    from livestream.connection_limits import ConnectionLimits

    async def raising(scope, receive, send) -> None:
        await receive()
        raise RuntimeError("a handler failed")

    accepted = asyncio.Event()

    async def hanging(scope, receive, send) -> None:
        await receive()
        accepted.set()
        await asyncio.Event().wait()

    scope = {"type": "websocket", "client": ["203.0.113.9", 50000], "headers": []}
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    limits = ConnectionLimits(raising, max_per_ip=1, handshakes_per_second=0, handshake_burst=0)
    for _ in range(3):
        with pytest.raises(RuntimeError):
            await limits(dict(scope), _Receive(), send)
    assert limits.open == {}

    limits.app = hanging
    task = asyncio.create_task(limits(dict(scope), _Receive(), send))
    await asyncio.wait_for(accepted.wait(), 5)
    assert limits.open == {"203.0.113.9": 1}
    await limits(dict(scope), _Receive(), send)  # over the cap: refused before accept
    assert sent[-1] == {"type": "websocket.close"}
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert limits.open == {}
