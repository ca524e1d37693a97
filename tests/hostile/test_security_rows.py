"""The rows of docs/security.md that had no test through the real server: each tried as a user,
an attacker or a failing dependency meets it, against real Daphne processes over real sockets.

Refused codes, session fixation, revocation and expiry of open sockets, production cookies, the
wrong role on the audio socket, ``?next=``, another stream's data, the speech service's key,
a flood beside calm viewers, oversized frames and memory, empty frames, a relay that falls
behind, a server restart, the speech service dropping, refusing and falling silent, a handshake
while the database is down, and HTML in titles and captions in a real Chromium.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import http.client
import http.cookiejar
import itertools
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from deepgram_standin import DeepgramDouble, silence, speech
from tests.conftest import require_program
from tests.hostile.conftest import DEEPGRAM_KEY, PHRASES, STREAM_URL, rss_kib
from tests.hostile.tcp_proxy import TcpProxy
from tests.hostile.test_gate import _CREATE_ADMIN, ADMIN, ADMIN_PASSWORD, Browser
from tests.live_site import BASE_DIR, SITE_ENV, LiveSite, free_port, session_for
from tests.multiprocess.clients import (
    Viewer,
    closed_with,
    headers,
    open_captioner,
    speak,
    stop_captioner,
    wait_until,
    ws_url,
)
from tests.multiprocess.conftest import PUBSUB

STORED = "from captions.models import Caption\nresult = list(Caption.objects.order_by('seq')"
STORED += ".values_list('seq', 'text'))"


def stored_finals(site: LiveSite) -> list[tuple[int, str]]:
    return [tuple(row) for row in site.django(STORED)]


async def handshake_status(site: LiveSite, path: str, session: str | None) -> int:
    """The HTTP status of a websocket handshake to ``path`` (101 when accepted)."""
    sent = {"Origin": site.url}
    if session:
        sent["Cookie"] = f"sessionid={session}"
    try:
        async with connect(ws_url(site.url, path), additional_headers=sent, open_timeout=10):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


# --- Wrong, expired, revoked and used-up codes ---------------------------------------------------

SETUP = "import django\ndjango.setup()\n"
# With DEBUG on, Django logs each SQL statement at DEBUG as "django.db.backends", a logger its
# own logging set-up holds at INFO: the preamble gives those lines a logger of their own.
LOG_QUERIES = SETUP + (
    "import logging, django.db.backends.utils as db_utils\n"
    "db_utils.logger = logging.getLogger('sql')\n"
)
_CSRF_VALUE = re.compile(rb'(?<=name="csrfmiddlewaretoken" value=")[^"]+')
_QUERY = re.compile(r" DEBUG sql: \([\d.]+\) (.*)$", re.MULTILINE)


def test_wrong_expired_revoked_and_used_up_codes_get_one_answer_and_no_session(single_site):
    # DEBUG logging: Django logs every SQL statement, so the work each refusal does is visible.
    site = single_site(LOG_LEVEL="DEBUG", preamble=LOG_QUERIES)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    refused = {
        "wrong": "NOSUCHCODE",
        "expired": site.create_code("talk", "EXPIREDCODE", expires_at=past),
        "revoked": site.create_code("talk", "REVOKEDCODE", is_active=False),
        "used up": site.create_code("talk", "USEDUPCODE", max_uses=1, use_count=1),
    }
    answers, work = {}, {}
    for kind, code in refused.items():
        browser = Browser(site.url)
        browser.load_form("/enter/")
        logged = len(site.log())
        status, _, body = browser.post("/enter/", code=code)
        # Take out what differs by design: the CSRF token (masked anew on every page) and the
        # code as typed.
        body = _CSRF_VALUE.sub(b"TOKEN", body).replace(code.encode(), b"CODE")
        answers[kind] = (status, body)
        queries = _QUERY.findall(site.log()[logged:])
        work[kind] = [query.replace(code, "CODE") for query in queries]
        assert browser.session is None, kind  # no session was created, so no grant either
        assert browser.request("/watch/talk/")[0] == 302, kind
    assert answers["wrong"][0] == 200
    assert "That code doesn’t work".encode() in answers["wrong"][1]
    for kind, answer in answers.items():
        assert answer == answers["wrong"], (kind, answer[1].decode())
    # The same statements for each: no refusal takes a path a timing could tell apart.
    assert work["wrong"], "no query was logged"
    assert all(queries == work["wrong"] for queries in work.values()), work


# --- Session fixation ----------------------------------------------------------------------------


def plant_cookie(browser: Browser, name: str, value: str) -> None:
    """Put a cookie in a browser's jar, as a script on a sibling site or a shared computer would."""
    host = urllib.parse.urlsplit(browser.site_url).hostname
    browser.jar.set_cookie(
        http.cookiejar.Cookie(
            version=0, name=name, value=value, port=None, port_specified=False, domain=host,
            domain_specified=False, domain_initial_dot=False, path="/", path_specified=True,
            secure=False, expires=None, discard=False, comment=None, comment_url=None, rest={},
        )
    )  # fmt: skip


def cookie(browser: Browser, name: str) -> str | None:
    return next((c.value for c in browser.jar if c.name == name), None)


async def test_a_session_planted_before_a_code_is_entered_is_replaced(single_site):
    site = single_site()
    stream = single_site.stream
    planted = session_for(site.url, stream.viewer_code)  # the attacker's own session
    victim = Browser(site.url)
    plant_cookie(victim, "sessionid", planted)
    victim.load_form("/enter/")
    token_before = cookie(victim, "csrftoken")

    assert victim.post("/enter/", code=stream.captioner_code)[0] == 302
    assert victim.session not in (None, planted)  # a new session key...
    assert cookie(victim, "csrftoken") not in (None, token_before)  # ...and a new CSRF token
    # The planted key carries none of what the victim was given: not even its old grant.
    assert (
        Browser(site.url).request("/watch/talk/", headers={"Cookie": f"sessionid={planted}"})[0]
        == 302
    )
    assert await handshake_status(site, "/ws/watch/talk/audio/", planted) == 403
    ws, status = await open_captioner(site.url, "talk", victim.session)
    assert status["state"] == "live"  # the victim's own session has the captioner's grant
    await stop_captioner(ws)


# --- A revoked or expired code still in a session ------------------------------------------------

REVOKED = "Your access code no longer works."
_CODE_IDS = """
from gate.models import AccessCode
result = list(AccessCode.objects.filter(code__in=params["codes"]).values_list("pk", flat=True))
"""


def signed_in_admin(site: LiveSite) -> Browser:
    site.django(_CREATE_ADMIN, name=ADMIN, password=ADMIN_PASSWORD)
    admin = Browser(site.url)
    admin.load_form("/admin/login/")
    assert admin.post("/admin/login/", username=ADMIN, password=ADMIN_PASSWORD)[0] == 302
    return admin


async def open_viewer_socket(site: LiveSite, session: str):
    ws = await connect(
        ws_url(site.url, "/ws/watch/talk/captions/"), additional_headers=headers(site.url, session)
    )
    assert json.loads(await ws.recv())["type"] == "history"
    return ws


async def captioner_until_live(site: LiveSite, session: str, within: float):
    """Open the audio socket until captions are live; the last attempt's socket and status."""
    deadline = time.monotonic() + within
    while True:
        ws, status = await open_captioner(site.url, "talk", session)
        if status["state"] == "live" or time.monotonic() > deadline:
            return ws, status
        await ws.close()
        await asyncio.sleep(0.2)


async def test_revoking_codes_in_the_admin_ends_their_pages_and_sockets(single_site):
    site = single_site()
    stream = single_site.stream
    admin = signed_in_admin(site)
    viewer = Browser(site.url)
    viewer.load_form("/enter/")
    assert viewer.post("/enter/", code=stream.viewer_code)[0] == 302
    assert viewer.request("/watch/talk/")[0] == 200  # the page is open...
    viewer_ws = await open_viewer_socket(site, viewer.session)  # ...and its captions socket
    captioner_session = session_for(site.url, stream.captioner_code)
    captioner_ws, status = await open_captioner(site.url, "talk", captioner_session)
    assert status["state"] == "live"

    # The admin ticks both codes and runs "Revoke selected codes".
    admin.load_form("/admin/gate/accesscode/")
    ids = site.django(_CODE_IDS, codes=[stream.viewer_code, stream.captioner_code])
    form = [("action", "revoke"), ("index", "0"), ("csrfmiddlewaretoken", admin.token)]
    form += [("_selected_action", str(pk)) for pk in ids]
    referer = {"Referer": f"{site.url}/admin/gate/accesscode/"}
    changelist = "/admin/gate/accesscode/"
    assert admin.request(changelist, urllib.parse.urlencode(form).encode(), referer)[0] == 302

    (viewer_code, viewer_said), (captioner_code, captioner_said) = await asyncio.gather(
        closed_with(viewer_ws, within=2), closed_with(captioner_ws, within=2)
    )
    assert (viewer_code, viewer_said[-1]["message"]) == (4403, REVOKED)
    assert (captioner_code, captioner_said[-1]["message"]) == (4403, REVOKED)

    # The next page request drops the grant and goes to the entry page, which says why.
    status, response_headers, _ = viewer.request("/watch/talk/")
    assert (status, response_headers["Location"]) == (302, "/enter/?next=%2Fwatch%2Ftalk%2F")
    status, _, body = viewer.request(response_headers["Location"])
    assert status == 200
    assert b"Your access code no longer works. Enter a current code" in body
    assert viewer.request("/watch/talk/transcript.txt")[0] == 403
    for session in (viewer.session, captioner_session):
        assert await handshake_status(site, "/ws/watch/talk/captions/", session) == 403
    assert await handshake_status(site, "/ws/watch/talk/audio/", captioner_session) == 403
    # The revoked captioner's socket gives the stream back once its speech session finished
    # (the wait for the engine's last results is bounded by GONE_FINISH_SECONDS, 6 s).
    new_code = site.create_code("talk", role="captioner")
    ws, status = await captioner_until_live(site, session_for(site.url, new_code), within=8)
    assert status["state"] == "live"
    await stop_captioner(ws)


async def test_a_code_that_expires_closes_its_open_sockets(single_site):
    site = single_site()
    expires_at = datetime.now(UTC) + timedelta(seconds=3)
    code = site.create_code("talk", "SOONGONE", expires_at=expires_at.isoformat())
    ws = await open_viewer_socket(site, session_for(site.url, code))
    left = (expires_at - datetime.now(UTC)).total_seconds()
    close_code, said = await closed_with(ws, within=left + 2)
    assert (close_code, said[-1]["message"]) == (4403, REVOKED)
    assert await handshake_status(site, "/ws/watch/talk/captions/", None) == 403


# --- Cookies and deployment ----------------------------------------------------------------------

# The production settings docs/deployment.md lists, on this machine: DEBUG off, behind a TLS
# proxy that says so with X-Forwarded-Proto. SECURE_SSL_REDIRECT and HSTS keep their defaults.
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x9!kq2-production-like-secret-key-with-enough-entropy-7f3a9c1e5b",
    "ALLOWED_HOSTS": "127.0.0.1",
    "BEHIND_TLS_PROXY": "true",
    "TRUSTED_PROXY_COUNT": "1",
}
VIA_TLS_PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.20"}


def start_production_site(tmp_path: Path) -> LiveSite:
    """Daphne with the production settings. Not ``single_site``: its start-up probe asks for
    /healthz over plain HTTP, which production answers with a redirect to HTTPS."""
    env = {**os.environ, **SITE_ENV, **PRODUCTION}
    for development_only in ("SECURE_SSL_REDIRECT", "CSRF_TRUSTED_ORIGINS"):
        env.pop(development_only)
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        "IVS_PLAYER_SCRIPT_URL": "https://player.live-video.net/1.56.1/amazon-ivs-player.min.js",
        "DEEPGRAM_API_KEY": DEEPGRAM_KEY,
    }
    probe = LiveSite("", env, tmp_path, tmp_path / "none.log", None)  # type: ignore[arg-type]
    probe.manage("migrate", "--noinput", "-v", "0")
    probe.manage("collectstatic", "--noinput", "-v", "0")
    port = free_port()
    log_path = tmp_path / "daphne.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
             "livestream.asgi:application"],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    site = LiveSite(f"http://127.0.0.1:{port}", env, tmp_path, log_path, process)
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if raw_request(site, "GET", "/healthz", VIA_TLS_PROXY)[0] == 200:
                return site
        time.sleep(0.1)
    site.stop()
    raise RuntimeError(f"Daphne did not start with production settings:\n{site.log()}")


def raw_request(
    site: LiveSite, method: str, path: str, sent: dict[str, str], body: bytes | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request; every header of the answer, Set-Cookie lines included."""
    address = urllib.parse.urlsplit(site.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return response.status, response.msg, response.read()
    finally:
        connection.close()


def set_cookies(answer: http.client.HTTPMessage) -> dict[str, set[str]]:
    """Each cookie set, with its attributes as written, lower-cased (``secure``,
    ``samesite=lax``...)."""
    cookies = {}
    for line in answer.get_all("Set-Cookie") or []:
        name_value, *attributes = (part.strip().lower() for part in line.split(";"))
        cookies[name_value.split("=", 1)[0]] = set(attributes)
    return cookies


def test_production_settings_behind_a_tls_proxy_send_only_secure_cookies(tmp_path):
    site = start_production_site(tmp_path)
    try:
        stream = site.create_stream(STREAM_URL, slug="talk", title="Talk")
        check = site.manage("check", "--deploy", "--fail-level", "WARNING")
        assert "no issues" in check

        status, answer, _ = raw_request(site, "GET", "/enter/", {})  # plain HTTP, no proxy
        assert (status, answer["Location"]) == (301, f"https://{site.url[7:]}/enter/")

        status, answer, page = raw_request(site, "GET", "/enter/", VIA_TLS_PROXY)
        assert status == 200
        assert answer["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        csrf_cookie = re.search(r"csrftoken=([^;]+)", answer["Set-Cookie"])[1]
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1].decode()
        form = urllib.parse.urlencode({"code": stream.viewer_code, "csrfmiddlewaretoken": token})
        status, answer, _ = raw_request(
            site,
            "POST",
            "/enter/",
            {
                **VIA_TLS_PROXY,
                "Cookie": f"csrftoken={csrf_cookie}",
                "Referer": f"https://{site.url[7:]}/enter/",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            form.encode(),
        )
        assert status == 302
        cookies = set_cookies(answer)
        assert set(cookies) == {"sessionid", "csrftoken"}
        for name, attributes in cookies.items():
            assert {"secure", "httponly", "samesite=lax"} <= attributes, name
    finally:
        site.stop()


# --- The wrong role on a socket ------------------------------------------------------------------


async def test_a_viewers_session_is_refused_on_the_audio_socket(single_site):
    async with DeepgramDouble(DEEPGRAM_KEY, phrases=PHRASES) as dg:
        site = single_site(speech_url=dg.url)
        stream = single_site.stream
        viewer = session_for(site.url, stream.viewer_code)
        assert await handshake_status(site, "/ws/watch/talk/audio/", viewer) == 403
        assert await handshake_status(site, "/ws/watch/talk/audio/", None) == 403
        assert dg.handshakes == []  # nothing reached the speech service
        # Nor did the refused handshakes take the stream: the captioner starts at once.
        ws, status = await open_captioner(
            site.url, "talk", session_for(site.url, stream.captioner_code)
        )
        assert status["state"] == "live"
        await stop_captioner(ws)
        assert len(dg.handshakes) == 1


# --- Open redirect via ?next= ---------------------------------------------------------------------

OFF_SITE = [
    "//evil.example/",
    "https://evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "\x01//evil.example",
    " //evil.example",
    "javascript:alert(1)",
    "https:///evil.example",
    "http://127.0.0.1.evil.example/",
]


def test_next_is_followed_only_to_a_path_on_this_site(single_site):
    site = single_site()
    code = single_site.stream.viewer_code
    for target in [*OFF_SITE, "/watch/talk/?from=mail"]:
        browser = Browser(site.url)
        # As a link in a phishing mail would carry it: the entry page puts it in its form.
        status, _, page = browser.request("/enter/?" + urllib.parse.urlencode({"next": target}))
        assert status == 200
        browser.token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1].decode()
        carried = html.unescape(re.search(r'name="next" value="([^"]*)"', page.decode())[1])
        assert carried == target
        status, answer, _ = browser.post("/enter/", code=code, next=carried)
        assert status == 302, repr(target)
        expected = target if target.startswith("/watch/") else "/watch/talk/"
        assert answer["Location"] == expected, repr(target)


# --- Another stream's data -----------------------------------------------------------------------

_STORE_CAPTION = """
from django.utils import timezone
from captions.models import Caption
from livestream.models import Stream
stream = Stream.objects.get(slug=params["slug"])
Caption.store(stream, text=params["text"], start=0.0, end=1.0, session_started_at=timezone.now())
"""


async def test_a_grant_for_one_stream_opens_nothing_of_another(single_site):
    site = single_site()
    talk = single_site.stream
    board = site.create_stream(STREAM_URL, slug="board", title="Board")
    site.django(_STORE_CAPTION, slug="board", text="Only for the board.")
    site.django(_STORE_CAPTION, slug="talk", text="Welcome to the talk.")
    viewer = Browser(site.url)
    viewer.load_form("/enter/")
    assert viewer.post("/enter/", code=talk.viewer_code)[0] == 302
    captioner = session_for(site.url, talk.captioner_code)

    status, answer, _ = viewer.request("/watch/board/")
    assert (status, answer["Location"]) == (302, "/enter/?next=%2Fwatch%2Fboard%2F")
    for fmt in ("vtt", "srt", "txt"):
        status, _, body = viewer.request(f"/watch/board/transcript.{fmt}")
        assert status == 403, fmt
        assert b"Only for the board" not in body
    for session in (viewer.session, captioner):
        assert await handshake_status(site, "/ws/watch/board/captions/", session) == 403
    assert await handshake_status(site, "/ws/watch/board/audio/", captioner) == 403

    # Its own stream shows only its own captions.
    assert viewer.request("/watch/talk/transcript.txt")[2] == b"Welcome to the talk.\n"
    ws = await connect(
        ws_url(site.url, "/ws/watch/talk/captions/?after=0"),
        additional_headers=headers(site.url, viewer.session),
    )
    history = json.loads(await ws.recv())
    assert [caption["text"] for caption in history["captions"]] == ["Welcome to the talk."]
    await ws.close()

    # One grant per session: entering the board's code replaces the talk's.
    viewer.load_form("/enter/")
    assert viewer.post("/enter/", code=board.viewer_code)[0] == 302
    assert viewer.request("/watch/board/")[0] == 200
    assert viewer.request("/watch/talk/")[0] == 302


# --- The speech service's key --------------------------------------------------------------------


class Frames:
    """Every text frame a socket receives, read in the background until it closes."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.texts: list[str] = []
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.ws:
                self.texts.append(frame if isinstance(frame, str) else frame.decode("latin-1"))

    def messages(self) -> list[dict]:
        return [json.loads(text) for text in self.texts]

    async def close(self) -> None:
        await self.ws.close()
        await self.task


async def test_the_speech_services_key_is_in_no_page_socket_message_or_log_line(single_site):
    async with DeepgramDouble(DEEPGRAM_KEY, phrases=PHRASES) as dg:
        # DEBUG: every logger at its most talkative, the speech engine's wire log included.
        site = single_site(speech_url=dg.url, LOG_LEVEL="DEBUG")
        stream = single_site.stream
        viewer = Browser(site.url)
        viewer.load_form("/enter/")
        assert viewer.post("/enter/", code=stream.viewer_code)[0] == 302
        captioner = Browser(site.url)
        captioner.load_form("/enter/")
        assert captioner.post("/enter/", code=stream.captioner_code)[0] == 302
        viewer_frames = Frames(
            await connect(
                ws_url(site.url, "/ws/watch/talk/captions/"),
                additional_headers=headers(site.url, viewer.session),
            )
        )
        dg.refuse(401)  # the service refuses the key once: the captioner is told why
        refused, status = await open_captioner(site.url, "talk", captioner.session)
        assert (status["state"], "401" in status["message"]) == ("error", True)
        refused_code, refused_said = await closed_with(refused)
        ws, status = await open_captioner(site.url, "talk", captioner.session)
        assert status["state"] == "live"
        captioner_frames = Frames(ws)
        await speak(ws, 2.0, seed=21)
        await ws.send(json.dumps({"type": "stop"}))
        await captioner_frames.task
        stored = stored_finals(site)
        assert stored
        await wait_until(
            lambda: sum(m.get("is_final", False) for m in viewer_frames.messages()) == len(stored),
            within=10,
        )
        await viewer_frames.close()
        assert refused_code == 4500

        admin = signed_in_admin(site)
        pages = [
            browser.request(path)[2].decode()
            for browser, path in [
                (Browser(site.url), "/enter/"),
                (viewer, "/watch/talk/"),
                (captioner, "/watch/talk/"),
                (viewer, "/watch/talk/transcript.vtt"),
                (Browser(site.url), "/healthz"),
                (admin, "/admin/"),
                (admin, "/admin/livestream/stream/"),
                (admin, "/admin/gate/accesscode/"),
            ]
        ]
        player = pages[2]
        scripts = [
            site.get(path)[2].decode()
            for path in re.findall(r'<script[^>]* src="(/static/[^"]+)"', player)
        ]
        scripts.append(site.get("/static/js/pcm-worklet.js")[2].decode())
        assert len(scripts) >= 3, player  # the page's own scripts were all fetched
        everything = [
            *pages,
            *scripts,
            *viewer_frames.texts,
            *captioner_frames.texts,
            json.dumps(refused_said),
            site.log(),
        ]
        sent = {name.lower(): value for name, value in dg.handshakes[-1].headers.items()}
        assert sent["authorization"] == f"Token {DEEPGRAM_KEY}"  # the key was used...
        assert not [text for text in everything if DEEPGRAM_KEY in text]  # ...and never shown
        assert "DEBUG captions.speech" in site.log()  # the engine's own DEBUG lines were there


# --- Floods, oversized and empty frames ----------------------------------------------------------

MIB = 1024 * 1024


async def flood_as_a_viewer(site: LiveSite, session: str, count: int = 20_000) -> int:
    """Send ``count`` 500-byte messages up a captions socket as fast as it takes them."""
    async with connect(
        ws_url(site.url, "/ws/watch/talk/captions/"), additional_headers=headers(site.url, session)
    ) as ws:
        await ws.recv()  # history
        with contextlib.suppress(ConnectionClosed):  # closed while still sending
            for _ in range(count):
                await ws.send("x" * 500)
        close_code, _ = await closed_with(ws)
        return close_code


async def test_flooding_viewers_are_closed_while_the_others_get_every_caption(single_site):
    site = single_site()
    stream = single_site.stream
    session = session_for(site.url, stream.viewer_code)
    calm = Viewer(site.url, "talk", session)
    calm.start()
    await asyncio.wait_for(calm.connected.wait(), 10)
    ws, status = await open_captioner(
        site.url, "talk", session_for(site.url, stream.captioner_code)
    )
    assert status["state"] == "live"

    speaking = asyncio.create_task(speak(ws, 4.0, seed=31))
    codes = await asyncio.gather(*(flood_as_a_viewer(site, session) for _ in range(3)))
    await speaking
    await stop_captioner(ws)  # the captioner was never disturbed either

    assert codes == [4408] * 3
    stored = stored_finals(site)
    assert stored
    await wait_until(lambda: len(calm.finals) == len(stored), within=10)
    assert list(calm.finals.items()) == stored
    assert calm.connections == 1  # every caption arrived live: none was missed and refetched
    await calm.stop()


async def test_oversized_audio_frames_leave_the_servers_memory_where_it_was(single_site):
    site = single_site()
    session = session_for(site.url, single_site.stream.captioner_code)

    async def send_oversized(size: int) -> int:
        ws, status = await captioner_until_live(site, session, within=8)
        assert status["state"] == "live"  # the last oversized frame freed the stream
        await ws.send(speech(0.2))
        with contextlib.suppress(ConnectionClosed):  # Daphne may cut it while it is sent
            await ws.send(b"\x00" * size)
        close_code, _ = await closed_with(ws)
        return close_code

    # Over Daphne's own cap (1 MiB: it drops the connection), just under it, and the row's
    # 100 KiB: both over the site's 64 KiB cap (4413).
    sizes = [2 * MIB, MIB - 1024, 100 * 1024]
    for size in sizes:  # the allocator's high-water mark: what one such frame may take, once
        await send_oversized(size)
    await asyncio.sleep(1)
    before = rss_kib(site.process.pid)
    codes = [await send_oversized(size) for size in sizes * 5]
    await asyncio.sleep(2)
    after = rss_kib(site.process.pid)

    assert all(code in (1006, 1009) for code in codes[::3])  # Daphne dropped the connection
    assert codes[1::3] + codes[2::3] == [4413] * 10
    assert after - before < 4 * 1024, f"RSS grew {before} → {after} KiB over 15 frames"


async def test_empty_and_odd_length_frames_never_reach_the_speech_service(single_site):
    async with DeepgramDouble(DEEPGRAM_KEY, phrases=PHRASES) as dg:
        site = single_site(speech_url=dg.url)
        session = session_for(site.url, single_site.stream.captioner_code)
        for bad, reason in [(b"", "Empty audio frames"), (b"\x01\x02\x03", "16-bit PCM")]:
            ws, status = await captioner_until_live(site, session, within=8)
            assert status["state"] == "live"
            forwarded = dg.audio_bytes
            await ws.send(speech(0.5))
            await dg.wait_for(lambda before=forwarded: dg.audio_bytes == before + 16_000, 5)
            await ws.send(bad)
            close_code, said = await closed_with(ws)
            assert (close_code, reason in said[-1]["message"]) == (4400, True)
            assert dg.audio_bytes == forwarded + 16_000  # nothing of the bad frame went on
        assert dg.empty_frames == 0


# --- Slow viewers and a full channel -------------------------------------------------------------


async def say(ws, phrases: int, seed: int) -> None:
    """Speak like a person: ``phrases`` stretches of speech, each followed by a pause (the
    speech service sends a final at each pause), in 100 ms frames at about real time."""
    for n in range(phrases):
        pcm = speech(0.8, seed=seed + n) + silence(0.6)
        for start in range(0, len(pcm), 3200):
            await ws.send(pcm[start : start + 3200])
            await asyncio.sleep(0.08)


# The process's relay stops reading the channel layer while the file named by RELAY_PAUSED
# exists, as a process too busy to keep up would; the layer holds 5 messages for it and drops
# the rest silently, as channel layers do with a full channel.
PAUSABLE_RELAY = SETUP + (
    "import asyncio, os\n"
    "from django.conf import settings\n"
    "settings.CHANNEL_LAYERS['default']['CONFIG']['capacity'] = 5\n"
    "from captions.fanout import StreamRelay\n"
    "deliver = StreamRelay._deliver\n"
    "async def paused(self, message):\n"
    "    while os.path.exists(os.environ['RELAY_PAUSED']):\n"
    "        await asyncio.sleep(0.05)\n"
    "    await deliver(self, message)\n"
    "StreamRelay._deliver = paused\n"
)


async def test_a_viewer_behind_a_full_channel_recovers_every_final_from_the_record(
    single_site, tmp_path
):
    flag = tmp_path / "relay-paused"
    site = single_site(preamble=PAUSABLE_RELAY, RELAY_PAUSED=str(flag))
    stream = single_site.stream
    viewer = Viewer(site.url, "talk", session_for(site.url, stream.viewer_code))
    viewer.start()
    await asyncio.wait_for(viewer.connected.wait(), 10)
    ws, status = await open_captioner(
        site.url, "talk", session_for(site.url, stream.captioner_code)
    )
    assert status["state"] == "live"

    flag.touch()
    await say(ws, 5, seed=40)  # finals, interims and statuses: far more than the channel holds
    await wait_until(lambda: len(stored_finals(site)) >= 5, within=10)
    flag.unlink()
    await say(ws, 2, seed=50)  # live finals again, after a gap in the sequence numbers
    await stop_captioner(ws)

    stored = stored_finals(site)
    await wait_until(lambda: len(viewer.finals) == len(stored), within=10)
    assert list(viewer.finals.items()) == stored
    assert viewer.order == sorted(viewer.order)
    assert viewer.connections >= 2  # it saw the gap and asked the record for what it missed
    await viewer.stop()


# --- A server restart ----------------------------------------------------------------------------


def restart(site: LiveSite, running) -> LiveSite:
    """Start the (stopped) Daphne process again on the same port, database and settings;
    ``running`` is the ``single_site`` or ``cluster`` fixture that started it."""
    site.stop()
    log_path = site.directory / f"daphne-restarted-{len(running.sites)}.log"
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", site.url.rsplit(":")[-1]]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*command, "livestream.asgi:application"],
            cwd=BASE_DIR, env=site.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    again = LiveSite(site.url, site.env, site.directory, log_path, process)
    running.sites.append(again)  # its log in the report, stopped at the end
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if again.get("/healthz", timeout=2)[0] == 200:
                return again
        time.sleep(0.1)
    raise RuntimeError(f"Daphne did not come back:\n{again.log()}")


async def test_viewers_of_a_restarted_server_resume_with_what_they_missed(cluster):
    a, b = cluster(PUBSUB)
    stream = cluster.stream
    viewer = Viewer(b.url, "talk", session_for(b.url, stream.viewer_code))
    viewer.start()
    await asyncio.wait_for(viewer.connected.wait(), 10)
    ws, status = await open_captioner(a.url, "talk", session_for(a.url, stream.captioner_code))
    assert status["state"] == "live"
    await say(ws, 2, seed=60)  # a final for each phrase
    await wait_until(lambda: len(viewer.finals) == 2, within=10)
    before = stored_finals(a)
    assert list(viewer.finals.items()) == before

    b.stop()  # the viewer's server process goes away, mid-stream...
    await say(ws, 3, seed=70)  # ...while the captioner, on the other one, goes on
    await wait_until(lambda: len(stored_finals(a)) == 5, within=10)
    b = await asyncio.to_thread(restart, b, cluster)  # and comes back
    await say(ws, 2, seed=80)
    await stop_captioner(ws)

    stored = stored_finals(a)
    assert stored[:2] == before  # nothing persisted was lost
    assert [seq for seq, _ in stored] == list(range(1, 8))
    # The viewer reconnected by itself, resumed after its last seq and got the three finals said
    # while its server was down from the record: each once, in order.
    await wait_until(lambda: len(viewer.finals) == 7, within=15)
    assert list(viewer.finals.items()) == stored
    assert viewer.connections >= 2
    await viewer.stop()


# --- The speech service: drops, silence, refusals ------------------------------------------------


async def test_a_dropped_speech_connection_loses_and_repeats_no_final(single_site):
    async with DeepgramDouble(DEEPGRAM_KEY, phrases=PHRASES) as dg:
        site = single_site(speech_url=dg.url)
        stream = single_site.stream
        viewer = Viewer(site.url, "talk", session_for(site.url, stream.viewer_code))
        viewer.start()
        await asyncio.wait_for(viewer.connected.wait(), 10)
        dg.drop_after(1.5, how="abort")  # the TCP connection is cut, without a close frame
        ws, status = await open_captioner(
            site.url, "talk", session_for(site.url, stream.captioner_code)
        )
        assert status["state"] == "live"
        told = Frames(ws)
        await say(ws, 4, seed=90)
        await ws.send(json.dumps({"type": "stop"}))
        await told.task  # until the server closed it, after "stopped"

        assert len(dg.connections) == 2  # it reconnected, and replayed what was not answered
        states = [m["state"] for m in told.messages() if m["type"] == "status"]
        assert "reconnecting" in states
        assert states[-1] == "stopped"
        texts = [text for _, text in stored_finals(site)]
        assert len(texts) == 4  # a final for each phrase: none lost with the connection...
        assert len(set(texts)) == 4  # ...none stored twice after the replay...
        assert set(texts) == set(dg.final_texts)  # ...and each as the service said it
        await wait_until(lambda: len(viewer.finals) == len(texts), within=10)
        assert list(viewer.finals.values()) == texts
        await viewer.stop()


async def test_a_silent_captioner_keeps_its_speech_connection_alive(single_site):
    # Deepgram closes a connection that gets nothing for 10 s; the double's limit is shorter.
    async with DeepgramDouble(DEEPGRAM_KEY, phrases=PHRASES, idle_timeout=6.0) as dg:
        site = single_site(speech_url=dg.url)
        ws, status = await open_captioner(
            site.url, "talk", session_for(site.url, single_site.stream.captioner_code)
        )
        assert status["state"] == "live"
        await say(ws, 1, seed=100)
        await asyncio.sleep(9)  # nothing at all from the captioner: a paused microphone
        await say(ws, 1, seed=101)
        await stop_captioner(ws)
        assert dg.keepalives >= 1
        assert len(dg.connections) == 1  # never closed for idling, never reconnected
        assert len(stored_finals(site)) == 2


async def test_a_refused_key_is_not_retried_and_viewers_hear_only_captions_are_unavailable(
    single_site,
):
    async with DeepgramDouble(DEEPGRAM_KEY, phrases=PHRASES) as dg:
        site = single_site(speech_url=dg.url)
        stream = single_site.stream
        viewer = Viewer(site.url, "talk", session_for(site.url, stream.viewer_code))
        viewer.start()
        await asyncio.wait_for(viewer.connected.wait(), 10)
        captioner = session_for(site.url, stream.captioner_code)
        for status_code in (401, 402, 403):
            dg.refuse(status_code)  # once: a retry would be let in
            tried, told = len(dg.handshakes), len(viewer.statuses)
            ws, status = await open_captioner(site.url, "talk", captioner)
            assert status["state"] == "error"
            assert str(status_code) in status["message"]  # the captioner is told what and why
            close_code, _ = await closed_with(ws)
            assert close_code == 4500
            await asyncio.sleep(2)
            assert len(dg.handshakes) == tried + 1  # asked once, never again
            await wait_until(lambda told=told: len(viewer.statuses) > told, within=5)
            told_viewers = viewer.statuses[-1]
            assert told_viewers["captioning"] is False
            assert told_viewers["message"] == "Captions are unavailable right now."
        # Neutral: nothing about why, nor about the key, reached any viewer.
        said = json.dumps(viewer.statuses)
        assert not [word for word in ("401", "402", "403", "DEEPGRAM", "credit") if word in said]
        await viewer.stop()


# --- A handshake while the database is down ------------------------------------------------------


async def attempts_until_history(site: LiveSite, session: str, within: float) -> int:
    """Open the captions socket as the page does after a 4500 (again, shortly) until it gets
    its history; how many handshakes that took."""
    deadline = time.monotonic() + within
    for attempt in itertools.count(1):
        async with connect(
            ws_url(site.url, "/ws/watch/talk/captions/"),
            additional_headers=headers(site.url, session),
            open_timeout=30,
        ) as ws:
            if json.loads(await ws.recv())["type"] == "history":
                return attempt
        assert time.monotonic() < deadline, f"no history after {attempt} handshakes"
        await asyncio.sleep(0.2)
    raise AssertionError("unreachable")


async def test_a_handshake_while_the_database_is_down_is_told_why_and_closed_4500(
    cluster, postgres_database
):
    host_port = postgres_database.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    proxy = TcpProxy(host, int(port))
    try:
        (site,) = cluster(
            PUBSUB,
            processes=1,
            DATABASE_URL=postgres_database.replace(host_port, f"127.0.0.1:{proxy.port}"),
        )
        stream = cluster.stream
        sessions = {
            "captions": session_for(site.url, stream.viewer_code),
            "audio": session_for(site.url, stream.captioner_code),
        }
        proxy.cut()
        for path, session in sessions.items():
            async with connect(
                ws_url(site.url, f"/ws/watch/talk/{path}/"),
                additional_headers=headers(site.url, session),
                open_timeout=30,  # the connection pool waits up to 10 s for the database
            ) as ws:
                close_code, said = await closed_with(ws, within=30)
            assert close_code == 4500, path
            assert said[-1]["state"] == "error", path
        proxy.restore()
        # The page reconnects by itself after 4500 and gets in at its first try once the
        # database answers: the pool checks connections, so none broken by the outage is used.
        assert await attempts_until_history(site, sessions["captions"], within=15) == 1
    finally:
        proxy.stop()


# --- HTML in titles and captions, in a real browser ----------------------------------------------

XSS_TITLE = '<img src=x onerror="window.injected=1">Keynote</h1><script>window.injected=2</script>'
XSS_STORED = '<img src=x onerror="window.injected=3"> & <b>stored</b>'
XSS_LIVE = '<script>window.injected=4</script><svg onload="window.injected=5"> live'
# Nothing listens on port 9: the IVS SDK fails at once and the page goes on without it.
NO_SDK = "http://127.0.0.1:9/amazon-ivs-player.min.js"


async def test_html_in_a_title_or_a_caption_shows_as_text_in_a_real_browser(single_site):
    chromium = os.environ.get("CHROMIUM") or require_program("chromium")
    from playwright.async_api import async_playwright

    async with DeepgramDouble(DEEPGRAM_KEY, phrases=[XSS_LIVE]) as dg:
        site = single_site(speech_url=dg.url, IVS_PLAYER_SCRIPT_URL=NO_SDK)
        stream = site.create_stream(STREAM_URL, slug="xss", title=XSS_TITLE)
        site.django(_STORE_CAPTION, slug="xss", text=XSS_STORED)  # comes with the history
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
            )
            page = await browser.new_page()
            await page.goto(f"{site.url}/enter/")
            await page.fill("#id_code", stream.viewer_code)
            async with page.expect_response(lambda r: r.url.endswith("/watch/xss/")) as watch:
                await page.click("button[type=submit]")
            policy = (await watch.value).headers["content-security-policy"]
            await page.wait_for_function(
                "() => document.querySelectorAll('#transcript-list li').length === 1"
            )
            captioner, status = await open_captioner(
                site.url, "xss", session_for(site.url, stream.captioner_code)
            )
            assert status["state"] == "live"
            await say(captioner, 1, seed=110)
            await page.wait_for_function(
                "() => document.querySelectorAll('#transcript-list li').length === 2",
                timeout=15_000,
            )
            await stop_captioner(captioner)

            assert await page.locator("h1").first.text_content() == XSS_TITLE
            assert (await page.title()).startswith(XSS_TITLE)
            texts = await page.locator("#transcript-list .transcript-text").all_text_contents()
            assert texts == [XSS_STORED, XSS_LIVE]
            made = await page.evaluate(
                "() => document.querySelectorAll('img, b, script:not([src]):not([type]), "
                "h1 *, #transcript-list .transcript-text *, #caption-final *').length"
            )
            assert made == 0  # no element was made from any of it...
            assert await page.evaluate("() => window.injected") is None  # ...and nothing ran
            await browser.close()
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
