"""Fixtures for websocket tests: sessions holding grants, the Deepgram double, sockets; and
``dg``, a bare Deepgram double for the engine's own tests (test_deepgram_engine_*.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.backends.db import SessionStore

from deepgram_standin import DeepgramDouble
from gate import grant as grants
from gate.models import AccessCode
from livestream.asgi import application
from tests.captions.deepgram_engine_runs import KEY as ENGINE_TEST_KEY

DEEPGRAM_KEY = "dg-secret-4f7c1e9a2b6d"
ORIGIN = b"http://testserver"


def session_for(code: AccessCode) -> str:
    """A saved session holding the grant entering ``code`` gives; returns its key."""
    session = SessionStore()
    grants.store(session, code)
    session.save()
    return session.session_key


@pytest.fixture
def session_cookie(transactional_db) -> Callable[[AccessCode], str]:
    return session_for


def socket(
    path: str, *, session_key: str | None = None, origin: bytes | None = ORIGIN, headers=()
) -> WebsocketCommunicator:
    sent = [(b"host", b"testserver"), *headers]  # what a browser always sends
    if origin is not None:
        sent.append((b"origin", origin))
    if session_key:
        sent.append((b"cookie", f"sessionid={session_key}".encode()))
    return WebsocketCommunicator(application, path, headers=sent)


@pytest.fixture
async def deepgram(settings):
    async with DeepgramDouble(api_key=DEEPGRAM_KEY, idle_timeout=10.0) as double:
        settings.DEEPGRAM_URL = double.url
        settings.DEEPGRAM_API_KEY = DEEPGRAM_KEY
        settings.CAPTIONS_ENGINE = "deepgram"
        yield double


@pytest.fixture
async def dg():
    async with DeepgramDouble(api_key=ENGINE_TEST_KEY) as double:
        yield double


async def receive_until(
    communicator: WebsocketCommunicator, predicate, *, timeout: float = 5.0
) -> list[dict]:
    """Every JSON message up to and including the first one matching ``predicate``."""
    seen: list[dict] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise AssertionError(f"no matching message within {timeout}s; saw {seen}")
        message = await communicator.receive_json_from(timeout=remaining)
        seen.append(message)
        if predicate(message):
            return seen


async def closed_with(communicator: WebsocketCommunicator, *, timeout: float = 3.0) -> int:
    """Read until the server closes; return its close code."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        output = await communicator.receive_output(
            timeout=max(0.01, deadline - asyncio.get_running_loop().time())
        )
        if output["type"] == "websocket.close":
            return output.get("code", 1000)


@pytest.fixture
def viewer_key(session_cookie, viewer_code):
    return session_cookie(viewer_code)


@pytest.fixture
def captioner_key(session_cookie, captioner_code):
    return session_cookie(captioner_code)


@pytest.fixture
def watching(client, enter, viewer_code):
    """A test client holding a viewer's grant for the stream ``keynote``."""
    enter("VIEW-2024")
    return client
