"""The gate under attack, through real Daphne processes over real sockets: code guessing all at
once, admin password guessing, cross-site websocket handshakes, stream-name probing, look-alike
codes and oversized posts.

Addresses other than 127.0.0.1 appear only in ``X-Forwarded-For`` headers (with
``TRUSTED_PROXY_COUNT=1``, as behind one reverse proxy): every request goes to the local site.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import re
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.live_site import LiveSite, enter, session_for
from tests.multiprocess.conftest import PUBSUB

ADMIN = "boss"
ADMIN_PASSWORD = "correct-horse-battery-staple-42"
_CREATE_ADMIN = """
from django.contrib.auth.models import User
User.objects.create_superuser(params["name"], "boss@example.com", params["password"])
"""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """One visitor with its own cookies; ``forwarded_for`` is the address a trusted proxy
    would report for it (only meaningful with ``TRUSTED_PROXY_COUNT=1``)."""

    def __init__(self, site_url: str, forwarded_for: str | None = None) -> None:
        self.site_url = site_url
        self.forwarded_for = forwarded_for
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPCookieProcessor(self.jar),
            _NoRedirect,
        )
        self.token = ""

    def request(
        self, path: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        sent = dict(headers or {})
        if self.forwarded_for:
            sent["X-Forwarded-For"] = self.forwarded_for
        request = urllib.request.Request(f"{self.site_url}{path}", data=data, headers=sent)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def load_form(self, path: str) -> None:
        """GET a page with a form: the CSRF cookie and token a real browser would hold."""
        status, _, body = self.request(path)
        assert status == 200, (path, status)
        self.token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)[1].decode()

    def post(self, path: str, **fields: str) -> tuple[int, dict[str, str], bytes]:
        data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": self.token}).encode()
        return self.request(path, data, {"Referer": f"{self.site_url}{path}"})

    @property
    def session(self) -> str | None:
        return next((c.value for c in self.jar if c.name == "sessionid"), None)


def all_at_once(calls: list, *, workers: int | None = None) -> list:
    """Run the callables in threads released together by a barrier; their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=workers or len(calls)) as pool:
        return list(pool.map(run, calls))


def wrong_code_attempts(site_url: str, count: int, *, prefix: str = "WRONG") -> list:
    """``count`` visitors, each with a loaded entry form, ready to post a wrong code."""
    attempts = []
    for n in range(count):
        browser = Browser(site_url)
        browser.load_form("/enter/")
        attempts.append(lambda b=browser, n=n: b.post("/enter/", code=f"{prefix}{n:04d}")[0])
    return attempts


# --- Guessing codes ------------------------------------------------------------------------------


def test_100_simultaneous_wrong_codes_from_one_ip_check_at_most_the_limit(single_site):
    site = single_site(GATE_RATE_LIMIT_PER_IP="20")
    statuses = Counter(all_at_once(wrong_code_attempts(site.url, 100)))
    # 200: the code was checked (and refused); 429: refused unchecked, with nothing learnt.
    assert statuses == {200: 20, 429: 80}
    assert enter(site.url, single_site.stream.viewer_code)[0] == 429  # even the right code


def test_the_limit_holds_across_two_processes(cluster):
    a, b = cluster(PUBSUB, GATE_RATE_LIMIT_PER_IP="20")
    attempts = wrong_code_attempts(a.url, 100, prefix="A") + wrong_code_attempts(b.url, 100)
    statuses = Counter(all_at_once(attempts, workers=200))
    assert statuses == {200: 20, 429: 180}
    assert enter(b.url, cluster.stream.viewer_code)[0] == 429


def test_successful_entries_never_count_against_an_address(single_site):
    """A venue behind one NAT address: many people entering the right code, a few typos."""
    site = single_site(GATE_RATE_LIMIT_PER_IP="5", TRUSTED_PROXY_COUNT="1")
    venue = "203.0.113.80"

    def attempt(code: str) -> int:
        browser = Browser(site.url, forwarded_for=venue)
        browser.load_form("/enter/")
        return browser.post("/enter/", code=code)[0]

    code = single_site.stream.viewer_code
    assert [attempt(code) for _ in range(30)] == [302] * 30
    assert [attempt(f"TYPO{n}") for n in range(6)] == [200] * 5 + [429]
    assert attempt(code) == 429  # five failures: the address is limited now
    other = Browser(site.url, forwarded_for="203.0.113.81")
    other.load_form("/enter/")
    assert other.post("/enter/", code=code)[0] == 302


def test_a_limited_answer_says_when_to_retry(single_site):
    site = single_site(GATE_RATE_LIMIT_PER_IP="1")
    assert all_at_once(wrong_code_attempts(site.url, 1)) == [200]
    browser = Browser(site.url)
    browser.load_form("/enter/")
    status, headers, body = browser.post("/enter/", code="WRONG")
    assert status == 429
    assert int(headers["Retry-After"]) > 0
    assert b"Too many attempts" in body


# --- Admin password guessing ---------------------------------------------------------------------


def admin_login(site_url: str, password: str, *, name: str = ADMIN, ip: str | None = None):
    browser = Browser(site_url, forwarded_for=ip)
    browser.load_form("/admin/login/")
    return browser.post("/admin/login/", username=name, password=password, next="/admin/")


def test_the_right_admin_password_is_refused_after_the_limit_of_wrong_ones(single_site):
    site = single_site(ADMIN_LOGIN_FAILURE_LIMIT="5", TRUSTED_PROXY_COUNT="1")
    site.django(_CREATE_ADMIN, name=ADMIN, password=ADMIN_PASSWORD)
    attacker, admin_desk = "198.51.100.66", "198.51.100.7"
    assert admin_login(site.url, ADMIN_PASSWORD, ip=admin_desk)[0] == 302  # it is the password

    statuses = [admin_login(site.url, f"guess-{n}", ip=attacker)[0] for n in range(8)]
    assert statuses == [200] * 4 + [429] * 4

    status, headers, body = admin_login(site.url, ADMIN_PASSWORD, ip=attacker)
    assert status == 429
    assert b"Sign-in blocked" in body
    assert b"Too many wrong passwords" in body
    assert int(headers["Retry-After"]) == 15 * 60
    # Per user name too: the right password from another address is refused for this name...
    assert admin_login(site.url, ADMIN_PASSWORD, ip=admin_desk)[0] == 429
    # ...and per address: the attacker's address is refused whatever name it tries.
    site.django(_CREATE_ADMIN, name="deputy", password=ADMIN_PASSWORD)
    assert admin_login(site.url, ADMIN_PASSWORD, name="deputy", ip=attacker)[0] == 429
    assert admin_login(site.url, ADMIN_PASSWORD, name="deputy", ip=admin_desk)[0] == 302


def test_admin_lockouts_are_shared_by_every_process_and_an_operator_can_lift_them(cluster):
    a, b = cluster(PUBSUB, ADMIN_LOGIN_FAILURE_LIMIT="4")
    a.django(_CREATE_ADMIN, name=ADMIN, password=ADMIN_PASSWORD)
    statuses = [admin_login(site.url, f"guess-{n}")[0] for n, site in enumerate([a, b, a, b])]
    assert statuses == [200, 200, 200, 429]
    assert admin_login(a.url, ADMIN_PASSWORD)[0] == 429
    assert admin_login(b.url, ADMIN_PASSWORD)[0] == 429

    # The README's way out: reset the user name and the address (both were counted).
    assert "removed" in a.manage("axes_reset_username", ADMIN)
    assert admin_login(b.url, ADMIN_PASSWORD)[0] == 429  # the address is still blocked
    a.manage("axes_reset_ip", "127.0.0.1")
    assert admin_login(b.url, ADMIN_PASSWORD)[0] == 302


# --- Cross-site websocket hijacking --------------------------------------------------------------


async def handshake(site: LiveSite, session: str, origin: str | None, **headers: str) -> int:
    """The HTTP status of a captions-socket handshake (101 when accepted)."""
    url = site.url.replace("http://", "ws://", 1) + "/ws/watch/talk/captions/"
    sent = {"Cookie": f"sessionid={session}", **headers}
    if origin is not None:
        sent["Origin"] = origin
    try:
        async with connect(url, additional_headers=sent, proxy=None, open_timeout=10) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "history"
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


def raw_handshake(site: LiveSite, session: str, *, host: str, origin: str) -> int:
    """A handshake written by hand, for a ``Host`` header no websocket client lets us set."""
    request = (
        "GET /ws/watch/talk/captions/ HTTP/1.1\r\n"
        f"Host: {host}\r\nOrigin: {origin}\r\nCookie: sessionid={session}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    address = urllib.parse.urlsplit(site.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(request.encode())
        status_line = sock.makefile("rb").readline()
    return int(status_line.split()[1])


async def test_websocket_handshakes_from_any_other_origin_are_refused(single_site):
    site = single_site()
    session = session_for(site.url, single_site.stream.viewer_code)
    own = site.url  # http://127.0.0.1:PORT
    port = int(own.rsplit(":", 1)[1])
    assert await handshake(site, session, own) == 101
    refused = {
        "wrong scheme": f"https://127.0.0.1:{port}",
        "wrong port": f"http://127.0.0.1:{port + 1}",
        "default port": "http://127.0.0.1",
        "another allowed host": f"http://localhost:{port}",
        "foreign": "https://evil.example",
        "foreign on our port": f"http://evil.example:{port}",
        "null": "null",
        "not an origin": f"{own}/watch/talk/",
        "missing": None,
    }
    statuses = {name: await handshake(site, session, origin) for name, origin in refused.items()}
    assert statuses == dict.fromkeys(refused, 403)
    # The Host header decides what "own" means, and it must be one of ALLOWED_HOSTS.
    assert raw_handshake(site, session, host="evil.example", origin="http://evil.example") == 403
    assert raw_handshake(site, session, host=f"127.0.0.1:{port}", origin=own) == 101
    assert await handshake(site, session, own) == 101  # still fine afterwards


async def test_behind_a_tls_proxy_only_the_https_origin_or_a_trusted_one_is_accepted(single_site):
    site = single_site(BEHIND_TLS_PROXY="true", CSRF_TRUSTED_ORIGINS="https://live.example.com")
    session = session_for(site.url, single_site.stream.viewer_code)
    host = site.url.removeprefix("http://")
    via_tls = {"X-Forwarded-Proto": "https"}
    assert await handshake(site, session, f"https://{host}", **via_tls) == 101
    assert await handshake(site, session, f"http://{host}", **via_tls) == 403
    assert await handshake(site, session, f"https://{host}") == 403  # no proxy said TLS
    assert await handshake(site, session, "https://live.example.com") == 101  # trusted
    assert await handshake(site, session, "http://live.example.com") == 403


# --- Stream-name probing -------------------------------------------------------------------------


def _answer(site: LiveSite, path: str, slug: str, session: str | None = None):
    """Status, the header names (less the date) and body, with the slug taken out."""
    cookie = {"Cookie": f"sessionid={session}"} if session else {}
    status, headers, body = Browser(site.url).request(path.format(slug=slug), headers=cookie)
    location = headers.get("Location", "").replace(slug, "SLUG")
    names = sorted(name.lower() for name in headers if name.lower() != "date")
    return status, location, names, body.replace(slug.encode(), b"SLUG")


PROBED_PATHS = [
    "/watch/{slug}/",
    "/watch/{slug}/transcript.vtt",
    "/watch/{slug}/transcript.srt",
    "/watch/{slug}/transcript.txt",
]


def test_unknown_streams_answer_exactly_like_known_ones(single_site):
    site = single_site()
    site.create_stream("https://example.live-video.net/api/video/v1/b.m3u8", slug="board")
    session = session_for(site.url, single_site.stream.viewer_code)  # a grant for "talk" only
    known, unknown = "board", "bored"
    for path in PROBED_PATHS:
        anonymous = _answer(site, path, unknown)
        assert anonymous == _answer(site, path, known), path
        assert _answer(site, path, unknown, session) == _answer(site, path, known, session), path
        assert anonymous[0] == (302 if path.endswith("/") else 403), path
    assert _answer(site, "/watch/{slug}/", unknown)[1] == "/enter/?next=%2Fwatch%2FSLUG%2F"


# --- Look-alike codes ----------------------------------------------------------------------------


LOOK_ALIKES = {
    "DIGI-TAL-KEY": "d\u0131g\u0131-tal-key",  # Turkish dotless i, str.upper gives "I"
    "STRASSE-KEY": "stra\u00dfe-key",  # sharp s, str.upper gives "SS"
    "FINE-CODE": "\ufb01ne-code",  # the "fi" ligature, str.upper gives "FI"
}
_CREATE_CODES = """
from gate.models import AccessCode
from livestream.models import Stream
for code in params["codes"]:
    AccessCode.objects.create(stream=Stream.objects.get(slug="talk"), code=code)
"""


def test_a_code_typed_with_non_ascii_look_alikes_is_refused(single_site):
    site = single_site()
    site.django(_CREATE_CODES, codes=list(LOOK_ALIKES))
    for code, typed in LOOK_ALIKES.items():
        assert typed.upper().replace("-", "") == code.replace("-", "")  # what str.upper does
        assert enter(site.url, typed)[0] == 200, typed  # the form again, with the generic error
        assert enter(site.url, code.lower())[0] == 302  # the real code, in any ASCII case


# --- Oversized posts -----------------------------------------------------------------------------


def test_an_oversized_post_is_a_400_and_one_warning_line_without_a_traceback(single_site):
    site = single_site()
    browser = Browser(site.url)
    browser.load_form("/enter/")
    status, _, _ = browser.post("/enter/", code="X" * (3 * 1024 * 1024))  # over the 2.5 MiB cap
    assert status == 400
    # Another suspicious request Django refuses: a Host header not in ALLOWED_HOSTS.
    assert browser.request("/enter/", headers={"Host": "evil.example"})[0] == 400
    assert browser.request("/enter/")[0] == 200  # the process is fine

    log = site.log()
    assert "Traceback" not in log
    warnings = [line for line in log.splitlines() if "django.security." in line]
    assert len(warnings) == 2, log
    too_big, bad_host = warnings
    assert "WARNING django.security.RequestDataTooBig:" in too_big
    assert "(POST /enter/)" in too_big
    assert "WARNING django.security.DisallowedHost:" in bad_host
