"""Rows of docs/security.md about a revoked or expired code still in a session, through a real
Daphne process: revoking codes in the admin ends their pages and open sockets, and a code that
expires closes its open sockets.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from datetime import UTC, datetime, timedelta

from websockets.asyncio.client import connect

from tests.hostile.probes import captioner_until_live, handshake_status, signed_in_admin
from tests.hostile.test_gate import Browser
from tests.live_site import LiveSite, session_for
from tests.multiprocess.clients import (
    closed_with,
    headers,
    open_captioner,
    stop_captioner,
    ws_url,
)

REVOKED = "Your access code no longer works."
_CODE_IDS = """
from gate.models import AccessCode
result = list(AccessCode.objects.filter(code__in=params["codes"]).values_list("pk", flat=True))
"""


async def open_viewer_socket(site: LiveSite, session: str):
    ws = await connect(
        ws_url(site.url, "/ws/watch/talk/captions/"), additional_headers=headers(site.url, session)
    )
    assert json.loads(await ws.recv())["type"] == "history"
    return ws


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
