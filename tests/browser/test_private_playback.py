"""Private streams in a real Chromium, against the IVS stand-in (ivs_standin): a live HLS
stream that, like IVS, plays a private channel only with a valid playback token, and a control
API that the site reaches through boto3 (AWS_ENDPOINT_URL_IVS, SigV4) to revoke viewers."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from ivs import keys
from ivs_standin import IvsStandin
from tests.browser.page_steps import enter_code, video_time, wait_for_player_state

ARN = "arn:aws:ivs:us-west-2:123456789012:channel/PrivCh4nnel1"
OTHER_ARN = "arn:aws:ivs:us-west-2:123456789012:channel/OtherCh4nnel"
ENGINES = [
    pytest.param("ivs", "local", id="ivs"),
    pytest.param("hls.js", "http://127.0.0.1:9/amazon-ivs-player.min.js", id="hls.js"),
]


def wait_until(condition: Callable[[], object], timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what or condition}")
        time.sleep(0.1)


def wait_for_progress(page, seconds: float = 1.0, timeout_ms: float = 20_000) -> None:
    """Until the video has played ``seconds`` more (its own clock, not the test's)."""
    start = video_time(page)
    page.wait_for_function(
        "target => document.getElementById('video').currentTime >= target",
        arg=start + seconds,
        timeout=timeout_ms,
    )


def get(url: str, origin: str = "") -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Origin": origin} if origin else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("x-standin-refused", "")


def token_in(path: str) -> str:
    return parse_qs(urlsplit(path).query).get("token", [""])[0]


@pytest.fixture
def playback_key(tmp_path: Path):
    key = keys.generate()
    path = tmp_path / "playback.pem"
    path.write_bytes(keys.private_pem(key))
    path.chmod(0o600)
    return key, path


@pytest.fixture
def ivs(hls_stream: str, hls_server, playback_key) -> Iterator[IvsStandin]:
    key, _ = playback_key
    with IvsStandin() as standin:
        standin.import_key(keys.public_pem(key))
        recording = hls_server.directory / "testsrc"
        standin.add_channel(ARN, recording)
        standin.add_channel(OTHER_ARN, recording)
        yield standin


@pytest.fixture
def private_site(live_server_factory, ivs, playback_key, request):
    """The site with the playback key and boto3 pointed at the stand-in; returns a factory."""
    _, key_path = playback_key

    def start(**env: str):
        return live_server_factory(
            IVS_PLAYBACK_PRIVATE_KEY=f"file:{key_path}",
            IVS_REVOCATION_BACKOFF="0.2",
            GATE_SOCKET_RECHECK="0.5",
            **ivs.aws_env(),
            **env,
        )

    return start


def private_stream(site, ivs: IvsStandin, **codes: str):
    return site.create_stream(
        ivs.playback_url(ARN), is_private=True, channel_arn=ARN, title="Board meeting", **codes
    )


def sessions_started(ivs: IvsStandin) -> list:
    return [r for r in ivs.requests if r.path.startswith("/api/video/") and r.status == 200]


@pytest.mark.parametrize(("engine", "sdk"), ENGINES)
def test_a_code_holder_plays_the_private_stream(engine, sdk, private_site, ivs, page, page_log):
    site = private_site(IVS_PLAYER_SCRIPT_URL=sdk)
    stream = private_stream(site, ivs, viewer_code="BOARDVIEW1")

    enter_code(page, site, stream.viewer_code)
    wait_for_player_state(page, "playing")
    wait_for_progress(page)

    assert page.evaluate("document.body.dataset.playerEngine") == engine
    started = sessions_started(ivs)
    assert len(started) == 1
    assert started[0].origin == site.url  # the browser's Origin, matching the token's
    assert len(started[0].viewer_id) == 32
    assert page_log.page_errors == []
    assert page_log.csp_violations() == []


def test_the_playback_url_without_a_good_token_gets_403(ivs, playback_key):
    key, _ = playback_key
    url = ivs.playback_url(ARN)

    def signed(signer=key, **claims) -> str:
        payload = {
            "aws:channel-arn": ARN,
            "aws:access-control-allow-origin": "http://127.0.0.1",
            "aws:viewer-id": "v1",
            "aws:viewer-session-version": 1,
            "exp": int(time.time()) + 60,
            **claims,
        }
        return f"{url}?token={jwt.encode(payload, signer, algorithm='ES384')}"

    assert get(signed())[0] == 200  # the control: a good token plays
    assert get(url) == (403, "no token")
    assert get(signed(exp=int(time.time()) - 60)) == (403, "token expired")
    assert get(signed(**{"aws:channel-arn": OTHER_ARN})) == (403, "token for another channel")
    assert get(signed(signer=keys.generate())) == (
        403,
        "signature matches no imported playback key",
    )


@pytest.mark.parametrize(("engine", "sdk"), ENGINES)
def test_revoking_a_code_in_the_admin_stops_its_viewers_video_and_no_one_elses(
    engine, sdk, private_site, ivs, new_page, screenshot
):
    site = private_site(IVS_PLAYER_SCRIPT_URL=sdk)
    private_stream(site, ivs, viewer_code="REVOKEDA11", captioner_code="CAPTION999")
    site.create_code("demo", "KEEPWATCH1")
    revoked_viewer, other_viewer, admin = new_page(), new_page(), new_page()
    for viewer, code in ((revoked_viewer, "REVOKEDA11"), (other_viewer, "KEEPWATCH1")):
        enter_code(viewer, site, code)
        wait_for_player_state(viewer, "playing")
    grants = site.django(
        "from ivs.models import PlaybackGrant\n"
        "result = {g.code.code: [g.viewer_id, g.code_id] for g in PlaybackGrant.objects.all()}"
    )
    revoked_id, code_pk = grants["REVOKEDA11"]
    kept_id, _ = grants["KEEPWATCH1"]
    revoked_session = next(s for s in ivs.state.sessions.values() if s.viewer_id == revoked_id)

    site.django(
        "from django.contrib.auth.models import User\n"
        "User.objects.create_superuser('admin', 'admin@example.com', 'browser-test-pw-1')"
    )
    admin.goto(f"{site.url}/admin/login/")
    admin.get_by_label("Username").fill("admin")
    admin.get_by_label("Password").fill("browser-test-pw-1")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Log in").click()
    admin.goto(f"{site.url}/admin/gate/accesscode/")
    admin.locator(f"input[name=_selected_action][value='{code_pk}']").check()
    admin.select_option("select[name=action]", "revoke")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Go").click()
    assert "Revoked 1 code(s)." in admin.content()

    # The page hears it over the captions socket (4403) and stops the player.
    wait_for_player_state(revoked_viewer, "ended")
    message = revoked_viewer.locator("#player-state-text").inner_text()
    assert message.startswith("Your access to this stream has ended.")
    assert revoked_viewer.evaluate("document.getElementById('video').paused")
    screenshot(revoked_viewer, f"private-access-ended-{engine}")

    # IVS is told, outside the request: the revoked viewer's session is cut off at the source.
    wait_until(lambda: (ARN, revoked_id) in ivs.revoked, what="the revocation at IVS")
    variant = f"{ivs.playback_base}/session/{revoked_session.id}/live.m3u8"
    assert get(variant) == (403, "viewer session revoked")
    assert (ARN, kept_id) not in ivs.revoked
    state = site.django(
        "from ivs.models import PlaybackGrant\n"
        f"result = PlaybackGrant.objects.get(viewer_id={revoked_id!r}).revocation"
    )
    assert state == "done"
    admin.goto(f"{site.url}/admin/ivs/playbackgrant/?revocation__exact=done")
    assert revoked_id in admin.content()

    # Another code's viewer keeps watching.
    wait_for_progress(other_viewer, 2)
    assert other_viewer.evaluate("document.body.dataset.playerState") == "playing"


@pytest.mark.parametrize(("engine", "sdk"), ENGINES)
def test_a_viewer_whose_token_expired_keeps_playing_through_a_forced_reload(
    engine, sdk, private_site, ivs, page, page_log
):
    site = private_site(IVS_PLAYER_SCRIPT_URL=sdk, IVS_PLAYBACK_TOKEN_SECONDS="2")
    stream = private_stream(site, ivs, viewer_code="LONGWATCH1")
    enter_code(page, site, stream.viewer_code)
    wait_for_player_state(page, "playing")
    first = sessions_started(ivs)[0]
    expired_at = jwt.decode(token_in(first.path), options={"verify_signature": False})["exp"]

    # IVS checks a token when playback starts only: the video plays on past its exp.
    wait_until(lambda: time.time() > expired_at + 1, what="the first token to expire")
    wait_for_progress(page, 1)
    assert page.evaluate("window.livePlayback.stale")

    # The broadcast restarts: every player must load the channel again.
    ivs.end_sessions(ARN)
    page.wait_for_function("() => window.livePlayback.fetches >= 1", timeout=30_000)
    wait_for_player_state(page, "playing", timeout_ms=30_000)
    wait_for_progress(page, 1)

    started = sessions_started(ivs)
    assert len(started) >= 2
    assert token_in(started[-1].path) != token_in(first.path)
    assert started[-1].viewer_id == first.viewer_id  # the same grant, a fresh token
    refused = [r for r in ivs.requests if r.path.startswith("/api/video/") and r.status != 200]
    assert refused == []  # the stale token was never offered again
    assert page_log.page_errors == []
