"""Rows of docs/security.md about entering a code, tried through a real Daphne process as a user
or an attacker meets them: wrong, expired, revoked and used-up codes, session fixation, and an
open redirect via ``?next=``.
"""

from __future__ import annotations

import html
import http.cookiejar
import re
import urllib.parse
from datetime import UTC, datetime, timedelta

from tests.hostile.probes import SETUP, handshake_status
from tests.hostile.test_gate import Browser
from tests.live_site import session_for
from tests.multiprocess.clients import open_captioner, stop_captioner

# --- Wrong, expired, revoked and used-up codes ---------------------------------------------------

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
